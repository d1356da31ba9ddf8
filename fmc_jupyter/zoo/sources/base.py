"""The interface every kind of model source implements, and the one table that finds a source by name.

A *source* knows one way a model reaches this machine (a ``keras.applications`` constructor, a stored Keras
file, a TFLite file, a KerasHub preset, a Hugging Face / Kaggle handle) and answers, for a registry record of
its kind, everything the services ask:

=====================  =====================================================================================
``inspect(target)``     catalog facts of a file or handle (params, input size, classes, ...), safely
``build(record, ...)``  a Keras model: the whole classifier (``head=True``, probabilities ``(N, Z)``) or the
                        backbone with pooled features ``(N, D)`` (``head=False``)
``preprocess``          the source's own preprocessing of 0..255 RGB images ``(N, H, W, 3)`` -> model input
``features``            penultimate features ``(N, D)`` and head probabilities ``(N, Z)`` or ``None``
``backbone``            ``(backbone, old Dense head or None)`` to fine-tune a new head on
``layer_reader``        a :class:`~.layers.LayerReader` of its layers and weights for ``fmc.diff``
``weights_status``      whether the weights are on this machine and, if not, how to provide them
=====================  =====================================================================================

Sources are looked up by ``source_kind`` (the registry column) through :func:`get_source`, which raises a
clear :class:`~fmc_jupyter.errors.ModelLoadError` for an unknown name (the ``keras.activations.get`` pattern).
A new kind of model is one new module that subclasses :class:`ModelSource` and calls :func:`register_source`.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...errors import InputError, ModelLoadError
from ...records import ModelRecord

if TYPE_CHECKING:  # pragma: no cover
    from ...registry import Registry
    from .layers import LayerReader

__all__ = ["ModelSource", "WeightsStatus", "register_source", "get_source", "source_of", "source_for_path",
           "SOURCES", "MODEL_FILE_SUFFIXES"]

#: every registered source by ``source_kind``
SOURCES: dict[str, "ModelSource"] = {}
#: file suffixes some source can read (``.keras``, ``.h5``, ``.hdf5``, ``.tflite``)
MODEL_FILE_SUFFIXES: set[str] = set()


@dataclass(frozen=True)
class WeightsStatus:
    """Whether a model's weights are on this machine: ``present``; ``where`` they are (or are looked for);
    ``how`` to provide them when absent (empty when present)."""

    present: bool
    where: str
    how: str = ""

    def __str__(self) -> str:
        return f"present at {self.where}" if self.present else f"absent ({self.where}); {self.how}"


class ModelSource(ABC):
    """One kind of model source (see the module docstring). Stateless: one instance serves every record."""

    #: the ``source_kind`` stored in the registry
    kind: ClassVar[str]
    #: the search facet ``format``: keras | tflite | kerashub | hf | kaggle
    format: ClassVar[str]
    #: whether :meth:`backbone` can give a backbone to fine-tune
    trainable: ClassVar[bool] = True
    #: whether ``features(layer=...)`` can read a named layer
    reads_layers: ClassVar[bool] = False
    #: model file suffixes this source reads (lower case, with the dot)
    suffixes: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ facts
    def inspect(self, target: str | Path) -> dict[str, Any]:
        """Catalog facts of a file or handle: ``source_kind``, ``source`` (JSON facts), params, input_size, ..."""
        raise ModelLoadError(f"{self.kind} models are not registered from a file or handle")

    def weights_status(self, record: ModelRecord, registry: "Registry | None" = None) -> WeightsStatus:
        """Whether ``record``'s weights are on this machine (default: a stored artifact)."""
        if registry is None or not record.artifact:
            return WeightsStatus(True, "the registry's artifact store")
        path = registry.artifact_path(record)
        return WeightsStatus(path.is_file(), str(path), "" if path.is_file() else
                             "the stored file is missing from the artifact store; register the model file again")

    def weights_identity(self, record: ModelRecord) -> str:
        """What identifies the weights, for feature-cache keys: the artifact's sha256 or the source facts."""
        import json

        return record.sha256 or json.dumps(record.source, sort_keys=True, default=str)

    def min_input_size(self, record: ModelRecord) -> int:
        """The smallest image side the architecture accepts."""
        return 1

    # ------------------------------------------------------------------ models
    @abstractmethod
    def build(self, record: ModelRecord, registry: "Registry | None" = None, *, head: bool = True) -> Any:
        """A Keras model: the classifier (``head=True``) or the backbone with pooled features (``head=False``)."""

    @abstractmethod
    def preprocess(self, record: ModelRecord, images: np.ndarray) -> np.ndarray:
        """The source's own preprocessing: 0..255 RGB ``(N, H, W, 3)`` -> float32 model input ``(N, S, S, 3)``."""

    def features(self, record: ModelRecord, images: np.ndarray, registry: "Registry | None" = None, *,
                 layer: str | None = None, batch_size: int = 32,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray | None, str]:
        """``(features (N, D), head probabilities (N, Z) or None, name of the feature layer)``.

        Default: the pooled backbone (:meth:`build` with ``head=False``) on :meth:`preprocess`-ed batches.
        """
        if layer:
            raise InputError(f"layer= only applies to models stored as Keras files; {record.ref} is a {self.kind}")
        self.check_size(record, images)
        model = self.build(record, registry, head=False)
        from ..features import progress_bar

        out = []
        with progress_bar(len(images), record.ref, progress) as bar:
            for start in range(0, len(images), batch_size):
                x = self.preprocess(record, images[start:start + batch_size])
                out.append(np.asarray(model.predict_on_batch(x)))
                bar.update(len(x))
        return np.concatenate(out).reshape(len(images), -1), None, "global_average_pool"

    def backbone(self, record: ModelRecord, registry: "Registry | None" = None) -> tuple[Any, Any]:
        """``(backbone with pooled (N, D) output, the old Dense head or None)`` for fine-tuning a new head."""
        if not self.trainable:
            raise ModelLoadError(f"{record.ref} is a {self.kind}; it cannot be fine-tuned here "
                                 "(register a Keras .keras/.h5 file of it, or a KerasHub preset)")
        return self.build(record, registry, head=False), None

    def layer_reader(self, record: ModelRecord, registry: "Registry | None" = None, *, mode: str = "auto",
                     label: str | None = None) -> tuple["LayerReader", list[str]]:
        """``(reader of the layers and weights, notes)`` for ``fmc.diff``; ``mode`` is ``auto|files|memory``."""
        from .layers import KerasModelReader

        if mode == "files":
            raise InputError(f"{label or record.ref} is built by its library ({self.kind}), not a stored file; "
                             "use mode='auto'")
        return KerasModelReader(self.build(record, registry, head=True), label or record.ref), []

    def file_reader(self, path: Path, label: str, mode: str) -> tuple["LayerReader", list[str]]:
        """``(reader, notes)`` of a model file of this source's format, for ``fmc.diff`` of paths."""
        raise ModelLoadError(f"{label}: {self.kind} files cannot be diffed")

    # ------------------------------------------------------------------ helpers for subclasses
    def check_size(self, record: ModelRecord, images: np.ndarray) -> int:
        """The model's input side; refuses images too small for the architecture."""
        size = int(record.input_size or min(images.shape[1], images.shape[2]))
        need = self.min_input_size(record)
        if size < need:
            raise InputError(f"images of {images.shape[1]}x{images.shape[2]} px are too small for {record.ref}: it "
                             f"needs at least {need}x{need}; upscale the images or choose another model")
        return size

    @staticmethod
    def with_size(record: ModelRecord, size: int) -> ModelRecord:
        return replace(record, input_size=size)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind!r}>"


def register_source(source: ModelSource) -> ModelSource:
    """Add ``source`` to the lookup table (its ``kind`` must be new)."""
    if source.kind in SOURCES:
        raise ValueError(f"a model source {source.kind!r} is already registered")
    SOURCES[source.kind] = source
    MODEL_FILE_SUFFIXES.update(source.suffixes)
    return source


def get_source(kind: str) -> ModelSource:
    """The source registered as ``kind``; a clear :class:`ModelLoadError` for an unknown name."""
    from . import _load_builtin_sources

    _load_builtin_sources()
    try:
        return SOURCES[kind]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(kind), list(SOURCES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ModelLoadError(f"unknown model source {kind!r}; known sources: {', '.join(sorted(SOURCES))}.{hint} "
                             "A record of an unknown kind was written by a newer fmc_jupyter: upgrade it") from None


def source_of(record: ModelRecord) -> ModelSource:
    """The source of a registry record (by its ``source_kind``)."""
    return get_source(record.source_kind)


def source_for_path(path: str | Path) -> ModelSource:
    """The source that reads model files with ``path``'s suffix."""
    from . import _load_builtin_sources

    _load_builtin_sources()
    if Path(path).is_dir():  # a KerasHub preset folder (save_to_preset)
        return SOURCES["kerashub_preset"]
    suffix = Path(path).suffix.lower()
    for source in SOURCES.values():
        if suffix in source.suffixes:
            return source
    known = ", ".join(sorted(MODEL_FILE_SUFFIXES))
    raise ModelLoadError(f"{Path(path).name}: unsupported model file; use a Keras file or a TFLite file ({known})")
