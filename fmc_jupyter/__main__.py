"""``python -m fmc_jupyter quickstart``: the main job on the embedded default registry."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def quickstart(args: argparse.Namespace) -> int:
    """Open the default registry (seeding it on first use), search it and show the top model."""
    import pandas as pd

    from . import open_registry

    reg = open_registry(args.registry)
    print(f"Registry: {reg.path}  ({reg.count()} models visible to {reg.user})")
    query = args.query
    hits = reg.search(query, order_by="-top1", limit=10)
    print(f"\nsearch({query!r}, order_by='-top1'):")
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(hits[["name", "family", "input_size", "params", "size_mb", "top1", "cpu_ms"]].to_string(index=False))
    if len(hits):
        print("\nTop model:", reg.model(int(hits.iloc[0]["id"])))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fmc", description="Find My CNN command line")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", help="search the catalog of the default registry")
    q.add_argument("--registry", default=None, help="registry file (default: $FMC_REGISTRY or the Jupyter data dir)")
    q.add_argument("--query", default="params<10M and top1>=70%", help="search query")
    q.set_defaults(func=quickstart)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
