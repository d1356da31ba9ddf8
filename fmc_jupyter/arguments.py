"""Checks of the scalar arguments of the public entry points (numpy only, no Keras, no registry).

Every entry point (``finetune``, ``evaluate``, ``rank``, ``auto``, the dataset readers) checks all of its
arguments with these helpers *before* it writes anything, so a refused call leaves the registry as it was.
Each helper returns the value normalised (a plain ``int`` / ``float``) or raises :class:`InputError` whose
message names the argument, what it got and what it accepts.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["whole", "real", "flag", "text", "optional_path", "image_size", "MAX_SEED", "MAX_EPOCHS",
           "MAX_BATCH_SIZE", "MAX_IMAGE_SIDE"]

#: seeds feed numpy's and TensorFlow's generators, which take 32-bit unsigned seeds
MAX_SEED = 2 ** 32 - 1
#: far above any real fine-tune; keeps a typo (epochs=10**9) from running for ever
MAX_EPOCHS = 100_000
#: far above what fits on any device
MAX_BATCH_SIZE = 1_000_000
#: images are resized to at most this side (a 16k x 16k RGB image is already 768 MB)
MAX_IMAGE_SIDE = 16_384


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def whole(value: Any, name: str, minimum: int | None = None, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``; bools, floats and text are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number{_bounds(minimum, maximum)}, not {_show(value)}{hint}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InputError(f"{name} must be a whole number{_bounds(minimum, maximum)}, not {_show(value)}{hint}")
    return number


def real(value: Any, name: str, minimum: float | None = None, maximum: float | None = None, *,
         open_low: bool = False, open_high: bool = False, hint: str = "") -> float:
    """``value`` as a finite ``float`` within the bounds (``open_low`` / ``open_high`` exclude them)."""
    bounds = _bounds(minimum, maximum, open_low, open_high)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number{bounds}, not {_show(value)}{hint}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number{bounds}, not {_show(value)}{hint}")
    low_bad = minimum is not None and (number <= minimum if open_low else number < minimum)
    high_bad = maximum is not None and (number >= maximum if open_high else number > maximum)
    if low_bad or high_bad:
        raise InputError(f"{name} must be a number{bounds}, not {_show(value)}{hint}")
    return number


def flag(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` (True / False / 0 / 1 / numpy bools only)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and int(value) in (0, 1)):
        return bool(value)
    raise InputError(f"{name} must be True or False, not {_show(value)}")


def text(value: Any, name: str, *, allow_none: bool = False, max_length: int = 1000, choices: Any = None) -> str | None:
    """``value`` as a non-empty string (or None when allowed), optionally one of ``choices``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "text" + (" or None" if allow_none else "")
        raise InputError(f"{name} must be non-empty {what}, not {_show(value)}")
    if len(value) > max_length:
        raise InputError(f"{name} is {len(value)} characters long; at most {max_length} are allowed")
    if choices is not None and value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, not {_show(value)}")
    return value


def optional_path(value: Any, name: str) -> str | None:
    """``value`` as a path string (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise InputError(f"{name} must be a folder path or None, not {_show(value)}")
    return os.fspath(value)


def image_size(value: Any, name: str = "image_size", allow_none: bool = False) -> tuple[int, int] | None:
    """``value`` as ``(height, width)``: two whole numbers in ``1..MAX_IMAGE_SIDE`` (an int means a square)."""
    if value is None and allow_none:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise InputError(f"{name} must be (height, width) in pixels, e.g. (224, 224), not {_show(value)}")
    return (whole(value[0], f"{name} height", 1, MAX_IMAGE_SIDE),
            whole(value[1], f"{name} width", 1, MAX_IMAGE_SIDE))


def _bounds(minimum: Any, maximum: Any, open_low: bool = False, open_high: bool = False) -> str:
    if minimum is not None and maximum is not None and maximum >= 2 ** 31 - 1:  # a cap far above real use
        return f" {'>' if open_low else '>='} {minimum} (at most {maximum})"
    if minimum is not None and maximum is not None:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        return f" in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f" {'>' if open_low else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if open_high else '<='} {maximum}"
    return ""
