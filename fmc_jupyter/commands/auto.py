"""``%findcnn auto <x> <y> [--models <query>] [--k 4] [--epochs 10]``: rank, short trials with successive halving,
then fine-tune the winner (:func:`fmc_jupyter.autopilot.auto`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, auto_or, query_text, whole_number

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("x", help="notebook variable with images (N, H, W[, C]), or a registry dataset name")
    parser.add_argument("y", nargs="?", default=None, help="notebook variable with labels (N,)")
    parser.add_argument("--models", nargs="+", default=None,
                        help="query choosing the models to rank (in %%%%findcnn auto ... --models, the cell body)")
    parser.add_argument("--k", type=whole_number(), default=4,
                        help="how many top-ranked models get trials (default 4)")
    parser.add_argument("--per-class", type=whole_number(), default=20,
                        help="images per class for the ranking (default 20)")
    parser.add_argument("--trial-epochs", type=whole_number(), default=2,
                        help="epochs of the first trial round (default 2)")
    parser.add_argument("--epochs", type=whole_number(), default=10,
                        help="epochs of the winner's fine-tune (default 10)")
    parser.add_argument("--unfreeze", type=auto_or(whole_number(), word="all"), default=0,
                        help="for the winner's fine-tune: 0 = head only (default), k top backbone layers, 'all'")
    parser.add_argument("--seed", type=whole_number(), default=0, help="random seed")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..autopilot import auto

    x, y = ctx.images_and_labels(args.x, args.y)
    options = {"models": query_text(args.models)} if args.models else {}
    return auto(x, y, registry=ctx.registry, k=args.k, per_class=args.per_class, trial_epochs=args.trial_epochs,
                epochs=args.epochs, unfreeze=args.unfreeze, seed=args.seed, **options)


COMMANDS = [Command("auto", "find and fine-tune a model for your images in one step (rank, trials, train)",
                    add_arguments, run)]
