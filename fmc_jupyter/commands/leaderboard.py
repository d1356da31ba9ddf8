"""``%findcnn leaderboard <dataset>``: every model you can see that was evaluated on a dataset, best first
(``Registry.leaderboard``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..display import ModelTable
from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=unquote, help="dataset name or id (%%findcnn datasets lists them)")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    return ModelTable(ctx.registry.leaderboard(args.dataset))


COMMANDS = [Command("leaderboard", "models evaluated on a dataset, best accuracy first", add_arguments, run)]
