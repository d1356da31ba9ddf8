"""``%findcnn diff <a> <b> [--tolerance T] [--mode auto|files|memory]``: what changed between two models
(:func:`fmc_jupyter.modeldiff.diff`)."""

from __future__ import annotations

import argparse
from typing import Any

from . import Command, Context, unquote

__all__ = ["COMMANDS"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=unquote, help="the model before: name, name:vN, name@alias, id or file path "
                                                "(or a variable holding a model record)")
    parser.add_argument("b", type=unquote, help="the model after")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="a weight moved when |b - a| > this (1e-6)")
    parser.add_argument("--mode", choices=["auto", "files", "memory"], default="auto",
                        help="auto: stored .keras files read layer by layer; files / memory force one way")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    from ..modeldiff import diff

    return diff(ctx.model_ref(args.a), ctx.model_ref(args.b), registry=ctx.registry, tolerance=args.tolerance,
                mode=args.mode)


COMMANDS = [Command("diff", "what changed between two models: layers, weights, metadata", add_arguments, run)]
