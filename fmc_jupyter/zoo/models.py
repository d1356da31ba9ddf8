"""Building Keras models from registry records, and their input preprocessing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelLoadError
from ..records import ModelRecord

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry

__all__ = ["build_keras_model", "preprocess_images", "resize_images"]


def build_keras_model(record: ModelRecord, registry: "Registry | None" = None, *, include_top: bool = False,
                      pooling: str | None = "avg", weights: str | None = "imagenet"):
    """A Keras model for ``record``.

    - ``keras_application``: ``keras.applications.<constructor>(include_top, weights, input_shape, pooling, **kwargs)``;
      weights come through Keras's own loader and cache (see :mod:`.keras_home` for offline use).
    - ``keras_file``: the stored file, loaded with ``safe_mode=True`` (``include_top`` is ignored: the whole
      model is returned).
    """
    import keras

    if record.source_kind == "keras_application":
        source = record.source if isinstance(record.source, dict) else json.loads(record.source)
        ctor = getattr(keras.applications, source["constructor"], None)
        if ctor is None:
            raise ModelLoadError(f"keras.applications has no {source['constructor']} in Keras {keras.__version__}")
        size = int(record.input_size or 224)
        kwargs: dict[str, Any] = dict(source.get("kwargs", {}))
        kwargs.update(include_top=include_top, weights=weights)
        if not include_top:
            kwargs.update(input_shape=(size, size, 3), pooling=pooling)
        try:
            return ctor(**kwargs)
        except Exception as exc:
            hint = ""
            if weights and ("URL" in str(exc) or "fetch" in str(exc).lower() or "resolve" in str(exc).lower()):
                hint = (" The weights are not in Keras's cache and cannot be downloaded here; put the weight file "
                        "under $KERAS_HOME/models (fmc_jupyter.zoo.use_weights_dir) or use a machine with internet.")
            raise ModelLoadError(f"cannot build {record.ref}: {type(exc).__name__}: {exc}.{hint}") from exc
    if record.source_kind == "keras_file":
        if registry is None:
            raise ModelLoadError(f"{record.ref} is a stored file; pass the registry to load it")
        from .inspect import load_keras_file

        return load_keras_file(registry.artifact_path(record))
    raise ModelLoadError(f"{record.ref} is a {record.source_kind}, not a Keras model")


def resize_images(images: np.ndarray, size: int, batch_size: int = 256) -> np.ndarray:
    """Bilinear resize ``(N, H, W, 3)`` -> ``(N, size, size, 3)`` float32 (a new array; input untouched).

    Antialiased when either side shrinks (scale factor ``size / H`` or ``size / W`` below 1), so wide or tall
    images are filtered along the side that is downsampled."""
    if images.shape[1] == size and images.shape[2] == size:
        return images.astype(np.float32)
    import keras

    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].astype(np.float32)
        out[start:start + batch_size] = keras.ops.convert_to_numpy(
            keras.ops.image.resize(chunk, (size, size), interpolation="bilinear", antialias=max(chunk.shape[1], chunk.shape[2]) > size))
    return out


def preprocess_images(record: ModelRecord, images: np.ndarray) -> np.ndarray:
    """Resize to the model's input size and apply its preprocessing; float32 ``(N, S, S, 3)``.

    ``images`` are 0..255 RGB (uint8 or float). Catalog models use their own
    ``keras.applications.<module>.preprocess_input``; ``in-model`` preprocessing passes 0..255 through;
    user files use the mode recorded for them (``tf``: [-1, 1], ``torch``/``caffe`` as in Keras, default 0..1
    for ``unit``).
    """
    import keras

    size = int(record.input_size or images.shape[1])
    x = resize_images(images, size)
    mode = (record.preprocessing or "unit").lower()
    if record.source_kind == "keras_application":
        source = record.source if isinstance(record.source, dict) else json.loads(record.source)
        module = getattr(keras.applications, source["module"])
        return np.asarray(module.preprocess_input(x), dtype=np.float32)
    if mode in ("tf", "caffe", "torch"):
        return np.asarray(keras.applications.imagenet_utils.preprocess_input(x, mode=mode), dtype=np.float32)
    if mode in ("in-model", "none", "uint8"):
        return x
    return x / 255.0
