"""Resizing and the named preprocessing modes shared by the sources that record a mode instead of carrying one."""

from __future__ import annotations

import numpy as np

from ...records import ModelRecord

__all__ = ["resize_images", "preprocess_by_mode", "AFFINE_MODES"]

#: every mode is a per-channel affine map of the pixels, so it commutes with bilinear resizing
AFFINE_MODES = ("tf", "caffe", "torch", "unit", "in-model", "none", "uint8")


def resize_images(images: np.ndarray, size: int, batch_size: int = 256) -> np.ndarray:
    """Bilinear resize ``(N, H, W, 3)`` -> ``(N, size, size, 3)`` float32 (a new array; input untouched)."""
    if images.shape[1] == size and images.shape[2] == size:
        return images.astype(np.float32)
    import keras

    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].astype(np.float32)
        out[start:start + batch_size] = keras.ops.convert_to_numpy(
            keras.ops.image.resize(chunk, (size, size), interpolation="bilinear", antialias=max(chunk.shape[1], chunk.shape[2]) > size))
    return out


def preprocess_by_mode(record: ModelRecord, images: np.ndarray) -> np.ndarray:
    """Resize to the record's input size and apply its recorded mode; float32 ``(N, S, S, 3)``.

    ``tf``: x/127.5 - 1; ``torch``/``caffe`` as ``keras.applications.imagenet_utils.preprocess_input``;
    ``in-model``/``none``/``uint8``: 0..255 passed through; default (``unit``): x/255.
    """
    size = int(record.input_size or images.shape[1])
    x = resize_images(images, size)
    mode = (record.preprocessing or "unit").lower()
    if mode in ("tf", "caffe", "torch"):
        import keras

        return np.asarray(keras.applications.imagenet_utils.preprocess_input(x, mode=mode), dtype=np.float32)
    if mode in ("in-model", "none", "uint8"):
        return x
    return x / 255.0
