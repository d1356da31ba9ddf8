"""Batch sizes: defaults, recognising out-of-memory errors, and predicting with halving on OOM."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

__all__ = ["is_out_of_memory", "auto_batch_size", "predict_in_batches", "MIN_BATCH_SIZE"]

MIN_BATCH_SIZE = 1
_OOM_TEXT = ("RESOURCE_EXHAUSTED", "out of memory", "OOM when allocating", "CUDA_ERROR_OUT_OF_MEMORY")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the backend's device out-of-memory error.

    TensorFlow: ``tf.errors.ResourceExhaustedError``; JAX/XLA: ``XlaRuntimeError`` whose message
    starts with ``RESOURCE_EXHAUSTED``; PyTorch: ``torch.OutOfMemoryError``. Only backends already
    imported are consulted (nothing is imported here).
    """
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(exc, getattr(getattr(tf, "errors", None), "ResourceExhaustedError", ())):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    if type(exc).__name__ in ("XlaRuntimeError", "JaxRuntimeError", "RuntimeError", "InternalError"):
        return any(t in str(exc) for t in _OOM_TEXT)
    return False


def auto_batch_size(n_train: int, frozen_features: bool) -> int:
    """The starting size for ``batch_size="auto"``: large, halved later on out-of-memory.

    ``min(cap, 2**floor(log2(n_train / 8)))`` with ``cap`` 256 when training a head on features and
    128 on images, and at least 8: large enough to fill a device, small enough to give every epoch at
    least ~8 updates.
    """
    cap = 256 if frozen_features else 128
    size = 2 ** int(np.floor(np.log2(max(n_train / 8, 1))))
    return int(max(8, min(cap, size)))


def predict_in_batches(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch_size: int,
                       on_change: Callable[[int, int, BaseException], None] | None = None,
                       progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
    """``predict`` over ``x`` in batches; on out-of-memory halve the batch and redo that batch.

    A last, partial batch is padded (repeating its last row) to the full batch size and the padding's
    outputs dropped: every call then has the same shape, so a compiled (traced or XLA) predict function
    is reused instead of being rebuilt for the odd size.
    Returns ``(outputs concatenated along axis 0, final batch size)``.
    """
    outputs, start = [], 0
    while start < len(x):
        chunk = x[start:start + batch_size]
        n = len(chunk)
        if n < batch_size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - n, axis=0)])
        try:
            out = np.asarray(predict(chunk))[:n]
        except Exception as exc:
            if not is_out_of_memory(exc) or batch_size <= MIN_BATCH_SIZE:
                raise
            new = max(MIN_BATCH_SIZE, batch_size // 2)
            if on_change:
                on_change(batch_size, new, exc)
            batch_size = new
            continue
        outputs.append(out)
        start += n
        if progress:
            progress(n)
    return np.concatenate(outputs, axis=0), batch_size
