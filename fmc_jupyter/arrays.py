"""Checking and normalising the user's in-memory image arrays and labels (numpy only).

Every function here leaves the caller's arrays untouched: it either returns them as they are
(read-only use) or returns a new array.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["LabelledImages", "as_images", "encode_labels", "check_labelled", "stratified_indices", "content_hash"]


@dataclass(frozen=True)
class LabelledImages:
    """Images ``x (N, H, W, 3)`` (uint8 or float32), labels ``y (N,)`` int64 in ``[0, C)``, ``class_names (C,)``."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


#: integer images are read on the uint8 scale: every pixel value must lie in this range
PIXEL_RANGE = (0, 255)
#: float images are on the same 0..255 scale; this much over- or undershoot (resampling ringing) is accepted
FLOAT_PIXEL_SLACK = 1.0


def _as_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)`` with the failures of ragged or exotic input turned into :class:`InputError`."""
    if value is None:
        raise InputError(f"{name} is missing (None); pass a numpy array")
    if isinstance(value, (str, bytes)):
        raise InputError(f"{name} is the text {value[:40]!r}, not an array; pass a numpy array "
                         "(a registry dataset name goes in x alone, with y left out)")
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects numpy cannot convert
        raise InputError(f"{name} cannot be read as one array ({exc}); stack equally sized items into one "
                         "numpy array first") from None


def as_images(x, name: str = "x") -> np.ndarray:
    """Validate ``x`` as images: ``(N, H, W)`` or ``(N, H, W, 1|3)``; returns ``(N, H, W, 3)``.

    Pixels are on the 0..255 scale: uint8 is kept as is; other integer types must hold values in
    ``PIXEL_RANGE`` and become float32; floats must be finite and within ``PIXEL_RANGE`` give or take
    ``FLOAT_PIXEL_SLACK``. Complex, boolean, text and object arrays are refused. Grayscale is repeated to
    3 channels (a new array). The input is never modified: a result that shares its memory is a read-only view.
    """
    arr = _as_array(x, name)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} holds complex numbers ({arr.dtype}); images are real pixel values 0..255: pass "
                         f"np.abs({name}) or {name}.real if that is what you mean")
    if arr.dtype == bool:
        raise InputError(f"{name} holds booleans; images are pixel values 0..255 (e.g. {name}.astype('uint8') * 255)")
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{name} must be a numeric image array, got dtype {arr.dtype}"
                         + (" (mixed or ragged items?)" if arr.dtype == object else ""))
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise InputError(f"{name} must have shape (N, H, W) or (N, H, W, C), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} holds no images")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise InputError(f"{name} has images of {arr.shape[1]}x{arr.shape[2]} pixels; images need pixels")
    if arr.shape[-1] not in (1, 3):
        raise InputError(f"{name} must have 1 (grayscale) or 3 (RGB) channels, got {arr.shape[-1]}; "
                         "drop an alpha channel with x[..., :3]")
    if arr.dtype != np.uint8:
        lo, hi = PIXEL_RANGE
        if np.issubdtype(arr.dtype, np.floating):
            finite = np.isfinite(arr)
            if not finite.all():
                bad = int(np.flatnonzero(~finite.reshape(len(arr), -1).all(axis=1))[0])
                raise InputError(f"{name} contains NaN or infinite values (first at image {bad}); "
                                 "clean or drop those images")
            slack = FLOAT_PIXEL_SLACK
        else:
            slack = 0
        low, high = arr.min(), arr.max()
        if low < lo - slack or high > hi + slack:
            raise InputError(f"{name} holds pixel values from {low} to {high}; images must be on the 0..255 scale "
                             f"(uint8, or numbers in [{lo}, {hi}]): rescale them, e.g. "
                             f"(({name} - {name}.min()) / ({name}.max() - {name}.min()) * 255).astype('uint8')")
        arr = arr.astype(np.float32, copy=False)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if np.may_share_memory(arr, x):  # the caller's own memory: hand it on read-only, so nothing can write to it
        arr = arr.view()
        arr.flags.writeable = False
    return arr


def _class_names(class_names: Any) -> tuple[str, ...] | None:
    """``class_names`` as a tuple of distinct strings (None stays None)."""
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise InputError(f"class_names must be a list of names, not {type(class_names).__name__} "
                         f"{str(class_names)[:40]!r}")
    names = tuple(str(c) for c in np.asarray(class_names, dtype=object).reshape(-1))
    if not names:
        raise InputError("class_names is empty; give one name per class, or leave it out")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"class_names names '{dup}' twice; every class needs a name of its own")
    return names


def encode_labels(y, class_names: Sequence[str] | None = None, name: str = "y") -> tuple[np.ndarray, tuple[str, ...]]:
    """Map labels (ints or strings) to contiguous ids ``0..C-1``.

    Integer labels with ``class_names`` given are taken as indices into it; otherwise the sorted
    distinct labels become the classes. Returns ``(ids (N,) int64, class_names)``.
    """
    arr = _as_array(y, name)
    given = _class_names(class_names)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} holds complex numbers; labels must be class ids (integers) or class names")
    if arr.ndim == 2 and arr.shape[1] > 1 and np.issubdtype(arr.dtype, np.number):
        arr = arr.argmax(axis=1)  # one-hot
    arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of labels (or one-hot), got shape {arr.shape}")
    if arr.dtype == object:
        odd = [v for v in arr if not isinstance(v, (str, np.str_, int, np.integer)) or isinstance(v, bool)][:1]
        if odd or len(arr) and len({isinstance(v, (str, np.str_)) for v in arr}) > 1:
            what = f"a {type(odd[0]).__name__} ({str(odd[0])[:30]!r})" if odd else "both numbers and text"
            raise InputError(f"{name} holds {what}; labels must all be class ids (integers) or all class names")
        if len(arr) and isinstance(arr[0], (str, np.str_)):
            arr = arr.astype(str)
        else:
            big = next((int(v) for v in arr if abs(int(v)) > 2 ** 53), None)
            if big is not None:
                raise InputError(f"{name} holds the class id {big}; use small ids 0..C-1 or class names")
            arr = arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{name} contains NaN or infinite labels")
        if not np.all(arr == np.round(arr)):
            raise InputError(f"{name} holds non-integer numbers; labels must be class ids or names")
        if arr.size and np.abs(arr).max() > 2 ** 53:
            raise InputError(f"{name} holds class ids as large as {np.abs(arr).max():g}; use small ids 0..C-1 or names")
        arr = arr.astype(np.int64)
    if given is not None and np.issubdtype(arr.dtype, np.integer):
        names = given
        if arr.size and (arr.min() < 0 or arr.max() >= len(names)):
            raise InputError(f"{name} has ids outside 0..{len(names) - 1} for the {len(names)} class_names given; "
                             "give one name per class id")
        return arr.astype(np.int64), names
    values, ids = np.unique(arr.astype(str) if arr.dtype.kind in "OUS" else arr, return_inverse=True)
    names = tuple(str(v) for v in values)
    if given is not None:
        missing = sorted(set(names) - set(given))
        if missing:
            raise InputError(f"labels {missing[:5]} are not among class_names {list(given)[:10]}; add them to "
                             "class_names or drop those examples")
        lookup = {c: i for i, c in enumerate(given)}
        return np.array([lookup[names[i]] for i in ids], dtype=np.int64), given
    return ids.astype(np.int64).reshape(-1), names


def check_labelled(x, y, class_names: Sequence[str] | None = None, min_per_class: int = 1,
                   min_classes: int = 2) -> LabelledImages:
    """Validate a labelled image set; raise :class:`InputError` naming the problem."""
    images = as_images(x)
    ids, names = encode_labels(y, class_names)
    if len(ids) != len(images):
        raise InputError(f"x has {len(images)} images but y has {len(ids)} labels; they must match one to one")
    counts = np.bincount(ids, minlength=len(names))
    present = int((counts > 0).sum())
    if present < min_classes:
        raise InputError(f"the labels hold {present} class(es); at least {min_classes} are needed to train or rank")
    few = [(names[i], int(c)) for i, c in enumerate(counts) if 0 < c < min_per_class]
    if few:
        cls, n = few[0]
        raise InputError(f"class '{cls}' has {n} image(s); at least {min_per_class} per class are needed "
                         f"(add images or drop that class)")
    return LabelledImages(images, ids, names)


def stratified_indices(labels: np.ndarray, per_class: int | None, seed: int = 0) -> np.ndarray:
    """Indices of up to ``per_class`` examples of every class, drawn with ``seed``; sorted."""
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def content_hash(x: np.ndarray, y: np.ndarray, class_names: Sequence[str]) -> str:
    """sha256 over shapes, dtypes and bytes of images and labels, and the class names."""
    digest = hashlib.sha256()
    for arr in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
        digest.update(json.dumps([list(arr.shape), str(arr.dtype)]).encode())
        digest.update(memoryview(arr).cast("B"))
    digest.update(json.dumps(list(class_names)).encode())
    return digest.hexdigest()
