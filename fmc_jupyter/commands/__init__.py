"""The ``%findcnn`` subcommands: one small module per subcommand.

Each module defines ``COMMANDS``: a list of :class:`Command` (name, one-line help, a function that adds
its arguments to an :class:`argparse.ArgumentParser`, and ``run(args, ctx)`` that calls ONE library
function and returns its result object). The magic (:mod:`fmc_jupyter.magics`) owns the parsing
machinery; these modules know nothing about IPython beyond the :class:`Context` they are handed.
"""

from __future__ import annotations

import argparse
import importlib
import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, NotFoundError

__all__ = ["Command", "Context", "all_commands", "unquote", "query_text", "auto_or", "whole_number", "real_number",
           "MODULES", "MAX_ID"]

#: ids, limits and offsets are SQLite integers: at most 2**63 - 1
MAX_ID = 2 ** 63 - 1

# subcommand modules, in the order the help lists them
MODULES = ["search", "show", "comment", "rank", "finetune", "runs", "evaluate", "leaderboard", "diff", "datasets", "publish", "registry", "auto", "ui"]


@dataclass(frozen=True)
class Command:
    """One subcommand: ``%findcnn <name> ...``."""

    name: str
    help: str
    add_arguments: Callable[[Any], None]
    run: Callable[[Any, "Context"], Any]
    # options whose value may itself start with "-" (e.g. ``--order -top1``)
    dash_values: tuple[str, ...] = ()
    description: str = ""


def unquote(text: str) -> str:
    """Drop one pair of surrounding quotes: the magic keeps quotes so queries survive tokenising."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def query_text(tokens: list[str] | None) -> str:
    """A query from the words of a magic line; one fully quoted word (``--models "name=x"``) loses its quotes."""
    if not tokens:
        return ""
    return unquote(tokens[0]).strip() if len(tokens) == 1 else " ".join(tokens).strip()


def auto_or(cast: Callable[[str], Any], word: str = "auto") -> Callable[[str], Any]:
    """An argparse ``type``: the literal ``word`` (e.g. ``auto``) or a value read by ``cast``."""

    def read(text: str) -> Any:
        text = unquote(text)
        return word if text.lower() == word else cast(text)

    read.__name__ = f"{word} or {getattr(cast, '__name__', 'value')}"
    return read


def whole_number(minimum: int | None = None, maximum: int | None = None, what: str = "whole number"
                 ) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``[minimum, maximum]`` (else one clear usage line).

    Most subcommands leave the range to the library function they call (one place for every skin)."""
    top = "2**63 - 1" if maximum == MAX_ID else maximum
    bounds = f" from {minimum} to {top}" if minimum is not None and maximum is not None else (
        f" >= {minimum}" if minimum is not None else f" <= {top}" if maximum is not None else "")

    def read(text: str) -> int:
        text = unquote(text).strip()
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a {what}; give one{bounds}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range; give a {what}{bounds}")
        return value

    read.__name__ = what
    return read


def real_number(minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    """An argparse ``type``: a finite decimal number in ``[minimum, maximum]``."""
    bounds = f" from {minimum} to {maximum}" if minimum is not None and maximum is not None else (
        f" >= {minimum}" if minimum is not None else f" <= {maximum}" if maximum is not None else "")

    def read(text: str) -> float:
        text = unquote(text).strip()
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a number; give one{bounds}") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum) or \
                (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text[:40]} is out of range; give a finite number{bounds}")
        return value

    read.__name__ = "number"
    return read


@dataclass
class Context:
    """What a subcommand may use: the registry and the notebook's namespace (``user_ns``)."""

    get_registry: Callable[[], Any]  # the registry in use (opened on first use)
    namespace: dict[str, Any] = field(default_factory=dict)
    evaluate: Callable[[str], Any] | None = None  # evaluates an expression in the user namespace
    use_registry: Callable[[Any], None] | None = None  # makes a registry the one later subcommands use

    @property
    def registry(self) -> Any:
        return self.get_registry()

    def value(self, name: str, what: str = "variable") -> Any:
        """The value of ``name``: a notebook variable, or an expression over notebook variables (``x[:100]``)."""
        name = unquote(name)
        if name.isidentifier() and not keyword.iskeyword(name):
            if name in self.namespace:
                return self.namespace[name]
            raise InputError(f"no {what} '{name}' in the notebook namespace; define it first, or check the spelling")
        if self.evaluate is None:
            raise InputError(f"'{name}' is not a variable name")
        try:
            return self.evaluate(name)
        except Exception as exc:  # the user's expression failed: say which and why, no traceback
            raise InputError(f"cannot evaluate '{name}' in the notebook namespace: {type(exc).__name__}: {exc}") from None

    def _pair_or_single(self, x_name: str, y_name: str | None) -> tuple[str, Any, tuple[Any, Any] | None]:
        """``(key, value, (x, y) or None)``: two names give their values; one name holding ``LabelledImages``
        gives its arrays; any other single name comes back as its key and namespace value (or itself)."""
        from ..arrays import LabelledImages

        if y_name is not None:
            return x_name, None, (self.value(x_name), self.value(y_name))
        key = unquote(x_name)
        value = self.namespace.get(key, key) if key.isidentifier() else key
        return key, value, (value.x, value.y) if isinstance(value, LabelledImages) else None

    def labelled(self, x_name: str, y_name: str | None) -> tuple[Any, Any]:
        """Images and labels named by the user.

        ``x_name`` and ``y_name`` name notebook variables (arrays, or expressions over them). With
        ``y_name`` omitted, ``x_name`` names a registry dataset (or a variable holding a dataset record,
        a dataset name, or ``LabelledImages``), whose stored arrays are loaded.
        """
        from ..records import DatasetRecord

        key, value, pair = self._pair_or_single(x_name, y_name)
        if pair is not None:
            return pair
        if isinstance(value, (DatasetRecord, str)):
            try:
                data = self.registry.load_dataset(value)
            except NotFoundError:
                if isinstance(value, str) and key not in self.namespace:
                    raise InputError(f"'{key}' is neither a notebook variable nor a registry dataset; pass images "
                                     f"and labels as two variables (x y), or add a dataset with %findcnn dataset add"
                                     ) from None
                raise
            return data.x, data.y
        raise InputError(f"'{key}' holds a {type(value).__name__}; pass images and labels as two variables (x y), "
                         "or name a registry dataset")


    def images_and_labels(self, x_name: str, y_name: str | None) -> tuple[Any, Any]:
        """Like :meth:`labelled`, but a dataset is passed on by name for library functions that take one.

        With ``y_name`` omitted: a variable holding ``LabelledImages`` gives its arrays, one holding a
        dataset record or a name gives that name, and anything else is taken as a registry dataset name
        (the library reports an unknown one).
        """
        from ..records import DatasetRecord

        key, value, pair = self._pair_or_single(x_name, y_name)
        if pair is not None:
            return pair
        if isinstance(value, DatasetRecord):
            return value.name, None
        if isinstance(value, str):
            if key not in self.namespace and not self._dataset_exists(value):
                raise InputError(f"'{key}' is neither a notebook variable nor a registry dataset; pass images and "
                                 "labels as two variables (x y), or add a dataset with %findcnn dataset add")
            return value, None
        raise InputError(f"'{key}' holds a {type(value).__name__}; pass images and labels as two variables (x y), "
                         "or name a registry dataset")

    def _dataset_exists(self, name: str) -> bool:
        if name.startswith("tfds:"):
            return True  # read by the library from TFDS
        try:
            self.registry.dataset(name)
        except NotFoundError:
            return False
        return True

    def model_ref(self, name: str) -> Any:
        """A model reference: a notebook variable holding a model record or a ranking, else the text itself."""
        from ..records import ModelRecord

        key = unquote(name)
        value = self.namespace.get(key) if key.isidentifier() else None
        if isinstance(value, ModelRecord) or (value is not None and hasattr(value, "model_id")) or \
                (value is not None and "model_id" in getattr(value, "columns", ())):
            return value
        return key


def all_commands() -> dict[str, Command]:
    """Every subcommand by name, in help order."""
    commands: dict[str, Command] = {}
    for module_name in MODULES:
        for command in importlib.import_module(f"{__name__}.{module_name}").COMMANDS:
            commands[command.name] = command
    return commands
