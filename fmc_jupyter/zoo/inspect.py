"""Facts about a user's model file or handle, read safely by the source that reads it (see :mod:`.sources`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .sources.keras_file import KERAS_SUFFIXES, load_keras_file

__all__ = ["inspect_model_file", "load_keras_file", "KERAS_SUFFIXES"]


def inspect_model_file(path: str | Path) -> dict[str, Any]:
    """The facts the registry records (source_kind, params, input_size, ...) of a file, preset dir or handle."""
    from .sources import inspect_target

    return inspect_target(path)
