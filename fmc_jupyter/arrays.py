"""Checking and normalising the user's in-memory image arrays and labels (numpy only).

Every function here leaves the caller's arrays untouched: it either returns them as they are
(read-only use) or returns a new array.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

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


def as_images(x, name: str = "x") -> np.ndarray:
    """Validate ``x`` as images: ``(N, H, W)`` or ``(N, H, W, 1|3)``; returns ``(N, H, W, 3)``.

    Grayscale is repeated to 3 channels (a new array); uint8 is kept as is; other numeric types
    must be finite. The input is never modified.
    """
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{name} must be a numeric image array, got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise InputError(f"{name} must have shape (N, H, W) or (N, H, W, C), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} holds no images")
    if arr.shape[-1] not in (1, 3):
        raise InputError(f"{name} must have 1 (grayscale) or 3 (RGB) channels, got {arr.shape[-1]}; "
                         "drop an alpha channel with x[..., :3]")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr).reshape(len(arr), -1).all(axis=1))[0])
            raise InputError(f"{name} contains NaN or infinite values (first at image {bad}); clean or drop those images")
        arr = arr.astype(np.float32, copy=False)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr


def encode_labels(y, class_names: Sequence[str] | None = None, name: str = "y") -> tuple[np.ndarray, tuple[str, ...]]:
    """Map labels (ints or strings) to contiguous ids ``0..C-1``.

    Integer labels with ``class_names`` given are taken as indices into it; otherwise the sorted
    distinct labels become the classes. Returns ``(ids (N,) int64, class_names)``.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1 and np.issubdtype(arr.dtype, np.number):
        arr = arr.argmax(axis=1)  # one-hot
    arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of labels (or one-hot), got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{name} contains NaN or infinite labels")
        if not np.all(arr == np.round(arr)):
            raise InputError(f"{name} holds non-integer numbers; labels must be class ids or names")
        arr = arr.astype(np.int64)
    if class_names is not None and np.issubdtype(arr.dtype, np.integer):
        names = tuple(str(c) for c in class_names)
        if arr.size and (arr.min() < 0 or arr.max() >= len(names)):
            raise InputError(f"{name} has ids outside 0..{len(names) - 1} for the {len(names)} class_names given")
        return arr.astype(np.int64), names
    values, ids = np.unique(arr.astype(str) if arr.dtype.kind in "OUS" else arr, return_inverse=True)
    names = tuple(str(v) for v in values)
    if class_names is not None:
        given = tuple(str(c) for c in class_names)
        missing = sorted(set(names) - set(given))
        if missing:
            raise InputError(f"labels {missing[:5]} are not among class_names")
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
