"""Feature extraction for every kind of catalog entry, with an on-disk cache.

``extract_features(record, images, registry)`` returns the penultimate features ``(N, D)`` of a model on
``images (N, H, W, 3)`` (0..255 RGB), plus the source head's class probabilities ``(N, Z)`` where the model has
a usable head (for LEEP / NCE):

- ``keras_application``: ``zoo.build_keras_model(include_top=False, pooling="avg")`` (Keras's own weight loader)
  on ``zoo.preprocess_images`` (the model's own ``preprocess_input`` at its input size). No head probabilities:
  the ImageNet top layer is not loaded (it needs another weight download).
- ``keras_file``: the stored file (``safe_mode``); features are the input of the last layer (the penultimate
  layer) or the output of the layer named by ``layer`` (4-D outputs are global-average pooled); the model's own
  output becomes the head probabilities when it is a classifier (softmax applied when the last layer is linear).
- ``tflite_file``: the pooled tensor that feeds the logits (found by walking the graph back from the output), or
  the output itself for embedding extractors (``(1, 1, 1, D)`` / no classifier head); uint8 (or int8) quantized
  input as the input details say; tensors are de-quantized with their scale and zero point. Classifier outputs
  become the head probabilities.

Features are cached under ``config.cache_dir()/features`` keyed by sha256 of (model id, version, weights
identity: artifact sha256 or constructor/kwargs/weights, data hash, preprocessing, input size, layer, format
version), so re-ranking the same images, or with another method, skips extraction.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import cache_dir
from ..errors import FmcError, InputError, ModelLoadError
from ..records import ModelRecord
from ..registry.artifacts import write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry

__all__ = ["ExtractedFeatures", "extract_features", "feature_cache_key", "images_hash", "min_input_size",
           "tflite_input"]

FORMAT_VERSION = 2
#: smallest input side Keras accepts for these application constructors (default 32)
_MIN_SIDE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetLarge": 32, "NASNetMobile": 32}


@dataclass
class ExtractedFeatures:
    """``features (N, D)`` float32, ``probs (N, Z)`` float32 or None, extraction ``seconds``, ``cached`` flag."""

    features: np.ndarray
    probs: np.ndarray | None
    seconds: float
    cached: bool
    layer: str
    key: str


def images_hash(images: np.ndarray) -> str:
    """sha256 of the images' shape, dtype and bytes."""
    arr = np.ascontiguousarray(images)
    digest = hashlib.sha256(json.dumps([list(arr.shape), str(arr.dtype)]).encode())
    digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()


def _source(record: ModelRecord) -> dict[str, Any]:
    return record.source if isinstance(record.source, dict) else json.loads(record.source or "{}")


def min_input_size(record: ModelRecord) -> int:
    """The smallest input side the model's architecture accepts (used for clear errors on tiny images)."""
    if record.source_kind == "keras_application":
        return _MIN_SIDE.get(_source(record).get("constructor", ""), 32)
    return 1


def feature_cache_key(record: ModelRecord, data_hash: str, layer: str | None = None) -> str:
    """The cache key of ``record``'s features on the images with ``data_hash``."""
    weights = record.sha256 or json.dumps(_source(record), sort_keys=True)
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


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def _check_size(record: ModelRecord, images: np.ndarray) -> int:
    size = int(record.input_size or min(images.shape[1], images.shape[2]))
    need = min_input_size(record)
    if size < need:
        raise InputError(f"images of {images.shape[1]}x{images.shape[2]} px are too small for {record.ref}: it needs "
                         f"at least {need}x{need}; upscale the images or choose another model")
    return size


def _keras_application(record, images, batch_size, progress):
    from .models import build_keras_model, preprocess_images

    _check_size(record, images)
    model = build_keras_model(record, include_top=False, pooling="avg")
    out = []
    with _progress(len(images), record.ref, progress) as bar:
        for start in range(0, len(images), batch_size):
            x = preprocess_images(record, images[start:start + batch_size])
            out.append(np.asarray(model.predict_on_batch(x)))    # compiled once; faster than eager calls
            bar.update(len(x))
    return np.concatenate(out).reshape(len(images), -1), None, "global_average_pool"


def _keras_file(record, images, registry, layer, batch_size, progress):
    import keras

    from .inspect import load_keras_file
    from .models import preprocess_images

    if registry is None:
        raise ModelLoadError(f"{record.ref} is a stored file; pass the registry to load it")
    model = load_keras_file(registry.artifact_path(record))
    if not model.inputs:
        raise ModelLoadError(f"{record.ref} has no defined input; save it as a functional model")
    in_shape = model.inputs[0].shape
    size = int(in_shape[1]) if in_shape[1] else None
    if size is None and record.input_size is None:
        _check_size(record, images)
    feature_tensor, head, name = _keras_feature_and_head(model, layer, record)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, [feature_tensor] + ([head] if head is not None else []))
    rec = record if record.input_size or size is None else _with_size(record, size)
    side = int(rec.input_size or 0)
    h, w = (side, side) if side else (images.shape[1], images.shape[2])
    try:  # symbolic shapes: a variable-size model says clearly when the images are too small for it
        extractor.compute_output_spec(keras.KerasTensor((1, h, w, 3)))
    except Exception as exc:
        raise InputError(f"images of {h}x{w} px are too small for {record.ref} (or do not fit its input): "
                         f"{str(exc)[:200]}; upscale the images or choose another model") from exc
    feats, heads = [], []
    with _progress(len(images), record.ref, progress) as bar:
        for start in range(0, len(images), batch_size):
            x = preprocess_images(rec, images[start:start + batch_size])
            try:
                got = extractor.predict_on_batch(x)
            except Exception as exc:
                raise ModelLoadError(f"{record.ref} failed on images of {x.shape[1]}x{x.shape[2]} px: "
                                     f"{type(exc).__name__}: {str(exc)[:300]}") from exc
            f = np.asarray(got[0] if isinstance(got, (list, tuple)) else got)
            if f.ndim == 4:
                f = f.mean(axis=(1, 2))
            feats.append(f.reshape(len(f), -1))
            if head is not None:
                heads.append(np.asarray(got[1]).reshape(len(f), -1))
            bar.update(len(x))
    if head is None:
        return np.concatenate(feats), None, name
    return np.concatenate(feats), _as_probabilities(np.concatenate(heads).astype(np.float64)), name


def _producer(tensor):
    """``(operation, its input tensors)`` that computed a symbolic Keras tensor in its model's graph."""
    op, node_index, _ = tensor._keras_history  # noqa: SLF001 - Keras 3's record of the graph
    return op, list(op._inbound_nodes[node_index].input_tensors)  # noqa: SLF001


def _keras_feature_and_head(model, layer: str | None, record: ModelRecord):
    """``(feature tensor, classifier output tensor or None, description)`` of a stored Keras model.

    The classifier output is the first 2-D output computed by a ``Dense`` layer, a (1x1) ``Conv2D`` or a nested
    model (a model fine-tuned here is ``Input -> backbone -> head model``), through any trailing activation,
    reshape, flatten or dropout;
    the features are that layer's input *in the outer graph*. Several outputs: the first classifier output
    wins. No classifier output (an embedding model): the first output is the feature and there is no head.
    """
    import keras

    _PASS_THROUGH = (keras.layers.Activation, keras.layers.Softmax, keras.layers.Reshape, keras.layers.Flatten,
                     keras.layers.Dropout)
    chosen = None
    for out in model.outputs:
        if len(out.shape) != 2:
            continue
        op, ins = _producer(out)
        while not op.weights and len(ins) == 1 and isinstance(op, _PASS_THROUGH):
            op, ins = _producer(ins[0])
        if isinstance(op, (keras.layers.Dense, keras.layers.Conv2D, keras.Model)) and len(ins) == 1:
            chosen = (ins[0], out, op.name)
            break
    if layer:
        try:
            feature_tensor = model.get_layer(layer).output
        except ValueError:
            names = [lay.name for lay in model.layers]
            raise InputError(f"{record.ref} has no layer {layer!r}; its layers end with {names[-6:]}") from None
        return feature_tensor, chosen[1] if chosen else None, layer
    if chosen is None:
        return model.outputs[0], None, f"output of {model.layers[-1].name}"
    return chosen[0], chosen[1], f"input of {chosen[2]}"


def _as_probabilities(out: np.ndarray) -> np.ndarray:
    """Head outputs ``(N, Z)`` as class probabilities: kept when they already are (rows in [0, 1] summing to 1),
    else softmax of logits; one sigmoid column ``p`` becomes ``[1 - p, p]``."""
    if out.shape[1] == 1:
        p = out[:, 0] if (out >= 0).all() and (out <= 1).all() else 1 / (1 + np.exp(-out[:, 0]))
        return np.stack([1 - p, p], axis=1).astype(np.float32)
    if (out >= 0).all() and np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        return out.astype(np.float32)
    probs = np.exp(out - out.max(axis=1, keepdims=True))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def _with_size(record: ModelRecord, size: int) -> ModelRecord:
    from dataclasses import replace

    return replace(record, input_size=size)


def _tflite_feature_tensor(interp) -> tuple[int, int | None]:
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


def _tflite_file(record, images, registry, progress):
    from .models import resize_images
    from .tflite import tflite_interpreter

    if registry is None:
        raise ModelLoadError(f"{record.ref} is a stored file; pass the registry to load it")
    interp = tflite_interpreter(registry.artifact_path(record), preserve_all_tensors=True)
    inp = interp.get_input_details()[0]
    shape = [int(d) for d in inp["shape"]]
    if len(shape) != 4 or shape[3] != 3:
        raise ModelLoadError(f"{record.ref} takes inputs of shape {shape}, not (1, H, W, 3) images")
    feat_idx, prob_idx = _tflite_feature_tensor(interp)
    details = {t["index"]: t for t in interp.get_tensor_details()}
    size = shape[1]
    feats = np.empty((len(images), int(np.prod(details[feat_idx]["shape"][1:]))), dtype=np.float32)
    probs = None
    if prob_idx is not None:
        probs = np.empty((len(images), int(details[prob_idx]["shape"][-1])), dtype=np.float32)
    with _progress(len(images), record.ref, progress) as bar:
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


def extract_features(record: ModelRecord, images: np.ndarray, registry: "Registry | None" = None, *,
                     layer: str | None = None, data_hash: str | None = None, batch_size: int = 32,
                     cache: bool = True, progress: bool = True) -> ExtractedFeatures:
    """Features ``(N, D)`` (and head probabilities ``(N, Z)`` where available) of ``record`` on ``images``.

    ``images (N, H, W, 3)``: 0..255 RGB, uint8 or float (never modified). ``layer`` names a layer of a user
    Keras file to read instead of the penultimate one. Cached on disk (see the module docstring).
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"images must have shape (N, H, W, 3), got {images.shape}")
    if layer and record.source_kind != "keras_file":
        raise InputError(f"layer= only applies to user Keras files; {record.ref} is a {record.source_kind}")
    key = feature_cache_key(record, data_hash or images_hash(images), layer)
    if cache:
        hit = _read_cache(key)
        if hit is not None:
            return ExtractedFeatures(hit[0], hit[1], 0.0, True, hit[2], key)
    t0 = time.perf_counter()
    try:
        if record.source_kind == "keras_application":
            feats, probs, name = _keras_application(record, images, batch_size, progress)
        elif record.source_kind == "keras_file":
            feats, probs, name = _keras_file(record, images, registry, layer, batch_size, progress)
        elif record.source_kind == "tflite_file":
            feats, probs, name = _tflite_file(record, images, registry, progress)
        else:
            raise ModelLoadError(f"{record.ref}: unknown source kind {record.source_kind!r}")
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
