"""``%findcnn runs [<model>] [--id N]``: training runs you can see (``Registry.runs``), or one run (``Registry.run``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, MAX_ID, unquote, whole_number

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", type=unquote, default=None, help="only runs of this model's line")
    parser.add_argument("--id", type=whole_number(0, MAX_ID), default=None, help="show one run, with its epochs")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    if args.id is not None:
        return ctx.registry.run(args.id)
    return ctx.registry.runs(args.model)


COMMANDS = [Command("runs", "training runs (all, or of one model; --id N for one run)", add_arguments, run)]
