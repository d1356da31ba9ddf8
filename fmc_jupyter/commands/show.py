"""``%findcnn show <model>``: one model's card (``Registry.model``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="name (latest version), name:vN, name@alias or id")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.registry.model(args.model)


COMMANDS = [Command("show", "a model's card", add_arguments, run)]
