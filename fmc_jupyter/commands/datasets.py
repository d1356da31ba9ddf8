"""``%findcnn datasets`` (``Registry.datasets``) and ``%findcnn dataset add <x> <y> --name N`` (``Registry.add_dataset``)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run_list(args: argparse.Namespace, ctx: Context) -> Any:
    return ctx.registry.datasets()


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["add"], help="add: store x and y as a public, immutable dataset")
    parser.add_argument("x", help="notebook variable holding images (N, H, W[, C])")
    parser.add_argument("y", help="notebook variable holding labels (N,)")
    parser.add_argument("--name", required=True, type=unquote, help="dataset name")
    parser.add_argument("--class-names", default=None,
                        help="notebook variable holding the class names (for integer labels)")
    parser.add_argument("--description", default="", type=unquote, help="free text")


def run_dataset(args: argparse.Namespace, ctx: Context) -> Any:
    x, y = ctx.value(args.x), ctx.value(args.y)
    class_names = ctx.value(args.class_names) if args.class_names else None
    return ctx.registry.add_dataset(x, y, args.name, class_names, description=args.description,
                                    source="notebook")


COMMANDS = [
    Command("datasets", "datasets in the registry", add_list_arguments, run_list),
    Command("dataset", "dataset add <x> <y> --name N: store a labelled image set", add_dataset_arguments, run_dataset),
]
