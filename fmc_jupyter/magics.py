"""``%findcnn`` (line) and ``%%findcnn`` (cell) magics: the notebook skin over the library.

``%load_ext fmc_jupyter`` registers them. To load them in every kernel, add to
``~/.ipython/profile_default/ipython_config.py``::

    c.InteractiveShellApp.extensions = ["fmc_jupyter"]

Every subcommand parses its arguments, calls ONE library function and returns that function's result
object (a DataFrame, a model card, a Ranking, a TrainingRun ...), so the cell shows it and ``-o name``
stores it in the notebook namespace. Mistakes a user can make (unknown variable, bad query, unknown
model, bad arguments) come back as one short ``UsageError``, never a traceback and never ``SystemExit``.
"""

from __future__ import annotations

import argparse
import difflib
import keyword
import os
import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .commands import Command, Context, all_commands
from .errors import FmcError

__all__ = ["FindCnnMagics", "MagicArgumentParser", "load_ipython_extension", "findcnn_help", "split_line"]


class _HelpShown(Exception):
    """``--help`` printed the help; the magic returns nothing."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for magics: errors raise :class:`UsageError`, ``--help`` never exits the kernel."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}. See %{self.prog} --help")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if status:
            raise UsageError(f"{self.prog}: {message or 'invalid arguments'}")
        if message:
            print(message)
        raise _HelpShown()


def _build_parser(command: Command) -> MagicArgumentParser:
    parser = MagicArgumentParser(prog=f"findcnn {command.name}", description=command.help,
                                 epilog=command.description or None, add_help=True)
    command.add_arguments(parser)
    parser.add_argument("-o", "--output", metavar="NAME", default=None,
                        help="also store the result in the notebook variable NAME")
    return parser


COMMANDS: dict[str, Command] = all_commands()
PARSERS: dict[str, MagicArgumentParser] = {name: _build_parser(cmd) for name, cmd in COMMANDS.items()}


def findcnn_help() -> str:
    """The overview printed by ``%findcnn?``, ``%findcnn --help`` and a bare ``%findcnn``."""
    lines = [
        "Find My CNN: search, rank and fine-tune pretrained image classifiers.",
        "",
        "  %findcnn <subcommand> [arguments] [-o NAME]",
        "  %%findcnn <subcommand> [arguments]      (the cell body is one more argument: a long query)",
        "",
        "<x> and <y> name notebook variables (arrays, or expressions such as x[:200]); a single <x> may",
        "name a registry dataset instead. -o NAME stores the result in the notebook variable NAME.",
        "`%findcnn <subcommand> --help` explains one subcommand.",
        "",
        "Subcommands:",
    ]
    for name, parser in PARSERS.items():
        usage = parser.format_usage().strip().removeprefix("usage: ")
        lines.append(f"  {COMMANDS[name].help}:")
        lines.append(f"      %{usage}")
    return "\n".join(lines)


# a token: runs of non-space characters and quoted strings ('a~"b c"' is one token, quotes kept)
_TOKEN = re.compile(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""")


def _strip_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a word outside quotes (a Python-style comment)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def split_line(line: str, dash_values: tuple[str, ...] = ()) -> list[str]:
    """Split a magic line on whitespace, keeping quotes (queries use them) and joining ``--opt -value``.

    A ``#`` that starts a word (outside quotes) starts a comment, as in Python.
    """
    line = _strip_comment(line)
    tokens = _TOKEN.findall(line)
    rest = _TOKEN.sub(" ", line).strip()
    if rest:  # only an unbalanced quote is left over
        raise UsageError(f"findcnn: no closing quotation for {rest[0]} in: {line.strip()}")
    joined: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in dash_values and i + 1 < len(tokens):
            joined.append(f"{tokens[i]}={tokens[i + 1]}")
            i += 2
            continue
        joined.append(tokens[i])
        i += 1
    return joined


def _default_registry_key() -> tuple[str, str]:
    """What ``open_registry()`` would open now: the service URL or the registry file."""
    from .config import default_registry_path

    return os.environ.get("FMC_REGISTRY_URL", ""), str(default_registry_path().expanduser().resolve())


@magics_class
class FindCnnMagics(Magics):
    """The ``%findcnn`` magics of one IPython shell, with the registry they talk to."""

    def __init__(self, shell=None, registry=None):
        super().__init__(shell)
        self._registry = registry
        self._default_key: tuple[str, str] | None = None

    @property
    def registry(self):
        """The registry the magics use: one set here (or by ``%findcnn registry ...``), else the default one.

        The default is ``fmc.open_registry()`` (``$FMC_REGISTRY_URL``, ``$FMC_REGISTRY`` or the Jupyter data
        dir); it is opened again when those variables change.
        """
        if self._registry is None or self._default_key is not None:
            key = _default_registry_key()
            if self._registry is None or key != self._default_key:
                from . import open_registry

                self._registry = open_registry()
                self._default_key = key
        return self._registry

    @registry.setter
    def registry(self, registry) -> None:
        self._registry = registry
        self._default_key = None

    def _context(self) -> Context:
        namespace = self.shell.user_ns if self.shell is not None else {}
        evaluate = self.shell.ev if self.shell is not None else None
        return Context(get_registry=lambda: self.registry, namespace=namespace, evaluate=evaluate,
                       use_registry=lambda registry: setattr(self, "registry", registry))

    @line_cell_magic
    def findcnn(self, line: str = "", cell: str | None = None) -> Any:
        try:
            return self._run(line, cell)
        except _HelpShown:
            return None
        except FmcError as exc:
            raise UsageError(str(exc)) from None

    def _run(self, line: str, cell: str | None) -> Any:
        first = line.split(None, 1)
        if not first or first[0] in ("-h", "--help", "help"):
            print(findcnn_help())
            return None
        name = first[0]
        if name not in COMMANDS:
            close = difflib.get_close_matches(name, list(COMMANDS), n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise UsageError(f"findcnn: unknown subcommand '{name}'.{hint} Subcommands: {', '.join(COMMANDS)}")
        command = COMMANDS[name]
        tokens = split_line(first[1] if len(first) > 1 else "", command.dash_values)
        body = "\n".join(l for l in (cell or "").splitlines() if not l.lstrip().startswith("#")).strip()
        if body:
            tokens.append(body)
        args = PARSERS[name].parse_intermixed_args(tokens)
        if args.output is not None and (not args.output.isidentifier() or keyword.iskeyword(args.output)):
            raise UsageError(f"findcnn {name}: -o needs a variable name, not '{args.output}'")
        result = command.run(args, self._context())
        if args.output is not None and self.shell is not None:
            self.shell.user_ns[args.output] = result
        return result


FindCnnMagics.findcnn.__doc__ = findcnn_help()


def load_ipython_extension(ipython) -> None:
    """``%load_ext fmc_jupyter``: register ``%findcnn`` and ``%%findcnn`` in this shell."""
    ipython.register_magics(FindCnnMagics)
