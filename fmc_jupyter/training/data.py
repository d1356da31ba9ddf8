"""Training data: resolve what the user passed (arrays, a registry dataset, TFDS) and split it.

Every path ends in a :class:`~fmc_jupyter.arrays.LabelledImages` plus the registry dataset that
holds the same content (so the run can name its dataset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import LabelledImages, check_labelled, content_hash
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..records import DatasetRecord
    from ..registry import Registry

__all__ = ["TrainingData", "prepare_data", "register_data", "resolve_data", "register_arrays", "stratified_split",
           "check_fraction"]


@dataclass(frozen=True)
class TrainingData:
    """Images and labels to train on, with the validation part and the dataset record.

    ``dataset`` is None until :func:`register_data` stored ``pending`` (the whole labelled set, when it
    came as arrays or from TFDS) as a registry dataset: preparing data never writes.
    """

    train: LabelledImages
    val: LabelledImages
    dataset: "DatasetRecord | None"
    source: str
    pending: LabelledImages | None = None
    pending_source: str = "arrays"


def register_arrays(registry: "Registry", data: LabelledImages, source: str = "arrays",
                    name: str | None = None) -> "DatasetRecord":
    """The registry dataset holding exactly ``data`` (added on first use; same content = same dataset)."""
    images = data.x if data.x.dtype == np.uint8 else data.x.astype(np.float32)
    digest = content_hash(images, data.y, data.class_names)
    return registry.add_dataset(images, data.y, name or f"arrays-{digest[:12]}", data.class_names, source=source)


def check_fraction(value: Any, name: str = "validation_split") -> float:
    """``value`` as a float strictly between 0 and 1, else :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) < 1:
        raise InputError(f"{name} must be a number between 0 and 1 (exclusive), e.g. 0.2, not {value!r}")
    return float(value)


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: ``round(fraction * n_c)`` of every class ``c`` to validation.

    Each class with at least 2 examples gives at least one to validation and keeps at least one
    for training; a class with a single example stays in training. Indices are sorted.
    """
    fraction = check_fraction(fraction)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _subset(data: LabelledImages, idx: np.ndarray) -> LabelledImages:
    return LabelledImages(data.x[idx], data.y[idx], data.class_names)


def _load(x: Any, y: Any, class_names: Sequence[str] | None, registry: "Registry",
          tfds_data_dir: str | None) -> tuple[LabelledImages, "DatasetRecord | None", str, str]:
    """``(data, stored dataset or None, source, source to register under)``; reads only."""
    if isinstance(x, str):
        if y is not None:
            raise InputError(f"x is the text {x[:40]!r}: a registry dataset name (or 'tfds:<name>'), so y must be "
                             "None (its labels are stored with it); to train on arrays pass the image array as x")
        if x.startswith("tfds:"):
            from ..datasets import read_tfds

            spec = x[len("tfds:"):]
            tfds_name, _, split = spec.partition("/")
            images, labels, names = read_tfds(tfds_name, split=split or "train", data_dir=tfds_data_dir)
            data = check_labelled(images, labels, names, min_per_class=2)
            return data, None, x, f"tfds:{tfds_name}/{split or 'train'}"
        record = registry.dataset(x)
        stored = registry.load_dataset(record)
        data = check_labelled(stored.x, stored.y, stored.class_names, min_per_class=2)
        return data, record, f"dataset:{record.name}", ""
    if x is None or y is None:
        raise InputError("pass images and labels (x, y), a registry dataset name (x='name'), "
                         "or a TFDS dataset (x='tfds:mnist/train')")
    return check_labelled(x, y, class_names, min_per_class=2), None, "arrays", "arrays"


def _validation_pair(validation_data: Any) -> tuple[Any, Any]:
    if isinstance(validation_data, (str, bytes)) or not isinstance(validation_data, (tuple, list)) \
            or len(validation_data) != 2:
        raise InputError("validation_data must be a pair (x_val, y_val) of images and labels, not "
                         f"{type(validation_data).__name__}")
    return validation_data[0], validation_data[1]


def prepare_data(x: Any, y: Any, *, registry: "Registry", class_names: Sequence[str] | None = None,
                 validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.2, seed: int = 0,
                 tfds_data_dir: str | None = None) -> TrainingData:
    """Check the user's input and split it into train/validation parts (stratified unless ``validation_data``).

    Nothing is written: arrays (or TFDS data) that are not yet a registry dataset come back as
    ``pending``, stored later by :func:`register_data` once every other argument has been checked.
    """
    if validation_data is None:
        check_fraction(validation_split)
    data, record, source, pending_source = _load(x, y, class_names, registry, tfds_data_dir)
    pending = data if record is None else None
    if validation_data is not None:
        vx, vy = _validation_pair(validation_data)
        val = check_labelled(vx, vy, data.class_names, min_per_class=1, min_classes=1)
        if val.x.shape[1:] != data.x.shape[1:]:
            raise InputError(f"validation images have shape {val.x.shape[1:]}, training images {data.x.shape[1:]}; "
                             "they must match")
        return TrainingData(data, val, record, source, pending, pending_source)
    train_idx, val_idx = stratified_split(data.y, validation_split, seed)
    return TrainingData(_subset(data, train_idx), _subset(data, val_idx), record, source, pending, pending_source)


def register_data(registry: "Registry", data: TrainingData) -> TrainingData:
    """``data`` with its ``pending`` arrays stored as a registry dataset (a no-op when already stored)."""
    if data.pending is None:
        return data
    if data.pending_source == "arrays":       # the dataset these arrays are, or a slice of, or new (reported)
        from ..dataset_identity import dataset_of_arrays

        record = dataset_of_arrays(registry, data.pending, save=True, source="arrays")
    else:
        record = register_arrays(registry, data.pending, source=data.pending_source)
    return replace(data, dataset=record, pending=None)


def resolve_data(x: Any, y: Any, *, registry: "Registry", class_names: Sequence[str] | None = None,
                 validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.2, seed: int = 0,
                 tfds_data_dir: str | None = None) -> TrainingData:
    """:func:`prepare_data`, then :func:`register_data`: checked, split and stored."""
    return register_data(registry, prepare_data(x, y, registry=registry, class_names=class_names,
                                                validation_data=validation_data, validation_split=validation_split,
                                                seed=seed, tfds_data_dir=tfds_data_dir))
