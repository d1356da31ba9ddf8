"""``python -m fmc_jupyter quickstart``: the main job on the embedded default registry.

``python -m fmc_jupyter selfcheck``: check a live deployment (service, token, permissions, panel); see
:mod:`fmc_jupyter.selfcheck`.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def quickstart(args: argparse.Namespace) -> int:
    """Execute ``example_notebooks/quickstart.ipynb`` end to end in a real kernel (nbclient).

    Writes the executed notebook, its HTML rendering and the fine-tuning report into ``args.output``.
    The kernel uses the default registry (``$FMC_REGISTRY`` or the Jupyter data dir) unless
    ``--registry`` names another file.
    """
    from pathlib import Path

    from .errors import FmcError
    from .notebooks import example_notebooks_dir, execute_notebook

    env = {"FMC_REGISTRY": str(Path(args.registry).expanduser().resolve())} if args.registry else {}
    output = Path(args.output)
    try:
        notebook = example_notebooks_dir() / "quickstart.ipynb"
        print(f"executing {notebook} in a fresh kernel (output: {output.resolve()}) ...", flush=True)
        executed = execute_notebook(notebook, output, timeout=args.timeout, env=env)
    except FmcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"executed notebook: {executed}")
    for name in sorted(p.name for p in output.iterdir() if p.is_file() and p.name != Path(executed).name):
        print(f"                   {output.resolve() / name}")
    return 0


def migrate_registry(args: argparse.Namespace) -> int:
    """Copy the embedded registry SRC into the empty PostgreSQL database DST, then check counts and hashes."""
    from .errors import FmcError
    from .registry.postgres_migrate import migrate_registry as migrate

    try:
        report = migrate(args.src, args.dst, artifacts=args.artifacts)
    except FmcError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fmc", description="Find My CNN command line")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", help="run example_notebooks/quickstart.ipynb end to end in a real kernel")
    q.add_argument("--registry", default=None, help="registry file (default: $FMC_REGISTRY or the Jupyter data dir)")
    q.add_argument("--output", default="quickstart-output",
                   help="folder for the executed notebook, its HTML and the report (default: ./quickstart-output)")
    q.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run (default 1800)")
    q.set_defaults(func=quickstart)
    from . import selfcheck

    c = sub.add_parser("selfcheck", help="check a live deployment: registry service reachable, token and scopes, "
                                         "registry file permissions, panel wired to the service",
                       description=selfcheck.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    selfcheck.add_arguments(c)
    c.set_defaults(func=selfcheck.main)
    m = sub.add_parser("migrate-registry", help="copy a registry file into an empty PostgreSQL database, then check it",
                       description=migrate_registry.__doc__)
    m.add_argument("src", help="the registry file (or sqlite:///path)")
    m.add_argument("dst", help="postgresql://user:password@host:5432/database (an empty database)")
    m.add_argument("--artifacts", default=None,
                   help="the destination's artifact store: a shared folder or s3://bucket/prefix "
                        "(default $FMC_ARTIFACTS)")
    m.set_defaults(func=migrate_registry)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
