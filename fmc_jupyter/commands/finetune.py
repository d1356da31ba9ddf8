"""``%findcnn finetune <model> <x> <y> [--epochs N] [--lr auto] [--batch-size auto] [--unfreeze k] [--checkpoints E ...]``
(:func:`fmc_jupyter.finetuning.finetune`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, auto_or, real_number, unquote, whole_number

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="name, name:vN, name@alias or id (or a variable holding a "
                                                    "model record or a Ranking: its best model)")
    parser.add_argument("x", help="notebook variable with images (N, H, W[, C]), or a registry dataset name")
    parser.add_argument("y", nargs="?", default=None, help="notebook variable with labels (N,)")
    parser.add_argument("--epochs", type=whole_number(), default=None,
                        help="epochs (default: 10 head-only, 5 unfrozen)")
    parser.add_argument("--lr", type=auto_or(real_number()), default=None,
                        help="learning rate, or 'auto' for a learning-rate range test")
    parser.add_argument("--batch-size", type=auto_or(whole_number()), default=None,
                        help="batch size, or 'auto' (start large, halve on out-of-memory)")
    parser.add_argument("--unfreeze", type=auto_or(whole_number(), word="all"), default=None,
                        help="0 = train the head only (default), k = also the top k backbone layers, 'all'")
    parser.add_argument("--augment", action="store_true", help="random flips, rotations, zooms and shifts")
    parser.add_argument("--validation-split", type=real_number(), default=0.2, help="stratified validation share (0.2)")
    parser.add_argument("--seed", type=whole_number(), default=0, help="random seed")
    parser.add_argument("--checkpoints", type=whole_number(), nargs="+", default=(), metavar="EPOCH",
                        help="also store the model after these epochs (counted from 1) as versions of their own")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..finetuning import finetune

    x, y = ctx.images_and_labels(args.x, args.y)
    return finetune(ctx.model_ref(args.model), x, y, epochs=args.epochs, registry=ctx.registry, lr=args.lr,
                    batch_size=args.batch_size, unfreeze=args.unfreeze, augment=args.augment,
                    validation_split=args.validation_split, seed=args.seed, checkpoints=args.checkpoints)


COMMANDS = [Command("finetune", "fine-tune a model on your images (a training run you can keep)", add_arguments, run)]
