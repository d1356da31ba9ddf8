"""``%findcnn ui``: the ipywidgets model browser (``fmc_jupyter.widgets.ui``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, query_text

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="*", help="initial query in the search box")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..widgets import ui

    return ui(ctx.registry, query=query_text(args.query), namespace=ctx.namespace)


COMMANDS = [Command("ui", "the interactive model browser (widgets)", add_arguments, run)]
