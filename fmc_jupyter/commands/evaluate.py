"""``%findcnn evaluate <model> <x> <y>``: accuracy of a model on labelled images
(:func:`fmc_jupyter.evaluation.evaluate`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="name, name:vN, name@alias or id (or a variable holding a record)")
    parser.add_argument("x", help="notebook variable with images (N, H, W[, C]), or a registry dataset name")
    parser.add_argument("y", nargs="?", default=None, help="notebook variable with labels (N,)")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..evaluation import evaluate

    x, y = ctx.images_and_labels(args.x, args.y)
    return evaluate(ctx.model_ref(args.model), x, y, registry=ctx.registry)


COMMANDS = [Command("evaluate", "evaluate a model on labelled images (recorded in the leaderboard)", add_arguments, run)]
