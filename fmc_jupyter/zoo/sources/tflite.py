"""TFLite model files (``.tflite``) stored in the registry's artifact store.

Registration checks the FlatBuffer identifier in this process and runs the interpreter only in the limited
worker (:mod:`.untrusted`): a truncated file segfaults ``tf.lite.Interpreter``, which must not take the caller
down. Features are the pooled tensor that feeds the logits (found by walking the graph back from the output),
or the output itself for embedding extractors; uint8/int8 inputs as the input details say; tensors are
de-quantized with their scale and zero point. TFLite models are not fine-tuned or diffed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelLoadError
from ...records import ModelRecord
from .base import ModelSource, register_source
from .preprocessing import preprocess_by_mode, resize_images

if TYPE_CHECKING:  # pragma: no cover
    from ...registry import Registry
    from .layers import LayerReader

__all__ = ["TFLiteSource", "tflite_interpreter", "tflite_input"]

_NO_DIFF = "diff compares Keras models (.keras, .h5). Compare TFLite models by their evaluations instead (fmc.evaluate)"


def tflite_interpreter(path: str | Path, preserve_all_tensors: bool = False):
    """An allocated ``tf.lite.Interpreter`` for ``path`` (all tensors kept when asked, for penultimate features)."""
    import warnings

    import tensorflow as tf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter is deprecated in favour of ai-edge-litert
            interp = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve_all_tensors)
        interp.allocate_tensors()
    except Exception as exc:
        raise ModelLoadError(f"cannot load TFLite model {Path(path).name}: {str(exc)[:300]}") from None
    return interp


def tflite_facts(path: str) -> dict[str, Any]:
    """Facts of a TFLite file (runs in the limited worker)."""
    interp = tflite_interpreter(path)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    shape, out_shape = [int(d) for d in inp["shape"]], [int(d) for d in out["shape"]]
    params = sum(int(t["shape"].prod()) for t in interp.get_tensor_details()
                 if t["shape"].size and t["name"] and "weights" in t["name"].lower())
    return {
        "source_kind": "tflite_file", "format": "tflite",
        "source": {"format": "tflite", "input_shape": shape[1:], "input_dtype": str(inp["dtype"].__name__),
                   "output_shape": out_shape[1:], "quantization": [float(q) for q in inp["quantization"]]},
        "params": params or None, "input_size": shape[1] if len(shape) == 4 else None,
        "num_classes": out_shape[-1] if len(out_shape) == 2 else None,
        "preprocessing": "uint8" if inp["dtype"].__name__ == "uint8" else "tf",
    }


def _feature_tensor(interp) -> tuple[int, int | None]:
    """(index of the feature tensor, index of the class-probability output or None)."""
    out = interp.get_output_details()[0]
    out_shape = [int(d) for d in out["shape"]]
    if len(out_shape) == 4 or len(out_shape) == 2 and out_shape[-1] <= 1:
        return out["index"], None          # an embedding extractor: the output is the feature
    details = {t["index"]: t for t in interp.get_tensor_details()}
    producers = {}
    for op in interp._get_ops_details():  # noqa: SLF001 - the only way to see the graph
        for o in op["outputs"]:
            producers[int(o)] = op
    classes = out_shape[-1]
    current = out["index"]
    for _ in range(12):
        op = producers.get(current)
        if op is None:
            break
        acts = [int(i) for i in op["inputs"] if int(i) >= 0 and int(i) in details
                and len(details[int(i)]["shape"]) in (2, 4) and int(details[int(i)]["shape"][0]) == 1
                and int(i) not in (current,)]
        if not acts:
            break
        current = acts[0]
        if int(details[current]["shape"][-1]) != classes:
            return current, out["index"]
    pools = [i for i, t in details.items() if "pool" in t["name"].lower() and len(t["shape"]) in (2, 4)]
    if pools:
        return max(pools), out["index"]
    raise ModelLoadError("cannot find the pooled features before the logits in this TFLite model; "
                         "register an embedding-extractor version of it instead")


def _dequantize(arr: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if arr.dtype in (np.uint8, np.int8, np.int16, np.int32) and scale:
        return (arr.astype(np.float32) - zero) * scale
    return arr.astype(np.float32)


class TFLiteSource(ModelSource):
    """A user's TFLite file in the artifact store (``source_kind = tflite_file``); inference only."""

    kind = "tflite_file"
    format = "tflite"
    trainable = False
    suffixes = (".tflite",)

    def inspect(self, target: str | Path) -> dict[str, Any]:
        from .untrusted import precheck, run_isolated

        path = precheck(target, "tflite")
        return run_isolated(tflite_facts, str(path), what=path.name)

    def build(self, record: ModelRecord, registry: "Registry | None" = None, *, head: bool = True) -> Any:
        raise ModelLoadError(f"{record.ref} is a TFLite model, not a Keras model; it can be ranked but not "
                             "fine-tuned, evaluated as a Keras model or diffed. Register a Keras .keras/.h5 file of it")

    def preprocess(self, record: ModelRecord, images: np.ndarray) -> np.ndarray:
        return preprocess_by_mode(record, images)

    def features(self, record: ModelRecord, images: np.ndarray, registry: "Registry | None" = None, *,
                 layer: str | None = None, batch_size: int = 32,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray | None, str]:
        from ...errors import InputError
        from ..features import progress_bar

        if layer:
            raise InputError(f"layer= only applies to models stored as Keras files; {record.ref} is a {self.kind}")
        if registry is None:
            raise ModelLoadError(f"{record.ref} is a stored file; pass the registry to load it")
        interp = tflite_interpreter(registry.artifact_path(record), preserve_all_tensors=True)
        inp = interp.get_input_details()[0]
        shape = [int(d) for d in inp["shape"]]
        if len(shape) != 4 or shape[3] != 3:
            raise ModelLoadError(f"{record.ref} takes inputs of shape {shape}, not (1, H, W, 3) images")
        feat_idx, prob_idx = _feature_tensor(interp)
        details = {t["index"]: t for t in interp.get_tensor_details()}
        size = shape[1]
        feats = np.empty((len(images), int(np.prod(details[feat_idx]["shape"][1:]))), dtype=np.float32)
        probs = None
        if prob_idx is not None:
            probs = np.empty((len(images), int(details[prob_idx]["shape"][-1])), dtype=np.float32)
        with progress_bar(len(images), record.ref, progress) as bar:
            for start in range(0, len(images), 64):
                chunk = tflite_input(resize_images(images[start:start + 64], size), inp, record.preprocessing)
                for j in range(len(chunk)):
                    interp.set_tensor(inp["index"], chunk[j:j + 1])
                    interp.invoke()
                    feats[start + j] = _dequantize(interp.get_tensor(feat_idx), details[feat_idx]).reshape(-1)
                    if probs is not None:
                        probs[start + j] = _dequantize(interp.get_tensor(prob_idx), details[prob_idx]).reshape(-1)
                    bar.update(1)
        if probs is not None:
            probs = np.maximum(probs, 0)
            sums = probs.sum(axis=1, keepdims=True)
            if (sums <= 0).any() or (probs.max() > 1.5):  # logits, not probabilities
                probs = np.exp(probs - probs.max(axis=1, keepdims=True))
                sums = probs.sum(axis=1, keepdims=True)
            probs = probs / sums
        return feats, probs, details[feat_idx]["name"].split(";")[0]

    def layer_reader(self, record: ModelRecord, registry: "Registry | None" = None, *, mode: str = "auto",
                     label: str | None = None) -> tuple["LayerReader", list[str]]:
        raise ModelLoadError(f"{label or record.ref} is a TFLite model; {_NO_DIFF}")

    def file_reader(self, path: Path, label: str, mode: str) -> tuple["LayerReader", list[str]]:
        raise ModelLoadError(f"{label} is a TFLite model; {_NO_DIFF}")


def tflite_input(pixels: np.ndarray, detail: dict, preprocessing: str | None = None) -> np.ndarray:
    """0..255 RGB ``pixels (N, S, S, 3)`` as the TFLite input tensor ``detail`` wants them.

    The real-valued range the model was calibrated on is read from the input's quantization ``(scale, zero
    point)``: a quantized input represents ``[(q_min - zero) * scale, (q_max - zero) * scale]``; ``~[-1, 1]``
    means ``x / 127.5 - 1``, ``~[0, 1]`` means ``x / 255``, anything wider means raw pixels. The real values
    are then quantized with that scale and zero point, ``q = clip(round(x / scale + zero))``. A float input
    gets ``preprocessing`` (``unit``: [0, 1], ``raw``/``uint8``/``none``: 0..255, else ``tf``: [-1, 1]).
    """
    dtype = np.dtype(detail["dtype"])
    scale, zero = (detail.get("quantization") or (0.0, 0))[:2]
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        lo, hi = (info.min - zero) * scale, (info.max - zero) * scale
        real = pixels / 255.0 if lo > -0.1 and hi < 1.5 else pixels / 127.5 - 1.0 if hi < 1.5 else pixels
        return np.clip(np.round(real / scale + zero), info.min, info.max).astype(dtype)
    if np.issubdtype(dtype, np.integer):          # integer input without quantization: raw pixels
        info = np.iinfo(dtype)
        return np.clip(np.round(pixels), info.min, info.max).astype(dtype)
    mode = (preprocessing or "tf").lower()
    real = pixels / 255.0 if mode == "unit" else pixels if mode in ("raw", "uint8", "none", "in-model") \
        else pixels / 127.5 - 1.0
    return real.astype(dtype)



register_source(TFLiteSource())
