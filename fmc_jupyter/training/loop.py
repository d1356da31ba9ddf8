"""The training loop: epochs of ``train_on_batch`` with out-of-memory recovery and per-epoch records.

Why not ``model.fit``: when the device runs out of memory in the middle of an epoch, ``fit`` loses the
epoch; this loop halves the batch, retries the same examples and carries on with the same model and
optimizer state, and records the change. Validation loss and accuracy are computed with numpy from
the predicted probabilities ``P (N, C)``:

    val_loss = -mean_i log(max(P[i, y_i], 1e-7)),   val_accuracy = mean_i [argmax_c P[i, c] == y_i].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batching import MIN_BATCH_SIZE, is_out_of_memory, predict_in_batches
from .progress import Progress

__all__ = ["TrainingLoop", "BatchSizeChange", "probabilities_metrics"]


@dataclass
class BatchSizeChange:
    epoch: int
    step: int
    old: int
    new: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "from": self.old, "to": self.new, "reason": self.reason}


def probabilities_metrics(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(cross-entropy loss, accuracy)`` of probabilities ``(N, C)`` against labels ``(N,)``."""
    picked = probs[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    return loss, float(np.mean(probs.argmax(axis=1) == labels))


@dataclass
class TrainingLoop:
    """Train a compiled ``model`` on ``x (N, ...)``, ``y (N,)`` and validate on ``x_val``, ``y_val``.

    ``on_epoch(row)`` is called as each epoch ends (the run record is written there);
    ``on_batch_size(change)`` when out-of-memory forces a smaller batch.
    """

    model: Any
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    batch_size: int
    epochs: int
    seed: int = 0
    augment: Callable[[np.ndarray], np.ndarray] | None = None
    callbacks: Sequence[Any] = ()
    progress: Progress = field(default_factory=lambda: Progress(False))
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    on_batch_size: Callable[[BatchSizeChange], None] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    changes: list[BatchSizeChange] = field(default_factory=list)
    val_probs: np.ndarray | None = None

    def _shrink(self, epoch: int, step: int, exc: BaseException) -> None:
        new = max(MIN_BATCH_SIZE, self.batch_size // 2)
        change = BatchSizeChange(epoch, step, self.batch_size, new, f"{type(exc).__name__}: {str(exc)[:200]}")
        self.changes.append(change)
        self.batch_size = new
        self.progress.note(f"out of memory at batch size {change.old}; continuing with {new}")
        if self.on_batch_size:
            self.on_batch_size(change)

    def predict(self, x: np.ndarray, epoch: int = -1) -> np.ndarray:
        """Probabilities for ``x``, batch by batch, halving the batch on out-of-memory."""
        def changed(old: int, new: int, exc: BaseException) -> None:
            self.batch_size = old
            self._shrink(epoch, -1, exc)

        probs, _ = predict_in_batches(self.model.predict_on_batch, x, self.batch_size, on_change=changed)
        return probs

    def _learning_rate(self) -> float | None:
        try:
            return float(np.asarray(self.model.optimizer.learning_rate))
        except Exception:  # pragma: no cover - schedules
            return None

    def run(self) -> list[dict[str, Any]]:
        """Train all epochs (or until a callback sets ``model.stop_training``); returns the history."""
        rng = np.random.default_rng(self.seed)
        self.model.stop_training = False
        for cb in self.callbacks:
            cb.set_model(self.model)
            cb.on_train_begin({})
        for epoch in range(self.epochs):
            start = time.perf_counter()
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            order = rng.permutation(len(self.x))
            pos, step, loss_sum, acc_sum = 0, 0, 0.0, 0.0
            self.progress.start_epoch(epoch, self.epochs, len(order))
            while pos < len(order):
                idx = order[pos:pos + self.batch_size]
                xb, yb = self.x[idx], self.y[idx]
                if self.augment is not None:
                    xb = self.augment(xb)
                try:
                    logs = self.model.train_on_batch(xb, yb, return_dict=True)
                except Exception as exc:
                    if not is_out_of_memory(exc) or self.batch_size <= MIN_BATCH_SIZE:
                        raise
                    self._shrink(epoch, step, exc)
                    continue
                loss_sum += float(logs["loss"]) * len(idx)
                acc_sum += float(logs.get("accuracy", logs.get("sparse_categorical_accuracy", np.nan))) * len(idx)
                pos += len(idx)
                step += 1
                self.progress.advance(len(idx), {"loss": loss_sum / pos, "accuracy": acc_sum / pos})
            self.val_probs = self.predict(self.x_val, epoch)
            val_loss, val_acc = probabilities_metrics(self.val_probs, self.y_val)
            row = {"epoch": epoch, "loss": loss_sum / len(order), "accuracy": acc_sum / len(order),
                   "val_loss": val_loss, "val_accuracy": val_acc, "learning_rate": self._learning_rate(),
                   "batch_size": self.batch_size, "seconds": time.perf_counter() - start}
            self.history.append(row)
            if self.on_epoch:
                self.on_epoch(row)
            self.progress.end_epoch(row, self.history)
            logs = {k: v for k, v in row.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            if getattr(self.model, "stop_training", False):
                break
        for cb in self.callbacks:
            cb.on_train_end({})
        return self.history
