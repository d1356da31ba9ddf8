"""Which device Keras computes on, in words (recorded with every run)."""

from __future__ import annotations

__all__ = ["describe_device"]


def describe_device() -> str:
    """``"<backend>:<device>"``, e.g. ``tensorflow:cpu`` or ``jax:gpu (NVIDIA H200)``."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"tensorflow:gpu ({details.get('device_name', gpus[0].name)})"
            return "tensorflow:cpu"
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            kind = getattr(dev, "device_kind", "")
            return f"jax:{dev.platform}" + (f" ({kind})" if kind and dev.platform != "cpu" else "")
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"torch:cuda ({torch.cuda.get_device_name(0)})"
            return "torch:cpu"
    except Exception:  # pragma: no cover - device queries are informative only
        pass
    return f"{backend}:unknown"
