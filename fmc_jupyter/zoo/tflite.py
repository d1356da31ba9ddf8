"""TFLite access (the only place besides the TFDS input path that touches ``tf.`` directly)."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["tflite_interpreter"]


def tflite_interpreter(path: str | Path, preserve_all_tensors: bool = False):
    """An allocated ``tf.lite.Interpreter`` for ``path`` (all tensors kept when asked, for penultimate features)."""
    import tensorflow as tf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter is deprecated in favour of ai-edge-litert
            interp = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve_all_tensors)
        interp.allocate_tensors()
    except Exception as exc:
        raise ModelLoadError(f"cannot load TFLite model {Path(path).name}: {exc}") from exc
    return interp
