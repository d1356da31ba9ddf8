"""Typed, range-checked fields: the one place where values entering the registry are checked.

Every backend (embedded SQLite, the registry service, a future PostgreSQL one) passes the arguments of its
write methods (and the ids, limits and offsets of its reads) through these checks *before* it touches the
database or the artifact store, so a refused call leaves both exactly as they were, and every skin (Python,
``%findcnn``, REST) gets the same :class:`~fmc_jupyter.errors.InputError` for the same bad value.

The rules:

- integers (ids, versions, epochs, limits, offsets, counts) are ``int`` (or ``numpy`` integers, or a string
  of digits from a skin), never ``bool`` or ``float``, within SQLite's signed 64-bit range
  ``[-2**63, 2**63 - 1]`` and the field's own bounds (ids >= 1, offsets >= 0, ...);
- accuracies (``top1``, ``top5``, ``accuracy``) are fractions in ``[0, 1]``; a value in ``(1, 100]`` is read
  as a percentage and divided by 100;
- sizes and counts (``params``, ``size_mb``, latencies, ``duration_s``) are finite and non-negative;
- texts are ``str`` of bounded length; ``labels`` a list of strings; ``tags`` a list of strings or one
  comma-separated string; ``status``, ``kind``, ``outcome``, ``visibility`` one of their allowed values;
- JSON fields (``config``, ``metrics``, ...) are JSON-serialisable values (numpy scalars and arrays become
  plain numbers and lists); training metrics that are NaN or infinite (a diverging loss) are stored as null.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["INT64_MIN", "INT64_MAX", "integer", "optional_integer", "number", "fraction", "text", "choice",
           "string_list", "tags", "json_value", "check_fields", "Spec", "MODEL_FIELDS", "MODEL_CHANGEABLE",
           "RUN_FIELDS", "EPOCH_METRICS", "SCORE_FIELDS", "RUN_STATUSES", "FINAL_STATUSES", "RUN_KINDS",
           "OUTCOMES", "VISIBILITIES", "NAME_PATTERN", "model_name", "visibility", "limit_offset", "columns"]

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
RUN_STATUSES = ("running", "finished", "failed", "interrupted")
FINAL_STATUSES = ("finished", "failed", "interrupted")
RUN_KINDS = ("finetune", "trial", "lr_find")
OUTCOMES = ("kept", "kept_both", "discarded")
VISIBILITIES = ("public", "private")
#: model line and dataset names: letters, digits, space, '.', '_', '+', '-' (1-128), not starting with a space
NAME_PATTERN = re.compile(r"[\w.+-][\w .+-]{0,127}")
MAX_TEXT = 100_000
MAX_JSON_CHARS = 10_000_000

_DIGITS = re.compile(r"\s*[+-]?\d+\s*")


def integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` within ``[minimum, maximum]`` and SQLite's 64-bit range, else :class:`InputError`."""
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be a whole number, not {value!r}")
    if isinstance(value, (int, np.integer)):
        number_ = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) < 40:
        number_ = int(value)
    else:
        raise InputError(f"{name} must be a whole number, not {_show(value)}")
    low = INT64_MIN if minimum is None else max(minimum, INT64_MIN)
    high = INT64_MAX if maximum is None else min(maximum, INT64_MAX)
    if not low <= number_ <= high:
        if number_ > INT64_MAX or number_ < INT64_MIN:
            raise InputError(f"{name} {number_} is out of range: whole numbers are stored in 64 bits "
                             f"({INT64_MIN} to {INT64_MAX})")
        bound = f"at least {low}" if number_ < low else f"at most {high}"
        raise InputError(f"{name} must be {bound}, not {number_}")
    return number_


def optional_integer(value: Any, name: str, **bounds: Any) -> int | None:
    return None if value is None else integer(value, name, **bounds)


def number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
           non_finite_as_none: bool = False) -> float | None:
    """``value`` as a finite ``float`` within bounds (``None`` stays ``None``).

    ``non_finite_as_none``: NaN and infinities become ``None`` (training metrics of a diverging run).
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, not {_show(value)}")
    result = float(value) if not isinstance(value, int) or abs(value) < 2 ** 1023 else math.inf
    if not math.isfinite(result):
        if non_finite_as_none:
            return None
        raise InputError(f"{name} must be a finite number, not {value!r}")
    if minimum is not None and result < minimum:
        raise InputError(f"{name} must be at least {minimum:g}, not {result:g}")
    if maximum is not None and result > maximum:
        raise InputError(f"{name} must be at most {maximum:g}, not {result:g}")
    return result


def fraction(value: Any, name: str) -> float | None:
    """An accuracy: a fraction in ``[0, 1]``, or a percentage in ``(1, 100]`` (divided by 100)."""
    try:
        result = number(value, name)
    except InputError:
        result = -1.0
    if result is None:
        return None
    if not 0 <= result <= 100:
        raise InputError(f"{name} is an accuracy: a fraction in [0, 1] or a percentage in [0, 100], not "
                         f"{_show(value)}")
    return result / 100 if result > 1 else result


def text(value: Any, name: str, *, max_chars: int = MAX_TEXT, allow_none: bool = True,
         non_empty: bool = False, example: str | None = None) -> str | None:
    """A ``str`` of at most ``max_chars`` characters (``None`` if allowed); ``example`` is shown on a type error."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        such_as = f" such as {example!r}" if example else ""
        raise InputError(f"{name} must be text{such_as}, not {_show(value)}")
    if non_empty and not value.strip():
        raise InputError(f"{name} must not be empty")
    if len(value) > max_chars:
        raise InputError(f"{name} holds at most {max_chars} characters, not {len(value)}")
    if "\x00" in value:
        raise InputError(f"{name} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name} holds characters that are not valid Unicode text (lone surrogates)") from None
    return value


def choice(value: Any, name: str, allowed: tuple[Any, ...]) -> Any:
    """One of ``allowed``."""
    if not isinstance(value, (str, type(None))) or value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; not {_show(value)}")
    return value


def string_list(value: Any, name: str, *, max_items: int = 100_000, max_chars: int = 1000) -> list[str]:
    """A list (or tuple/array) of strings, e.g. a model's output labels."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InputError(f"{name} must be a list of strings, not {_show(value)}")
    if len(value) > max_items:
        raise InputError(f"{name} holds at most {max_items} items, not {len(value)}")
    return [text(v, f"each of {name}", max_chars=max_chars, allow_none=False) for v in value]  # type: ignore


def tags(value: Any, name: str = "tags") -> str:
    """Tags as stored: a list of strings, or one comma-separated string -> ``"a,b"``."""
    if value is None:
        return ""
    if isinstance(value, str):
        items = value.split(",")
    else:
        items = string_list(value, name, max_items=1000, max_chars=200)
    items = [t.strip() for t in items if t.strip()]
    for t in items:
        if "," in t:
            raise InputError(f"a tag may not contain a comma: {t!r}")
    return text(",".join(items), name, max_chars=10_000)  # type: ignore[return-value]


def json_value(value: Any, name: str, *, kind: type | tuple[type, ...] | None = None) -> Any:
    """A JSON-serialisable value (numpy scalars/arrays become plain values); ``kind`` restricts the top level."""
    plain = _plain(value, name, depth=0)
    if kind is not None and plain is not None and not isinstance(plain, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(f"{name} must be a {names.replace('dict', 'dict (JSON object)')}, not {_show(value)}")
    if plain is not None and len(json.dumps(plain)) > MAX_JSON_CHARS:
        raise InputError(f"{name} is too large to store (more than {MAX_JSON_CHARS} characters as JSON)")
    return plain


def _plain(value: Any, name: str, depth: int) -> Any:
    if depth > 50:
        raise InputError(f"{name} is nested too deeply (more than 50 levels)")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputError(f"a whole number in {name} is out of the 64-bit range: {value}")
        return value
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), name, depth + 1)
    if isinstance(value, (list, tuple)):
        return [_plain(v, name, depth + 1) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, (str, int, np.integer)) or isinstance(key, bool):
                raise InputError(f"{name} must have text keys, not {_show(key)}")
            out[str(key)] = _plain(item, name, depth + 1)
        return out
    raise InputError(f"{name} must hold only JSON values (numbers, text, lists, dicts), not {_show(value)}")


def _show(value: Any) -> str:
    text_ = repr(value)
    return f"{type(value).__name__} {text_[:60] + '...' if len(text_) > 60 else text_}"


#: a field check: value, field name -> cleaned value
Spec = Callable[[Any, str], Any]


def _int(minimum: int | None = 0, maximum: int | None = None) -> Spec:
    return lambda v, n: optional_integer(v, n, minimum=minimum, maximum=maximum)


def _num(minimum: float | None = 0.0, *, lenient: bool = False) -> Spec:
    return lambda v, n: number(v, n, minimum=minimum, non_finite_as_none=lenient)


def _text(max_chars: int = 1000) -> Spec:
    return lambda v, n: text(v, n, max_chars=max_chars)


def _json(kind: type | tuple[type, ...] | None = None) -> Spec:
    return lambda v, n: json_value(v, n, kind=kind)


def _choice(allowed: tuple[Any, ...]) -> Spec:
    return lambda v, n: choice(v, n, allowed)


#: descriptive fields of a model version (``add_model`` keywords and ``update_model`` changes)
MODEL_FIELDS: dict[str, Spec] = {
    "family": _text(200), "task": _text(200), "domain": _text(200), "description": _text(MAX_TEXT),
    "tags": lambda v, n: tags(v, n), "labels": lambda v, n: None if v is None else string_list(v, n),
    "pretrained_on": _text(500), "license": _text(500), "preprocessing": _text(200),
    "top1": fraction, "top5": fraction, "visibility": lambda v, n: choice(v, n, VISIBILITIES),
}
#: what ``update_model`` may change
MODEL_CHANGEABLE = ("description", "tags", "domain", "task", "family", "top1", "top5", "license", "labels",
                    "pretrained_on", "preprocessing")
#: facts of a model file (inspected, or overridden through ``add_model(facts=...)``)
FACT_FIELDS: dict[str, Spec] = {
    "params": _int(0), "input_size": _int(1, 1 << 20), "num_classes": _int(1), "depth": _int(0),
    "size_mb": _num(0.0), "cpu_ms": _num(0.0), "gpu_ms": _num(0.0), "family": _text(200),
    "architecture": _text(200), "preprocessing": _text(200),
    "source_kind": _text(100), "source": _json(dict),
}
#: fields of a training run (``start_run`` keywords, ``update_run``/``finish_run`` changes)
RUN_FIELDS: dict[str, Spec] = {
    "optimizer": _text(200), "optimizer_config": _json(dict), "loss": _text(200), "batch_size": _int(1),
    "batch_size_changes": _json(list), "learning_rate": _num(0.0), "epochs": _int(0), "config": _json(dict),
    "device": _text(500), "finished_at": _text(64), "duration_s": _num(0.0),
    "outcome": lambda v, n: None if v is None else choice(v, n, OUTCOMES),
    "result_model_id": _int(1), "metrics": _json(dict), "confusion": _json(list), "error": _text(MAX_TEXT),
    "status": lambda v, n: choice(v, n, RUN_STATUSES),
}
#: the columns of one epoch row (``log_epoch``); anything else goes to its ``extra`` JSON
EPOCH_METRICS: dict[str, Spec] = {
    "loss": _num(None, lenient=True), "accuracy": _num(None, lenient=True), "val_loss": _num(None, lenient=True),
    "val_accuracy": _num(None, lenient=True), "learning_rate": _num(None, lenient=True),
    "batch_size": _int(0), "seconds": _num(None, lenient=True),
}
#: one row of ``save_ranking(scores=[...])``
SCORE_FIELDS: dict[str, Spec] = {
    "model_id": lambda v, n: integer(v, n, minimum=1), "rank": _int(None), "score": _num(None, lenient=True),
    "scores": _json(dict), "stability": _json(dict), "seconds": _num(None, lenient=True), "error": _text(MAX_TEXT),
}


def check_fields(specs: Mapping[str, Spec], values: Mapping[str, Any], what: str,
                 allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``values`` checked and converted field by field; an unknown field is an :class:`InputError`."""
    names = tuple(specs) if allowed is None else allowed
    if not isinstance(values, Mapping):
        raise InputError(f"{what} must be a dict of fields, not {_show(values)}")
    unknown = sorted(str(k) for k in values if k not in names)
    if unknown:
        raise InputError(f"unknown {what} {unknown}; known: {sorted(names)}")
    return {key: specs[key](value, key) for key, value in values.items()}


def model_name(value: Any, what: str = "model name") -> str:
    """A model line or dataset name (see :data:`NAME_PATTERN`)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InputError(f"{what} {_show(value) if not isinstance(value, str) else repr(value)} may hold letters, "
                         "digits, space, '.', '_', '+', '-' (1-128 characters, not starting with a space)")
    return value


def visibility(value: Any) -> str:
    return choice(value, "visibility", VISIBILITIES)


def limit_offset(limit: Any, offset: Any) -> tuple[int | None, int]:
    """``limit`` (``None`` = all) and ``offset`` of a search, as non-negative ints."""
    return optional_integer(limit, "limit", minimum=0), integer(offset, "offset", minimum=0)


def columns(value: Any, known: list[str]) -> list[str]:
    """A list of known column names (a single name must still be given as a list)."""
    if value is None:
        return list(known)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InputError(f"columns must be a list of column names such as ['name', 'top1'], not {_show(value)}")
    bad = [c for c in value if not isinstance(c, str) or c not in known]
    if bad:
        raise InputError(f"unknown columns {bad!r}; known: {', '.join(known)}")
    if not value:
        raise InputError("columns must name at least one column")
    return list(value)
