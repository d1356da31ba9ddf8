"""``fmc.evaluate``: any registry classifier on any labelled images; the result is stored in the registry.

::

    result = fmc.evaluate("MobileNet_0.25_224:v2", x_test, y_test, registry=reg)
    reg.leaderboard(result.dataset.name)

The model's outputs are matched to the dataset's classes by label name when the model records its
labels (fine-tuned models do), else by position when the counts agree. Accuracy is taken over the
dataset's classes: ``pred_i = argmax_{c in classes} P[i, col(c)]``; the loss is
``-mean_i log P[i, col(y_i)]`` on the model's own probabilities.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .arguments import MAX_BATCH_SIZE, whole
from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from .records import DatasetRecord, ModelRecord
    from .registry import Registry
    from .report import ClassificationMetrics

__all__ = ["evaluate", "Evaluation"]


@dataclass
class Evaluation:
    """One stored evaluation: accuracy, loss, confusion matrix and per-class precision/recall."""

    evaluation_id: int
    model: "ModelRecord"
    dataset: "DatasetRecord"
    class_names: tuple[str, ...]
    accuracy: float
    loss: float
    metrics: "ClassificationMetrics"

    def __repr__(self) -> str:
        return (f"Evaluation(id={self.evaluation_id}, model={self.model.ref}, "
                f"dataset={getattr(self.dataset, 'label', self.dataset.name)}, "
                f"accuracy={self.accuracy * 100:.1f}%, loss={self.loss:.4f}, n={int(self.metrics.support.sum())})")

    def _repr_html_(self) -> str:
        from .report import confusion_figure, figure_html

        m = self.metrics
        rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{p:.3f}</td><td>{r:.3f}</td><td>{int(s)}</td></tr>"
                       for c, p, r, s in zip(self.class_names, m.precision, m.recall, m.support))
        label = getattr(self.dataset, "label", self.dataset.name)
        return (f"<div class='fmc-card'><h4>{html.escape(f'{self.model.ref} on {label}')}</h4>"
                f"<p>accuracy {self.accuracy * 100:.1f}% on {int(m.support.sum())} images, loss {self.loss:.4f}</p>"
                f"<table><tr><th>class</th><th>precision</th><th>recall</th><th>support</th></tr>{rows}</table>"
                f"{figure_html(confusion_figure(m.confusion, self.class_names), dpi=80)}</div>")


def _model_record(model: Any, registry: "Registry") -> "ModelRecord":
    from .training.run import TrainingRun

    if isinstance(model, TrainingRun):
        if model.result is None:
            raise InputError(f"training run {model.run_id} has no stored model yet; call run.keep() or "
                             "run.keep_both() first, then evaluate it")
        return registry.model(model.result.id)
    from .finetuning import resolve_model

    return resolve_model(model, registry)


def _classifier(record: "ModelRecord", registry: "Registry"):
    from .zoo.sources import source_of

    return source_of(record).build(record, registry, head=True)


def output_columns(record: "ModelRecord", num_outputs: int, class_names: Sequence[str]) -> np.ndarray:
    """For each dataset class, the model output (column) that predicts it."""
    if record.labels:
        labels = [str(c) for c in record.labels]
        missing = [c for c in class_names if c not in labels]
        if missing:
            raise InputError(f"{record.ref} does not predict the classes {missing[:5]} of this dataset; "
                             "fine-tune it on these classes first (fmc.finetune)")
        return np.array([labels.index(c) for c in class_names])
    if num_outputs != len(class_names):
        raise InputError(f"{record.ref} has {num_outputs} outputs and no recorded labels, but the dataset has "
                         f"{len(class_names)} classes; fine-tune it on this dataset first (fmc.finetune)")
    return np.arange(num_outputs)


def evaluate(model: Any, x: Any, y: Any = None, *, registry: "Registry | None" = None,
             class_names: Sequence[str] | None = None, batch_size: int = 32) -> Evaluation:
    """Evaluate a registry model on images ``x (N, H, W[, C])`` with labels ``y (N,)`` (or ``x`` = dataset name).

    ``batch_size``: images per forward pass (halved on out-of-memory).
    Every argument is checked and the predictions are made before anything is written; then the images are
    stored as a registry dataset (content-hashed, so the same images are the same
    dataset) and the result with :meth:`Registry.add_evaluation`; compare models with
    ``registry.leaderboard(dataset)``.
    """
    from .arrays import check_labelled
    from .registry import open_registry
    from .report import classification_metrics
    from .training.batching import predict_in_batches
    from .zoo import preprocess_images

    batch_size = whole(batch_size, "batch_size", 1, MAX_BATCH_SIZE)
    reg = registry if registry is not None else open_registry()
    record = _model_record(model, reg)
    # everything up to the two writes at the end only reads: a refused call leaves the registry as it was
    if isinstance(x, str):
        if y is not None:
            raise InputError(f"x is the text {x[:40]!r}, a registry dataset name, so y must be None "
                             "(its labels are stored with it); "
                             "to evaluate on arrays pass the image array as x")
        dataset = reg.dataset(x)
        stored = reg.load_dataset(dataset)
        data = check_labelled(stored.x, stored.y, stored.class_names, min_classes=1)
    else:
        if y is None:
            raise InputError("pass labels y with the images, or x = the name of a registry dataset")
        data = check_labelled(x, y, class_names, min_classes=1)
        from .dataset_identity import dataset_of_arrays   # the dataset these arrays are, or a slice of

        dataset = dataset_of_arrays(reg, data, save=False, labels=y)   # nothing written before the checks
    if record.num_classes:  # refuse a model that cannot predict these classes before loading its weights
        output_columns(record, int(record.num_classes), data.class_names)
    net = _classifier(record, reg)
    columns = output_columns(record, int(net.outputs[0].shape[-1]), data.class_names)
    probs = []
    for start in range(0, len(data.y), 256):
        chunk = preprocess_images(record, data.x[start:start + 256])
        out, batch_size = predict_in_batches(net.predict_on_batch, chunk, batch_size)
        probs.append(out.astype(np.float64))
    p = np.concatenate(probs)
    picked = p[np.arange(len(data.y)), columns[data.y]]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    pred = p[:, columns].argmax(axis=1)
    metrics = classification_metrics(data.y, pred, len(data.class_names))
    if dataset is None or dataset.slice_rows is not None and dataset.slice_id is None:
        from .dataset_identity import dataset_of_arrays

        dataset = dataset_of_arrays(reg, data, save=True, labels=y)      # new images registered (reported)
    evaluation_id = reg.add_evaluation(record.id, dataset.id, accuracy=metrics.accuracy, loss=loss,
                                       num_examples=int(len(data.y)),
                                       metrics=metrics.to_dict(data.class_names), confusion=metrics.confusion.tolist())
    reg.link_slice("evaluations", evaluation_id, dataset)     # evaluated on a slice of a registered dataset
    return Evaluation(evaluation_id, record, dataset, data.class_names, metrics.accuracy, loss, metrics)
