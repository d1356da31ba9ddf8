"""``%findcnn registry [<path> | hub | <url> | <variable>]``: which registry the magics use
(:func:`fmc_jupyter.open_registry`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", type=unquote, default=None,
                        help="a registry file, 'hub' (the team's registry service), a service URL, or a notebook "
                             "variable holding an open registry; left out: show the registry in use")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    if args.target is None:
        return ctx.registry
    value = ctx.namespace.get(args.target) if args.target.isidentifier() else None
    if value is not None and all(hasattr(value, m) for m in ("search", "model", "datasets")):
        registry = value
    else:
        from ..registry import open_registry

        registry = open_registry(args.target)
    if ctx.use_registry is not None:
        ctx.use_registry(registry)
    return registry


COMMANDS = [Command("registry", "show or choose the registry the magics use", add_arguments, run)]
