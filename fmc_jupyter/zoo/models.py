"""Building Keras models from registry records, and their input preprocessing: each asks the record's source."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..records import ModelRecord
from .sources.preprocessing import resize_images

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry

__all__ = ["build_keras_model", "preprocess_images", "resize_images"]


def build_keras_model(record: ModelRecord, registry: "Registry | None" = None, *, include_top: bool = False,
                      pooling: str | None = "avg", weights: str | None = "imagenet"):
    """A Keras model for ``record``: the classifier (``include_top=True``) or its pooled backbone.

    Stored Keras files always come whole (``include_top`` only matters for library-built models).
    ``weights=None`` (Keras Applications only) builds the architecture with random weights.
    """
    from .sources import source_of

    source = source_of(record)
    if weights is None and hasattr(source, "weight_file"):
        return source.build(record, registry, head=include_top, weights=None)
    if source.kind == "keras_file":
        return source.build(record, registry, head=True)
    return source.build(record, registry, head=include_top)


def preprocess_images(record: ModelRecord, images: np.ndarray) -> np.ndarray:
    """The record's own preprocessing of 0..255 RGB ``(N, H, W, 3)``: float32 ``(N, S, S, 3)``."""
    from .sources import source_of

    return source_of(record).preprocess(record, images)
