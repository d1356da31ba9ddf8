"""``%findcnn comment <model> <text...>``: comment on a model version (``Registry.add_comment``).

Whoever can see the version sees the comment (``%findcnn show``, the model browser, the side panel).
Quote text that holds an apostrophe (``"it's better"``), or put a long comment in the cell body:
``%%findcnn comment xray-net:v2`` and the text below it.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, query_text, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="name (latest version), name:vN, name@alias or id")
    parser.add_argument("text", nargs="+", help="the comment (the rest of the line, or the cell body)")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    """Add the comment; returns the version's comments, oldest first (the new one last)."""
    registry = ctx.registry
    record = registry.model(args.model)
    registry.add_comment(record.id, query_text(args.text))
    return registry.comments(record.id)


COMMANDS = [Command("comment", "comment on a model version (its card shows the comments)", add_arguments, run,
                    description="Quote text with an apostrophe, or write the comment in the %%findcnn cell body.")]
