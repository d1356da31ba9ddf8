"""Keras model files (``.keras``, legacy whole-model ``.h5``) stored in the registry's artifact store.

Registration inspects the file safely (:mod:`.untrusted`: headers and config in this process, the real
``keras.models.load_model(compile=False, safe_mode=True)`` in a limited worker). Later loads read the stored
copy with ``safe_mode=True``. Features are the input of the last layer (or the output of a named ``layer``;
4-D outputs are global-average pooled); the model's own output gives the head probabilities (softmax applied
when the last layer is linear). Fine-tuning splits the model before its last Dense layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputError, ModelLoadError, NotFoundError
from ...records import ModelRecord
from .base import ModelSource, register_source
from .preprocessing import preprocess_by_mode

if TYPE_CHECKING:  # pragma: no cover
    from ...registry import Registry
    from .layers import LayerReader

__all__ = ["KerasFileSource", "load_keras_file", "FILE_READ_ABOVE_BYTES", "KERAS_SUFFIXES"]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
#: legacy ``.h5`` files larger than this are diffed from the file (h5py), not loaded by Keras
FILE_READ_ABOVE_BYTES = 512 * 1024 * 1024


def _fmt(path: Path) -> str:
    return "keras" if path.suffix.lower() == ".keras" else "h5"


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


def _h5_config_check(path: Path) -> None:
    """Refuse a legacy ``.h5`` whose ``model_config`` carries Python code (before Keras sees it)."""
    import json

    import h5py

    from .untrusted import refuse_code_in_config

    try:
        with h5py.File(path, "r") as fh:
            text = fh.attrs.get("model_config")
    except OSError as exc:
        raise ModelLoadError(f"{path.name} is not a readable HDF5 file ({str(exc)[:160]}); re-save the model with "
                             "model.save('model.keras')") from None
    if text is not None:
        try:
            refuse_code_in_config(json.loads(text.decode() if isinstance(text, bytes) else text), path.name)
        except ValueError:
            raise ModelLoadError(f"{path.name}: its model_config is not valid JSON; re-save the model") from None


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
        text = str(exc)
        if "safe_mode" in text or "unsafe" in text.lower() or "lambda" in text.lower():
            raise ModelLoadError(
                f"refused: {path.name} contains Python code (e.g. a Lambda layer) and Keras's safe mode will not run "
                "it. Rebuild the model without Lambda layers, or register it as a TFLite file") from None
        raise ModelLoadError(f"cannot load Keras model {path.name}: {text[:300]}") from None
    except Exception as exc:  # corrupt file, unknown custom layer, ...
        raise ModelLoadError(f"cannot load Keras model {path.name}: {type(exc).__name__}: {str(exc)[:300]}") from None


def keras_file_facts(path: str) -> dict[str, Any]:
    """Facts of a Keras file (runs in the limited worker: loads the model with ``safe_mode=True``)."""
    import keras

    path_ = Path(path)
    model = load_keras_file(path_)
    in_shape = model.inputs[0].shape if model.inputs else None
    out_shape = model.outputs[0].shape if model.outputs else None
    size = int(in_shape[1]) if in_shape is not None and len(in_shape) == 4 and in_shape[1] else None
    facts = {
        "source_kind": "keras_file", "format": "keras",
        "source": {"format": path_.suffix.lstrip(".").lower(), "input_shape": [d for d in (in_shape or [])][1:],
                   "output_shape": [d for d in (out_shape or [])][1:], "class_name": type(model).__name__},
        "params": int(model.count_params()), "input_size": size, "depth": len(model.layers),
        "num_classes": int(out_shape[-1]) if out_shape is not None and len(out_shape) == 2 else None,
        "architecture": model.name,
    }
    del model
    keras.backend.clear_session()
    return facts


class KerasFileSource(ModelSource):
    """A user's Keras file in the artifact store (``source_kind = keras_file``)."""

    kind = "keras_file"
    format = "keras"
    reads_layers = True
    suffixes = KERAS_SUFFIXES

    def inspect(self, target: str | Path) -> dict[str, Any]:
        from .untrusted import precheck, run_isolated

        path = precheck(target, _fmt(Path(target)))
        if _fmt(path) == "h5":
            if _weights_only_h5(path):
                load_keras_file(path)  # raises the "weights only" message
            _h5_config_check(path)
        return run_isolated(keras_file_facts, str(path), what=path.name)

    def _path(self, record: ModelRecord, registry: "Registry | None") -> Path:
        if registry is None:
            raise ModelLoadError(f"{record.ref} is a stored file; pass the registry to load it")
        return registry.artifact_path(record)

    def build(self, record: ModelRecord, registry: "Registry | None" = None, *, head: bool = True) -> Any:
        model = load_keras_file(self._path(record, registry))
        if head:
            return model
        backbone, _ = split_classifier(model, record)
        return backbone

    def preprocess(self, record: ModelRecord, images: np.ndarray) -> np.ndarray:
        return preprocess_by_mode(record, images)

    def backbone(self, record: ModelRecord, registry: "Registry | None" = None) -> tuple[Any, Any]:
        return split_classifier(load_keras_file(self._path(record, registry)), record)

    def features(self, record: ModelRecord, images: np.ndarray, registry: "Registry | None" = None, *,
                 layer: str | None = None, batch_size: int = 32,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray | None, str]:
        import keras

        from ..features import progress_bar

        model = load_keras_file(self._path(record, registry))
        if not model.inputs:
            raise ModelLoadError(f"{record.ref} has no defined input; save it as a functional model")
        in_shape = model.inputs[0].shape
        size = int(in_shape[1]) if in_shape[1] else None
        if size is None and record.input_size is None:
            self.check_size(record, images)
        feature_tensor, head, name = _keras_feature_and_head(model, layer, record)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        extractor = keras.Model(inputs, [feature_tensor] + ([head] if head is not None else []))
        rec = record if record.input_size or size is None else self.with_size(record, size)
        side = int(rec.input_size or 0)
        h, w = (side, side) if side else (images.shape[1], images.shape[2])
        try:  # symbolic shapes: a variable-size model says clearly when the images are too small for it
            extractor.compute_output_spec(keras.KerasTensor((1, h, w, 3)))
        except Exception as exc:
            raise InputError(f"images of {h}x{w} px are too small for {record.ref} (or do not fit its input): "
                             f"{str(exc)[:200]}; upscale the images or choose another model") from exc
        feats, heads = [], []
        with progress_bar(len(images), record.ref, progress) as bar:
            for start in range(0, len(images), batch_size):
                x = self.preprocess(rec, images[start:start + batch_size])
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
        if head is None:                      # an embedding model: no source head for LEEP / NCE
            return np.concatenate(feats), None, name
        return np.concatenate(feats), _as_probabilities(np.concatenate(heads).astype(np.float64)), name

    def layer_reader(self, record: ModelRecord, registry: "Registry | None" = None, *, mode: str = "auto",
                     label: str | None = None) -> tuple["LayerReader", list[str]]:
        return self.file_reader(self._path(record, registry), label or record.ref, mode)

    def file_reader(self, path: Path, label: str, mode: str) -> tuple["LayerReader", list[str]]:
        from .layers import H5FileReader, KerasArchiveReader, KerasModelReader

        if not path.is_file():
            raise NotFoundError(f"{label}: the model file {path} is missing")
        suffix = path.suffix.lower()
        read_file = mode == "files" or (mode == "auto" and (suffix == ".keras"
                                                            or path.stat().st_size > FILE_READ_ABOVE_BYTES))
        if read_file:
            return (KerasArchiveReader(path, label) if suffix == ".keras" else H5FileReader(path, label)), []
        return KerasModelReader(load_keras_file(path), label), []


def as_probabilities(outputs: np.ndarray, activation: str) -> np.ndarray:
    """Class probabilities ``(N, Z)`` from a head's outputs: sigmoid/softmax applied unless already applied."""
    probs = outputs.astype(np.float64)
    if probs.shape[1] == 1:
        p = probs[:, 0] if activation == "sigmoid" else 1 / (1 + np.exp(-probs[:, 0]))
        probs = np.stack([1 - p, p], axis=1)
    elif activation != "softmax":
        probs = np.exp(probs - probs.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
    return probs.astype(np.float32)


def split_classifier(full: Any, record: ModelRecord) -> tuple[Any, Any]:
    """``(backbone, last Dense layer)`` of a whole stored classifier."""
    import keras

    last = full.layers[-1]
    if isinstance(last, keras.Model):  # a model fine-tuned here: Input -> backbone model -> head model
        inner = [layer for layer in full.layers if not isinstance(layer, keras.layers.InputLayer)]
        dense = last.layers[-1]
        if len(inner) == 2 and isinstance(inner[0], keras.Model) and isinstance(dense, keras.layers.Dense):
            return inner[0], dense
    if not isinstance(last, keras.layers.Dense):
        raise ModelLoadError(f"{record.ref}: the last layer is a {type(last).__name__}, not a Dense classifier; "
                             "cannot replace its head")
    backbone = keras.Model(full.inputs, last.input, name=f"{full.name}_backbone")
    return backbone, last


register_source(KerasFileSource())


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
