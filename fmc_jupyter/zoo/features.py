"""Feature extraction for every kind of catalog entry, with an on-disk cache.

``extract_features(record, images, registry)`` returns the penultimate features ``(N, D)`` of a model on
``images (N, H, W, 3)`` (0..255 RGB), plus the source head's class probabilities ``(N, Z)`` where the model has
a usable head (for LEEP / NCE):

Each model's source (:mod:`.sources`) extracts them (``ModelSource.features``): Keras Applications and
KerasHub presets through their pooled backbone and own preprocessing, stored Keras files from the input of
their last layer (or a named ``layer``) with the model's output as head probabilities, TFLite files from the
pooled tensor before the logits.

Features are cached under ``config.cache_dir()/features`` keyed by sha256 of (model id, version, weights
identity: artifact sha256 or constructor/kwargs/weights, data hash, preprocessing, input size, layer, format
version), so re-ranking the same images, or with another method, skips extraction.

Within a :func:`features_memo` block, every image's features are also remembered in memory per model (keyed by
the image's own hash), and a call extracts only the images that model has not seen: the nested slices of a
budgeted ranking (:mod:`fmc_jupyter.ranking_budget`: 5, then 10, 20, 50 images per class for the leaders) are
extracted once per image, not once per rung.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import cache_dir
from ..errors import FmcError, InputError, ModelLoadError
from ..records import ModelRecord
from ..registry.artifacts import write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry

__all__ = ["ExtractedFeatures", "extract_features", "feature_cache_key", "features_memo", "images_hash",
           "min_input_size", "progress_bar"]

FORMAT_VERSION = 2   # 2: TFLite input quantization from the model; no fake head for embedding files


@dataclass
class ExtractedFeatures:
    """``features (N, D)`` float32, ``probs (N, Z)`` float32 or None, extraction ``seconds``, ``cached`` flag."""

    features: np.ndarray
    probs: np.ndarray | None
    seconds: float
    cached: bool
    layer: str
    key: str


#: per-model memory of image features inside a features_memo() block: {weights key: {"layer": name, image hash:
#: (features row, probs row or None)}}
_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fmc_features_memo", default=None)


@contextlib.contextmanager
def features_memo() -> Iterator[None]:
    """Remember every image's features per model within this block (module docstring); forgotten after it."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _each_image_hash(images: np.ndarray) -> list[str]:
    head = json.dumps([list(images.shape[1:]), str(images.dtype)]).encode()
    return [hashlib.sha256(head + memoryview(np.ascontiguousarray(image)).cast("B")).hexdigest()
            for image in images]


def _extract_remembering(memo: dict, key: str, extract, images: np.ndarray):
    """``extract(images)`` -> ``(features, probs, layer)`` for the images not in ``memo[key]`` only; the
    assembled ``(features, probs, layer)`` of all ``images``."""
    seen = memo.setdefault(key, {})
    hashes = _each_image_hash(images)
    new: list[int] = []
    claimed: set[str] = set()     # a repeated image is extracted once
    for i, h in enumerate(hashes):
        if h not in seen and h not in claimed:
            claimed.add(h)
            new.append(i)
    if new:
        feats, probs, layer = extract(images[new])
        seen["layer"] = layer
        for j, i in enumerate(new):
            seen[hashes[i]] = (feats[j], None if probs is None else probs[j])
    rows = [seen[h] for h in hashes]        # every image now has its (features, probs)
    probs = None if rows[0][1] is None else np.stack([r[1] for r in rows])
    return np.stack([r[0] for r in rows]), probs, seen["layer"]


def images_hash(images: np.ndarray) -> str:
    """sha256 of the images' shape, dtype and bytes."""
    arr = np.ascontiguousarray(images)
    digest = hashlib.sha256(json.dumps([list(arr.shape), str(arr.dtype)]).encode())
    digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()


def min_input_size(record: ModelRecord) -> int:
    """The smallest input side the model's architecture accepts (used for clear errors on tiny images)."""
    from .sources import source_of

    return source_of(record).min_input_size(record)


def feature_cache_key(record: ModelRecord, data_hash: str, layer: str | None = None) -> str:
    """The cache key of ``record``'s features on the images with ``data_hash``."""
    from .sources import source_of

    weights = source_of(record).weights_identity(record)
    parts = [FORMAT_VERSION, record.id, record.name, record.version, record.source_kind, weights, data_hash,
             record.preprocessing, record.input_size, layer]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _cache_path(key: str) -> Path:
    return cache_dir() / "features" / key[:2] / f"{key}.npz"


def _read_cache(key: str) -> tuple[np.ndarray, np.ndarray | None, str] | None:
    path = _cache_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            probs = npz["probs"] if "probs" in npz.files else None
            return npz["features"], probs, str(npz["layer"])
    except Exception:  # a corrupt or partial cache file is recomputed
        return None


def _write_cache(key: str, features: np.ndarray, probs: np.ndarray | None, layer: str) -> None:
    path = _cache_path(key)
    arrays = {"features": features, "layer": np.array(layer)}
    if probs is not None:
        arrays["probs"] = probs
    write_atomic(path, lambda fh: np.savez(fh, **arrays))


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar over ``total`` images (disabled when ``enabled`` is false)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def extract_features(record: ModelRecord, images: np.ndarray, registry: "Registry | None" = None, *,
                     layer: str | None = None, data_hash: str | None = None, batch_size: int = 32,
                     cache: bool = True, progress: bool = True) -> ExtractedFeatures:
    """Features ``(N, D)`` (and head probabilities ``(N, Z)`` where available) of ``record`` on ``images``.

    ``images (N, H, W, 3)``: 0..255 RGB, uint8 or float (never modified). ``layer`` names a layer of a user
    Keras file to read instead of the penultimate one. Cached on disk (see the module docstring).
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"images must have shape (N, H, W, 3), got {images.shape}")
    from .sources import source_of

    source = source_of(record)
    if layer and not source.reads_layers:
        raise InputError(f"layer= only applies to models stored as Keras files; {record.ref} is a {source.kind}")
    key = feature_cache_key(record, data_hash or images_hash(images), layer)
    if cache:
        hit = _read_cache(key)
        if hit is not None:
            return ExtractedFeatures(hit[0], hit[1], 0.0, True, hit[2], key)
    t0 = time.perf_counter()

    def extract(some: np.ndarray):
        return source.features(record, some, registry, layer=layer, batch_size=batch_size, progress=progress)

    memo = _MEMO.get()
    try:
        feats, probs, name = extract(images) if memo is None else \
            _extract_remembering(memo, feature_cache_key(record, "", layer), extract, images)
    except FmcError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"cannot extract features of {record.ref}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    seconds = time.perf_counter() - t0
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    if not np.isfinite(feats).all():
        raise ModelLoadError(f"{record.ref} produced NaN or infinite features; check its preprocessing")
    if cache:
        _write_cache(key, feats, probs, name)
    return ExtractedFeatures(feats, probs, seconds, False, name, key)
