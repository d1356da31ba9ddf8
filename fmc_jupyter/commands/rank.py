"""``%findcnn rank <x> <y> [--models <query>] [--per-class N] [--budget 10min] [--methods ...]``: which models transfer best to
your images (:func:`fmc_jupyter.ranking.rank`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, auto_or, query_text, whole_number

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("x", help="notebook variable with images (N, H, W[, C]), or a registry dataset name")
    parser.add_argument("y", nargs="?", default=None, help="notebook variable with labels (N,)")
    parser.add_argument("--models", nargs="+", default=None,
                        help="query choosing the candidate models, e.g. 'params<10M and domain=natural' "
                             "(the library's default when left out; in %%%%findcnn rank ... --models, the cell body)")
    parser.add_argument("--per-class", type=auto_or(whole_number(), word="all"), default=20,
                        help="images per class in the ranked slice (default 20; 'all' for every image)")
    parser.add_argument("--budget", default=None,
                        help="time budget such as 10min or 90s: successive halving over slice sizes, more images "
                             "only for the leaders; shows every model's stage while it runs (column 'stage' says "
                             "how far each model got)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="transferability estimators, space or comma separated (default: the library's)")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..ranking import rank

    x, y = ctx.images_and_labels(args.x, args.y)
    options = {"models": query_text(args.models)} if args.models else {}
    if args.budget is not None:
        options["budget"] = args.budget
    methods = [m for part in args.methods for m in part.split(",") if m] if args.methods else None
    per_class = None if args.per_class == "all" else args.per_class
    return rank(x, y, registry=ctx.registry, per_class=per_class, methods=methods, **options)


COMMANDS = [Command("rank", "rank models by how well they should transfer to your images", add_arguments, run)]
