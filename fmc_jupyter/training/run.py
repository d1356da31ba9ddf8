"""``TrainingRun``: the result of a fine-tune and the user's choice of what to do with it."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import FmcError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..records import DatasetRecord, ModelRecord, RunRecord
    from ..registry import Registry
    from ..report import ClassificationMetrics, TrainingReport
    from .lr_finder import LRFinderResult

__all__ = ["TrainingRun"]

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "batch_size", "seconds"]


class TrainingRun:
    """A finished fine-tune: its trained model, its history and its registry record.

    ``keep()`` stores the model as the next version of the base model's line, ``keep_both()`` as a new
    model line derived from the base, ``discard()`` drops the weights; the record stays in every case.
    """

    def __init__(self, *, registry: "Registry", run_id: int, base: "ModelRecord", model: Any,
                 class_names: tuple[str, ...], dataset: "DatasetRecord | None", history: list[dict[str, Any]],
                 metrics: "ClassificationMetrics | None", config: dict[str, Any],
                 lr_finder: "LRFinderResult | None" = None, batch_size_changes: list[dict[str, Any]] | None = None,
                 checkpoints: list["ModelRecord"] | None = None):
        self.registry = registry
        self.run_id = run_id
        self.curves_shown = False  # True once a live plot drew the curves: the card then shows them no more
        self.base = base
        self.model = model
        self.class_names = class_names
        self.dataset = dataset
        self._history = history
        self.metrics = metrics
        self.config = config
        self.lr_finder = lr_finder
        self.batch_size_changes = batch_size_changes or []
        self.checkpoints = checkpoints or []  # versions stored at chosen epochs (finetune(checkpoints=...))
        self.result: "ModelRecord | None" = None
        self._report: "TrainingReport | None" = None

    # ------------------------------------------------------------------ reading
    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch: loss, accuracy, val_loss, val_accuracy, learning_rate, batch_size, seconds."""
        return pd.DataFrame(self._history, columns=HISTORY_COLUMNS)

    @property
    def record(self) -> "RunRecord":
        """The run as stored in the registry (status, outcome, epochs, ...)."""
        return self.registry.run(self.run_id)

    @property
    def val_accuracy(self) -> float | None:
        return self.metrics.accuracy if self.metrics is not None else None

    @property
    def outcome(self) -> str | None:
        return self.record.outcome

    def predict(self, x, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, C)`` for images ``x (N, H, W[, C])`` (resized and preprocessed here)."""
        from ..arrays import as_images
        from ..zoo import preprocess_images

        from ..arguments import MAX_BATCH_SIZE, whole

        self._need_model("predict with")
        batch_size = whole(batch_size, "batch_size", 1, MAX_BATCH_SIZE)
        images = as_images(x)
        record = self._preprocessing_record()
        out = [np.asarray(self.model.predict_on_batch(preprocess_images(record, images[i:i + batch_size])))
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out)

    def _preprocessing_record(self):
        from dataclasses import replace

        return replace(self.base, input_size=self.config.get("input_size") or self.base.input_size)

    # ------------------------------------------------------------------ report
    def report(self, path: str | Path | None = None) -> "TrainingReport":
        """Curves, confusion matrix and per-class precision/recall; also written as a standalone HTML file.

        ``path`` defaults to ``<registry artifacts>/reports/run-<id>.html``. Shown in the notebook as
        the cell's value.
        """
        from ..report import TrainingReport

        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InputError(f"path must be a file path for the HTML report, not {type(path).__name__}")
        rec = self.record
        summary = [("base model", self.base.ref), ("dataset", self.dataset.label if self.dataset else None),
                   ("status", rec.status), ("mode", self.config.get("mode")),
                   ("unfrozen layers", self.config.get("unfrozen_layers")), ("optimizer", rec.optimizer),
                   ("learning_rate", rec.learning_rate), ("batch_size", rec.batch_size),
                   ("batch size changes", rec.batch_size_changes or None), ("epochs", len(self._history)),
                   ("device", rec.device), ("duration_s", rec.duration_s), ("outcome", rec.outcome),
                   ("val_accuracy", self.val_accuracy)]
        report = TrainingReport(title=f"Training run {self.run_id}: {self.base.ref} on "
                                      f"{self.dataset.label if self.dataset else 'arrays'}",
                                history=self._history, class_names=list(self.class_names), metrics=self.metrics,
                                summary=summary, lr_finder=self.lr_finder)
        if path is None:  # beside the registry's artifacts; a remote registry's reports stay in the local cache
            from ..config import cache_dir

            root = getattr(self.registry, "artifacts_root", None) or cache_dir()
            path = Path(root) / "reports" / f"run-{self.run_id}.html"
        dest = Path(path)
        report.save(dest)
        metrics = dict(rec.metrics or {})
        metrics["report"] = str(dest)
        self.registry.update_run(self.run_id, metrics=metrics)
        self._report = report
        return report

    # ------------------------------------------------------------------ outcome
    def _need_model(self, action: str) -> None:
        if self.model is None:
            raise FmcError(f"run {self.run_id}'s weights were discarded; cannot {action} it. Train again.")

    def _need_undecided(self) -> None:
        outcome = self.record.outcome
        if outcome:
            raise FmcError(f"run {self.run_id} is already {outcome}"
                           + (f" (model id {self.result.id})" if self.result else "") + "; an outcome is chosen once")

    def _store(self, name: str | None, fork: bool, description: str, visibility: str) -> "ModelRecord":
        from ..arguments import text as check_text

        check_text(visibility, "visibility", choices=("private", "public"))
        if not isinstance(description, str):
            raise InputError(f"description must be text, not {type(description).__name__}")
        self._need_model("keep")
        self._need_undecided()
        acc = self.val_accuracy
        text = description or (f"{self.base.ref} fine-tuned on {self.dataset.label if self.dataset else 'arrays'} "
                               f"(run {self.run_id}" + (f", val accuracy {acc * 100:.1f}%" if acc is not None else "")
                               + ")")
        with tempfile.TemporaryDirectory(prefix="fmc-keep-") as tmp:
            path = Path(tmp) / f"{(name or self.base.name).replace(' ', '_')}.keras"
            self.model.save(path)  # the registry copies it atomically into its store with its sha256
            return self.registry.add_model(
                path, name=name, parent=self.base.id, fork=fork, visibility=visibility, run_id=self.run_id,
                labels=list(self.class_names), preprocessing=self.base.preprocessing, description=text,
                domain=self.base.domain or "natural", tags="finetuned",
                pretrained_on=self.base.pretrained_on, license=self.base.license,
                facts={"input_size": self.config["input_size"]} if self.config.get("input_size") else None)

    def keep(self, description: str = "", visibility: str = "private") -> "ModelRecord":
        """Store the trained model as the next version of the base model's line; returns its record."""
        record = self._store(None, False, description, visibility)
        self.registry.update_run(self.run_id, outcome="kept", result_model_id=record.id)
        self.result = record
        return record

    def keep_both(self, name: str | None = None, description: str = "", visibility: str = "private") -> "ModelRecord":
        """Store the trained model as a new model line (``name``, default ``<base>-ft<run id>``) derived from the base."""
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InputError(f"keep_both needs a name for the new model line (text), not {name!r}")
        name = name or f"{self.base.name}-ft{self.run_id}"
        try:
            existing = self.registry.model(name)
        except FmcError:
            existing = None
        if existing is not None:
            raise InputError(f"a model named '{name}' exists already; keep_both makes a new model line, "
                             "so pass another name (or use keep() to add a version)")
        record = self._store(name, True, description, visibility)
        self.registry.update_run(self.run_id, outcome="kept_both", result_model_id=record.id)
        self.result = record
        return record

    def discard(self) -> None:
        """Drop the trained weights; the training record stays, with outcome ``discarded``."""
        self._need_undecided()
        self.model = None
        self.registry.update_run(self.run_id, outcome="discarded")

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        acc = f"{self.val_accuracy * 100:.1f}%" if self.val_accuracy is not None else "n/a"
        return (f"TrainingRun(id={self.run_id}, base={self.base.ref}, epochs={len(self._history)}, "
                f"val_accuracy={acc}, mode={self.config.get('mode')})")

    def _repr_html_(self) -> str:
        from ..report import curves_figure, figure_html

        rec = self.record
        acc = f"{self.val_accuracy * 100:.1f}%" if self.val_accuracy is not None else "n/a"
        head = (f"<h4>{html.escape(f'Training run {self.run_id}: {self.base.ref}')}</h4>"
                f"<p>status {html.escape(rec.status)}, {len(self._history)} epochs, validation accuracy {acc}, "
                f"outcome {html.escape(str(rec.outcome or 'undecided'))}. Choose <code>run.keep()</code>, "
                "<code>run.keep_both()</code> or <code>run.discard()</code>; <code>run.report()</code> for details.</p>")
        curves = figure_html(curves_figure(self._history), dpi=80) if self._history and not self.curves_shown else ""
        table = self.history.assign(epoch=self.history["epoch"] + 1)  # people count epochs from 1, as the plots do
        return f"<div class='fmc-card'>{head}{table.to_html(index=False, float_format='%.4f')}{curves}</div>"
