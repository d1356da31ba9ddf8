"""Errors a user can cause. Every message says what was wrong and what to do about it."""

from __future__ import annotations

__all__ = [
    "FmcError",
    "QueryError",
    "NotFoundError",
    "PermissionDeniedError",
    "InputError",
    "ModelLoadError",
    "RegistryUnavailableError",
    "SchemaVersionError",
    "FmcWarning",
]


class FmcError(Exception):
    """Base class of every error Find My CNN raises on purpose."""


class QueryError(FmcError, ValueError):
    """A search query that cannot be parsed or compiled.

    ``position`` is the 0-based character offset of the problem in ``query``;
    ``str(err)`` shows the query with a caret under that column.
    """

    def __init__(self, message: str, query: str = "", position: int | None = None):
        self.message = message
        self.query = query
        self.position = position
        super().__init__(self.__str__())

    #: a longer query is shown as this many characters around the problem
    SHOWN = 80

    def __str__(self) -> str:
        if self.position is None or not self.query:
            return self.message
        text, pos = self.query, self.position
        if len(text) > self.SHOWN:
            start = max(0, min(pos - self.SHOWN // 2, len(text) - self.SHOWN))
            end = start + self.SHOWN
            text = ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
            pos = pos - start + (3 if start else 0)
        return f"{self.message}\n  {text}\n  {' ' * pos}^"


class NotFoundError(FmcError, LookupError):
    """A model, dataset or run that does not exist, or that the current user may not see."""


class PermissionDeniedError(FmcError, PermissionError):
    """The current user may see the object but not change it."""


class InputError(FmcError, ValueError):
    """Arrays, labels or arguments that cannot be used as given."""


class ModelLoadError(FmcError):
    """A model file or catalog entry that cannot be loaded (or is refused as unsafe)."""


class RegistryUnavailableError(FmcError, ConnectionError):
    """The shared registry service cannot be reached."""


class SchemaVersionError(FmcError):
    """A registry database written by a newer (or unknown) version of fmc_jupyter: upgrade before using it."""


class FmcWarning(UserWarning):
    """Warnings about set-ups that work but are risky (e.g. SQLite on a network filesystem)."""
