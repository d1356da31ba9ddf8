"""``%findcnn search <query> [--order -top1] [--limit N]``: models matching a query (``Registry.search``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..display import ModelTable
from . import Command, Context, MAX_ID, query_text, whole_number

__all__ = ["COMMANDS"]

QUERY_HINT = ("query: field op value joined by and/or/not and parentheses, e.g. "
              "domain=natural and params<5M and (top1>=75% or family=mobilenet); ops = != < <= > >= ~ (contains); "
              "units 5M, 300K, 100MB, 75%, 224px, 20ms; bare words search names, descriptions and tags")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="*", help="the search query (in %%%%findcnn search, the cell body)")
    parser.add_argument("--order", "--order-by", dest="order", default="-top1",
                        help="comma-separated fields, '-' for descending (default: -top1)")
    parser.add_argument("--limit", type=whole_number(0, MAX_ID), default=50,
                        help="at most this many rows (default 50; 0 = all)")
    parser.add_argument("--offset", type=whole_number(0, MAX_ID), default=0, help="skip this many rows first")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    query = query_text(args.query)
    # a DataFrame with the exact values, displayed humanised (4.3M params, 71.8%) with the key columns first
    return ModelTable(ctx.registry.search(query, order_by=args.order, limit=args.limit or None, offset=args.offset))


COMMANDS = [Command("search", "models matching a query, as a table", add_arguments, run,
                    dash_values=("--order", "--order-by"), description=QUERY_HINT)]
