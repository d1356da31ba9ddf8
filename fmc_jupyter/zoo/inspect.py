"""Facts about a user's model file, read by loading it safely (Keras or TFLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

__all__ = ["inspect_model_file", "load_keras_file"]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def _weights_only_h5(path: Path) -> bool:
    """True for an HDF5 file saved by ``save_weights`` (layer weights, no ``model_config``)."""
    if path.suffix.lower() not in (".h5", ".hdf5"):
        return False
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return "model_config" not in fh.attrs and "layer_names" in fh.attrs
    except OSError:
        return False


def load_keras_file(path: str | Path):
    """``keras.models.load_model(path, compile=False, safe_mode=True)`` with errors a user can act on."""
    import keras

    path = Path(path)
    if _weights_only_h5(path):
        raise ModelLoadError(
            f"{path.name} holds only weights, no architecture. Build the architecture in Keras, call "
            f"model.load_weights('{path.name}'), save it with model.save('model.keras') and register that file.")

    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=True)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower() or "lambda" in str(exc).lower():
            raise ModelLoadError(
                f"{Path(path).name} carries Python code (e.g. a Lambda layer) and is refused for safety. "
                "Rebuild the model without Lambda layers, or register it as a TFLite file.") from exc
        raise ModelLoadError(f"cannot load Keras model {Path(path).name}: {exc}") from exc
    except Exception as exc:  # corrupt file, unknown custom layer, ...
        raise ModelLoadError(f"cannot load Keras model {Path(path).name}: {type(exc).__name__}: {exc}") from exc


def _keras_facts(path: Path) -> dict[str, Any]:
    model = load_keras_file(path)
    in_shape = model.inputs[0].shape if model.inputs else None
    out_shape = model.outputs[0].shape if model.outputs else None
    size = int(in_shape[1]) if in_shape is not None and len(in_shape) == 4 and in_shape[1] else None
    return {
        "source_kind": "keras_file",
        "source": {"format": path.suffix.lstrip("."), "input_shape": [d for d in (in_shape or [])][1:],
                   "output_shape": [d for d in (out_shape or [])][1:], "class_name": type(model).__name__},
        "params": int(model.count_params()), "input_size": size, "depth": len(model.layers),
        "num_classes": int(out_shape[-1]) if out_shape is not None and len(out_shape) == 2 else None,
        "architecture": model.name,
    }


def _tflite_facts(path: Path) -> dict[str, Any]:
    from .tflite import tflite_interpreter

    interp = tflite_interpreter(path)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    shape, out_shape = [int(d) for d in inp["shape"]], [int(d) for d in out["shape"]]
    params = sum(int(t["shape"].prod()) for t in interp.get_tensor_details()
                 if t["shape"].size and t["name"] and "weights" in t["name"].lower())
    return {
        "source_kind": "tflite_file",
        "source": {"format": "tflite", "input_shape": shape[1:], "input_dtype": str(inp["dtype"].__name__),
                   "output_shape": out_shape[1:], "quantization": [float(q) for q in inp["quantization"]]},
        "params": params or None, "input_size": shape[1] if len(shape) == 4 else None,
        "num_classes": out_shape[-1] if len(out_shape) == 2 else None,
        "preprocessing": "uint8" if inp["dtype"].__name__ == "uint8" else "tf",
    }


def inspect_model_file(path: str | Path) -> dict[str, Any]:
    """Load ``path`` and return the facts the registry records (source_kind, params, input_size, ...)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return _keras_facts(path)
    if suffix == ".tflite":
        return _tflite_facts(path)
    raise ModelLoadError(f"{path.name}: unsupported model file; use a Keras file (.keras, .h5) or a TFLite file (.tflite)")
