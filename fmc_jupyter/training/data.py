"""Training data: resolve what the user passed (arrays, a registry dataset, TFDS) and split it.

Every path ends in a :class:`~fmc_jupyter.arrays.LabelledImages` plus the registry dataset that
holds the same content (so the run can name its dataset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import LabelledImages, check_labelled, content_hash
from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..records import DatasetRecord
    from ..registry import Registry

__all__ = ["TrainingData", "resolve_data", "register_arrays", "stratified_split"]


@dataclass(frozen=True)
class TrainingData:
    """Images and labels to train on, with the validation part and the dataset record."""

    train: LabelledImages
    val: LabelledImages
    dataset: "DatasetRecord | None"
    source: str


def register_arrays(registry: "Registry", data: LabelledImages, source: str = "arrays",
                    name: str | None = None) -> "DatasetRecord":
    """The registry dataset holding exactly ``data`` (added on first use; same content = same dataset)."""
    images = data.x if data.x.dtype == np.uint8 else data.x.astype(np.float32)
    digest = content_hash(images, data.y, data.class_names)
    return registry.add_dataset(images, data.y, name or f"arrays-{digest[:12]}", data.class_names, source=source)


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: ``round(fraction * n_c)`` of every class ``c`` to validation.

    Each class with at least 2 examples gives at least one to validation and keeps at least one
    for training; a class with a single example stays in training. Indices are sorted.
    """
    if not 0 < fraction < 1:
        raise InputError(f"validation_split must be between 0 and 1 (exclusive), got {fraction}")
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
          tfds_data_dir: str | None) -> tuple[LabelledImages, "DatasetRecord", str]:
    if isinstance(x, str) and y is None:
        if x.startswith("tfds:"):
            from ..datasets import read_tfds

            spec = x[len("tfds:"):]
            tfds_name, _, split = spec.partition("/")
            images, labels, names = read_tfds(tfds_name, split=split or "train", data_dir=tfds_data_dir)
            data = check_labelled(images, labels, names, min_per_class=2)
            return data, register_arrays(registry, data, source=f"tfds:{tfds_name}/{split or 'train'}"), x
        record = registry.dataset(x)
        stored = registry.load_dataset(record)
        return check_labelled(stored.x, stored.y, stored.class_names, min_per_class=2), record, f"dataset:{record.name}"
    if x is None or y is None:
        raise InputError("pass images and labels (x, y), a registry dataset name (x='name'), "
                         "or a TFDS dataset (x='tfds:mnist/train')")
    data = check_labelled(x, y, class_names, min_per_class=2)
    from ..dataset_identity import dataset_of_arrays   # the dataset these arrays are, or a slice of, or new

    return data, dataset_of_arrays(registry, data, save=True, labels=y), "arrays"


def resolve_data(x: Any, y: Any, *, registry: "Registry", class_names: Sequence[str] | None = None,
                 validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.2, seed: int = 0,
                 tfds_data_dir: str | None = None) -> TrainingData:
    """Resolve the user's input into train/validation parts (stratified split unless ``validation_data``)."""
    data, record, source = _load(x, y, class_names, registry, tfds_data_dir)
    if validation_data is not None:
        vx, vy = validation_data
        val = check_labelled(vx, vy, data.class_names, min_per_class=1, min_classes=1)
        if val.x.shape[1:] != data.x.shape[1:]:
            raise InputError(f"validation images have shape {val.x.shape[1:]}, training images {data.x.shape[1:]}; "
                             "they must match")
        return TrainingData(data, val, record, source)
    train_idx, val_idx = stratified_split(data.y, validation_split, seed)
    return TrainingData(_subset(data, train_idx), _subset(data, val_idx), record, source)
