"""``%findcnn publish <model>`` / ``unpublish <model>``: change a model's visibility (``Registry.publish``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="one of your models: name, name:vN, name@alias or id")


def run_publish(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.registry.publish(args.model)


def run_unpublish(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.registry.unpublish(args.model)


COMMANDS = [
    Command("publish", "make one of your models public", add_arguments, run_publish),
    Command("unpublish", "make one of your models private again", add_arguments, run_unpublish),
]
