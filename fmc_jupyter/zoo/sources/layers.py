"""Reading a model's layers and weights for the diff, from Keras objects or straight from files.

Each model is flattened into its *leaf* layers (nested models are walked; input layers are skipped), each a
:class:`LayerInfo` (path ``backbone/conv1``, type, normalised config, output shape, trainable flag, weight
shapes). A :class:`LayerReader` lists them and hands out one layer's weights on demand:

- :class:`KerasModelReader`: a model built or loaded by Keras (in memory); every source can give one.
- :class:`KerasArchiveReader`: a ``.keras`` archive read in place: ``config.json`` for the structure and
  ``model.weights.h5`` (opened inside the zip with h5py) one layer at a time, so models larger than memory
  can be compared without building either.
- :class:`H5FileReader`: a legacy whole-model ``.h5`` (``model_config`` attribute, ``model_weights/<layer>``);
  output shapes are not recorded there.

Moved here from ``modeldiff`` so that every model source (:mod:`fmc_jupyter.zoo.sources`) serves the diff.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelLoadError

__all__ = ["LayerInfo", "LayerReader", "KerasModelReader", "KerasArchiveReader", "H5FileReader"]

_CONTAINERS = {"Functional", "Sequential", "Model"}
_SKIP_TYPES = {"InputLayer"}


# ---------------------------------------------------------------------------------------------- layer facts
@dataclass
class LayerInfo:
    """One leaf layer of a model, as the diff sees it."""

    path: str                       # container names and the layer name joined by '/'
    name: str
    type: str
    config: dict[str, Any]          # normalised config: no name / trainable, dtype policy as its name
    trainable: bool | None
    output_shape: tuple | None
    weight_shapes: list[tuple[int, ...]]
    position: int
    handle: Any = field(default=None, repr=False)  # where its weights are (source specific)

    @property
    def params(self) -> int:
        return int(sum(math.prod(s) for s in self.weight_shapes))

    @property
    def signature(self) -> str:
        """What a layer *is*, apart from its name: type, config and weight shapes."""
        return json.dumps([self.type, self.config, self.weight_shapes], sort_keys=True, default=str)

    def short(self) -> str:
        """``Dense(10)``, ``Conv2D(1000)``, ``BatchNormalization``."""
        for key in ("units", "filters"):
            if key in self.config:
                return f"{self.type}({self.config[key]})"
        return self.type


def _normalise_config(config: dict[str, Any]) -> dict[str, Any]:
    """JSON-round-tripped config without ``name``/``trainable``, shared-object ids, dtype policy as a string."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    out = clean(json.loads(json.dumps(config, default=str)))
    out.pop("name", None)
    out.pop("trainable", None)
    dtype = out.get("dtype")
    if isinstance(dtype, dict):
        out["dtype"] = (dtype.get("config") or {}).get("name", dtype.get("class_name"))
    return out


def _shape(value: Any) -> tuple | None:
    if value is None:
        return None
    try:
        return tuple(None if d is None else int(d) for d in value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- sources
class LayerReader:
    """A model's leaf layers and, on demand, one layer's weights (what the diff reads)."""

    label: str = ""
    how: str = ""

    def layers(self) -> list[LayerInfo]:
        raise NotImplementedError

    def weights(self, layer: LayerInfo) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class KerasModelReader(LayerReader):
    """A model built or loaded by Keras (in memory)."""

    how = "keras"

    def __init__(self, model: Any, label: str):
        self.model, self.label = model, label

    def layers(self) -> list[LayerInfo]:
        import keras

        out: list[LayerInfo] = []

        def walk(layer: Any, prefix: str) -> None:
            subs = getattr(layer, "layers", None)
            if subs is not None and isinstance(layer, keras.Model):
                for sub in subs:
                    walk(sub, f"{prefix}{layer.name}/" if layer is not self.model else prefix)
                return
            kind = type(layer).__name__
            if kind in _SKIP_TYPES:
                return
            try:
                config = keras.saving.serialize_keras_object(layer).get("config", {})
            except Exception:  # a layer that cannot serialise: compare what we can
                config = {}
            try:
                out_shape = _shape(layer.output.shape)
            except Exception:  # used several times, or never called
                out_shape = None
            weights = list(layer.weights)
            out.append(LayerInfo(path=prefix + layer.name, name=layer.name, type=kind,
                                 config=_normalise_config(config), trainable=bool(layer.trainable),
                                 output_shape=out_shape, weight_shapes=[tuple(int(d) for d in w.shape) for w in weights],
                                 position=len(out), handle=layer))

        walk(self.model, "")
        return out

    def weights(self, layer: LayerInfo) -> list[Any]:
        return [np.asarray(w) for w in layer.handle.get_weights()]


class _OffsetFile(io.RawIOBase):
    """A read-only window ``[start, start + size)`` of an open binary file (an uncompressed zip member)."""

    def __init__(self, fh: Any, start: int, size: int):
        super().__init__()
        self._fh, self._start, self._size, self._pos = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


def _open_zip_member(path: Path, member: str) -> tuple[Any, list[Any]]:
    """A seekable, read-only file object over ``member`` of the zip at ``path`` and what to close after.

    Keras stores ``model.weights.h5`` uncompressed; then the member's bytes are read in place (no copy).
    A compressed member is extracted to a temporary file first.
    """
    zf = zipfile.ZipFile(path)
    try:
        info = zf.getinfo(member)
    except KeyError:
        zf.close()
        raise
    if info.compress_type == zipfile.ZIP_STORED:
        fh = open(path, "rb")
        fh.seek(info.header_offset)
        header = fh.read(30)
        if header[:4] != b"PK\x03\x04":
            fh.close()
            zf.close()
            raise ModelLoadError(f"{path.name} is not a valid .keras archive (bad local header of {member})")
        name_len = int.from_bytes(header[26:28], "little")
        extra_len = int.from_bytes(header[28:30], "little")
        window = _OffsetFile(fh, info.header_offset + 30 + name_len + extra_len, info.file_size)
        zf.close()
        return window, [window, fh]
    import tempfile

    tmp = tempfile.TemporaryFile()
    with zf.open(member) as src:
        while block := src.read(1 << 20):
            tmp.write(block)
    tmp.seek(0)
    zf.close()
    return tmp, [tmp]


def _walk_config(model_config: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, tuple[str, ...], dict]]:
    """``(path, name path, layer config entry)`` of every leaf layer of a serialised model, in order."""
    for entry in model_config.get("config", {}).get("layers", []):
        cfg = entry.get("config", {})
        name = cfg.get("name") or entry.get("name") or entry.get("class_name", "layer")
        if entry.get("class_name") in _CONTAINERS or "layers" in cfg:
            for path, names, leaf in _walk_config(entry, f"{prefix}{name}/"):
                yield path, (name,) + names, leaf
            continue
        yield prefix + name, (name,), entry


def _output_shapes(model_config: dict[str, Any]) -> dict[str, tuple]:
    """Output shapes of layers, read from the symbolic tensors recorded in Keras 3 ``inbound_nodes``.

    A tensor ``{"class_name": "__keras_tensor__", "config": {"shape", "keras_history": [layer, node, i]}}``
    in a layer's inputs is an output of ``layer`` (within the same container). Keys are layer paths.
    """
    shapes: dict[str, tuple] = {}

    def tensors(value: Any) -> Iterator[dict]:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                yield value.get("config", {})
            else:
                for v in value.values():
                    yield from tensors(v)
        elif isinstance(value, list):
            for v in value:
                yield from tensors(v)

    def walk(container: dict, prefix: str) -> None:
        previous = None
        for entry in container.get("config", {}).get("layers", []):
            cfg = entry.get("config", {})
            name = cfg.get("name") or entry.get("name")
            if container.get("class_name") == "Sequential" and previous is not None:  # input of this = output of last
                built = _shape((entry.get("build_config") or {}).get("input_shape"))
                if built is not None:
                    shapes.setdefault(prefix + str(previous), built)
            previous = name
            for t in tensors(entry.get("inbound_nodes", [])):
                history = t.get("keras_history") or []
                if history and t.get("shape") is not None:
                    shapes.setdefault(prefix + str(history[0]), _shape(t["shape"]))
            if entry.get("class_name") in _CONTAINERS or "layers" in cfg:
                walk(entry, f"{prefix}{name}/")
                containers.append((prefix + str(name), cfg))

    containers: list[tuple[str, dict]] = []
    walk(model_config, "")
    for path, cfg in reversed(containers):  # outer first; a nested model's output is its (single) output layer's output
        outputs = cfg.get("output_layers")
        if outputs and isinstance(outputs[0], list):  # [[name, node, index], ...] or a single [name, node, index]
            outputs = outputs[0] if len(outputs) == 1 else None
        if path in shapes and outputs:
            shapes.setdefault(f"{path}/{outputs[0]}", shapes[path])
        elif path in shapes and cfg.get("layers") and "output_layers" not in cfg:  # Sequential: the last layer
            last = cfg["layers"][-1].get("config", {}).get("name")
            if last:
                shapes.setdefault(f"{path}/{last}", shapes[path])
    return shapes


def _computed_output_shape(entry: dict[str, Any]) -> tuple | None:
    """``compute_output_shape`` of a layer rebuilt from its config (no weights are created), when Keras can."""
    input_shape = (entry.get("build_config") or {}).get("input_shape")
    if input_shape is None:
        return None
    try:
        import keras

        layer = keras.layers.deserialize({k: entry[k] for k in ("module", "class_name", "config", "registered_name")
                                          if k in entry})
        return _shape(layer.compute_output_shape(tuple(input_shape)))
    except Exception:
        return None


def _config_layers(model_config: dict[str, Any], weight_shapes: dict[tuple[str, ...], list[tuple]],
                   handles: dict[tuple[str, ...], Any], with_shapes: bool) -> list[LayerInfo]:
    recorded = _output_shapes(model_config) if with_shapes else {}
    out: list[LayerInfo] = []
    for path, names, entry in _walk_config(model_config):
        kind = entry.get("class_name", "?")
        if kind in _SKIP_TYPES:
            continue
        cfg = entry.get("config", {})
        shape = recorded.get(path) if with_shapes else None
        if with_shapes and shape is None:
            shape = _computed_output_shape(entry)
        trainable = cfg.get("trainable")
        out.append(LayerInfo(path=path, name=names[-1], type=kind, config=_normalise_config(cfg),
                             trainable=None if trainable is None else bool(trainable), output_shape=shape,
                             weight_shapes=weight_shapes.get(names, []), position=len(out), handle=handles.get(names)))
    return out


def _snake(name: str) -> str:
    """Keras's ``to_snake_case`` of a class name (how ``model.weights.h5`` names a layer's group)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return name if name[:1] != "_" else "private" + name


class KerasArchiveReader(LayerReader):
    """A ``.keras`` archive read in place: ``config.json`` and ``model.weights.h5`` (one layer at a time)."""

    how = "file"

    def __init__(self, path: Path, label: str):
        import h5py

        self.path, self.label = path, label
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                self.config = json.loads(zf.read("config.json"))
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ModelLoadError(f"cannot read {path.name} as a .keras archive: {exc}") from exc
        if "model.weights.h5" not in names:
            raise ModelLoadError(f"{path.name} holds no model.weights.h5 (sharded or weight-less archives are not "
                                 "supported); re-save it with model.save('file.keras')")
        self._fh, self._closers = _open_zip_member(path, "model.weights.h5")
        try:
            self.h5 = h5py.File(self._fh, "r")
        except OSError as exc:
            for c in self._closers:
                c.close()
            raise ModelLoadError(f"cannot read the weights of {path.name}: {exc}") from exc

    def _groups(self) -> dict[tuple[str, ...], Any]:
        """Layer name path -> h5 group of its ``vars`` (names from the group's ``name`` attribute)."""
        found: dict[tuple[str, ...], Any] = {}

        def walk(group: Any, config: dict, prefix: tuple[str, ...]) -> None:
            if "layers" not in group:
                return
            entries = config.get("config", {}).get("layers", [])
            expected: dict[str, dict] = {}
            counts: dict[str, int] = {}
            for entry in entries:  # Keras names the groups snake_case(class) with _1, _2... in layer order
                base = _snake(entry.get("class_name", "layer"))
                key = base if base not in counts else f"{base}_{counts[base]}"
                counts[base] = counts.get(base, 0) + 1
                expected[key] = entry
            for key, sub in group["layers"].items():
                entry = expected.get(key, {})
                name = None
                if "vars" in sub:
                    name = sub["vars"].attrs.get("name")
                name = (name.decode() if isinstance(name, bytes) else name) or entry.get("config", {}).get("name", key)
                if "layers" in sub:
                    walk(sub, entry, prefix + (name,))
                if "vars" in sub:
                    found[prefix + (name,)] = sub["vars"]

        walk(self.h5, self.config, ())
        return found

    def layers(self) -> list[LayerInfo]:
        groups = self._groups()
        shapes = {k: [tuple(int(d) for d in g[str(i)].shape) for i in range(len(g))] for k, g in groups.items()}
        return _config_layers(self.config, shapes, groups, with_shapes=True)

    def weights(self, layer: LayerInfo) -> list[Any]:
        group = layer.handle
        return [] if group is None else [group[str(i)] for i in range(len(group))]

    def close(self) -> None:
        self.h5.close()
        for c in self._closers:
            c.close()


class H5FileReader(LayerReader):
    """A legacy whole-model ``.h5`` file: ``model_config`` attribute and ``model_weights/<layer>/<weight>``."""

    how = "file"

    def __init__(self, path: Path, label: str):
        import h5py

        self.path, self.label = path, label
        try:
            self.h5 = h5py.File(path, "r")
        except OSError as exc:
            raise ModelLoadError(f"cannot read {path.name} as HDF5: {exc}") from exc
        text = self.h5.attrs.get("model_config")
        if text is None or "model_weights" not in self.h5:
            self.h5.close()
            raise ModelLoadError(f"{path.name} holds weights only (no model_config); it cannot be diffed as a model. "
                                 "Save the whole model with model.save('file.keras')")
        self.config = json.loads(text.decode() if isinstance(text, bytes) else text)

    def _weights_of(self, names: tuple[str, ...]) -> list[Any]:
        root = self.h5["model_weights"]
        if names[0] not in root:
            return []
        group = root[names[0]]
        wanted = [w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs.get("weight_names", [])]
        if len(names) > 1:  # a layer of a nested model: its weights are "<layer>/<var>" inside the model's group
            wanted = [w for w in wanted if w.split("/")[0] == names[-1] or f"/{names[-1]}/" in f"/{w}"]
        return [group[w] for w in wanted if w in group]

    def layers(self) -> list[LayerInfo]:
        names = [n for _, n, _ in _walk_config(self.config)]
        handles = {n: self._weights_of(n) for n in names}
        shapes = {n: [tuple(int(d) for d in ds.shape) for ds in h] for n, h in handles.items()}
        return _config_layers(self.config, shapes, handles, with_shapes=False)

    def weights(self, layer: LayerInfo) -> list[Any]:
        return list(layer.handle or [])

    def close(self) -> None:
        self.h5.close()
