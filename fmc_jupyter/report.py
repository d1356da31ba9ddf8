"""Training reports: loss/accuracy curves, confusion matrix, per-class precision and recall.

Shown in the notebook through ``_repr_html_`` and written as one standalone HTML file (figures are
matplotlib ``Figure`` objects rendered to PNG and embedded as base64, so the file needs nothing else).
No pyplot state is touched: figures are built with ``matplotlib.figure.Figure`` directly.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TrainingReport", "ClassificationMetrics", "classification_metrics", "figure_html", "curves_figure",
           "confusion_figure"]


@dataclass
class ClassificationMetrics:
    """Confusion matrix ``(C, C)`` (rows: true class, columns: predicted) and per-class scores ``(C,)``.

    precision_c = M[c, c] / sum_i M[i, c],  recall_c = M[c, c] / sum_j M[c, j],
    accuracy = trace(M) / sum(M). A class never predicted (or absent) gets precision (recall) 0.
    """

    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    support: np.ndarray
    accuracy: float

    def to_dict(self, class_names: Sequence[str]) -> dict[str, Any]:
        return {"accuracy": self.accuracy,
                "per_class": {str(c): {"precision": float(p), "recall": float(r), "support": int(s)}
                              for c, p, r, s in zip(class_names, self.precision, self.recall, self.support)}}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> ClassificationMetrics:
    """Metrics of predicted class ids ``y_pred (N,)`` against ``y_true (N,)``, classes ``0..C-1``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    diag = np.diag(confusion).astype(np.float64)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(diag, predicted, out=np.zeros_like(diag), where=predicted > 0)
    recall = np.divide(diag, support, out=np.zeros_like(diag), where=support > 0)
    accuracy = float(diag.sum() / max(confusion.sum(), 1))
    return ClassificationMetrics(confusion, precision, recall, support, accuracy)


def figure_html(fig, dpi: int = 100, alt: str = "figure") -> str:
    """An ``<img>`` tag with ``fig`` as an embedded base64 PNG (``alt`` describes it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='{html.escape(alt, quote=True)}' src='data:image/png;base64,{data}'/>"


def curves_figure(history: Sequence[dict[str, Any]]):
    """Loss and accuracy per epoch, training and validation, side by side."""
    from matplotlib.figure import Figure

    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 3.2))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [int(e["epoch"]) + 1 for e in history]  # epochs count from 1, as in the tables
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            values = [e.get(prefix + key) for e in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], style, ms=3,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # ticks at whole epochs, never 1.25
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str]):
    """The confusion matrix as a heat map with counts (rows: true class, columns: predicted)."""
    from matplotlib.figure import Figure

    n = len(class_names)
    side = min(10, 2.5 + 0.45 * n)
    fig = Figure(figsize=(side, side * 0.85))
    ax = fig.subplots()
    ax.imshow(confusion, cmap="Blues")
    ticks = np.arange(n)
    ax.set_xticks(ticks, [str(c)[:12] for c in class_names], rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    ax.set_yticks(ticks, [str(c)[:12] for c in class_names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        top = confusion.max() if confusion.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if confusion[i, j] > top / 2 else "black")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    return fig


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        text = f"{v:.3f}" if isinstance(v, float) else str(v)
        return f"<td style='text-align:right;padding:0 .6em'>{html.escape(text)}</td>"

    head = "".join(f"<th style='padding:0 .6em'>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


@dataclass
class TrainingReport:
    """What a training run achieved: curves, confusion matrix, per-class precision and recall."""

    title: str
    history: list[dict[str, Any]]
    class_names: list[str]
    metrics: ClassificationMetrics | None
    summary: list[tuple[str, Any]] = field(default_factory=list)
    lr_finder: Any = None
    path: Path | None = None

    def body_html(self) -> str:
        from .records import html_table

        parts = [f"<h3>{html.escape(self.title)}</h3>", html_table(self.summary)]
        if self.history:
            parts += ["<h4>Training curves</h4>", figure_html(curves_figure(self.history), alt="loss and accuracy curves")]
        if self.metrics is not None:
            m = self.metrics
            parts += [f"<h4>Validation: accuracy {m.accuracy * 100:.1f}% on {int(m.support.sum())} images</h4>",
                      figure_html(confusion_figure(m.confusion, self.class_names), alt="confusion matrix"),
                      "<h4>Per-class precision and recall</h4>",
                      _table(["class", "precision", "recall", "support"],
                             [(c, float(p), float(r), int(s)) for c, p, r, s in
                              zip(self.class_names, m.precision, m.recall, m.support)])]
        if self.lr_finder is not None:
            parts += ["<h4>Learning-rate range test</h4>", figure_html(self.lr_finder.figure(), alt="learning-rate range test"),
                      f"<p>chosen learning rate: {self.lr_finder.suggested:.3g}</p>"]
        if self.path is not None:
            parts.append(f"<p style='color:#666'>saved as {html.escape(str(self.path))}</p>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return f"<div class='fmc-report'>{self.body_html()}</div>"

    def to_html(self) -> str:
        """A standalone HTML document."""
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title>"
                "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse} "
                "th{text-align:left}</style></head><body>" + self.body_html() + "</body></html>")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the standalone HTML file atomically (temporary name, fsync, rename); returns its path."""
        from .registry.artifacts import write_atomic

        self.path = Path(path)
        text = self.to_html().encode("utf-8")
        write_atomic(self.path, lambda fh: fh.write(text))
        return self.path

    def __repr__(self) -> str:
        acc = f"{self.metrics.accuracy * 100:.1f}%" if self.metrics is not None else "n/a"
        return f"TrainingReport({self.title!r}, epochs={len(self.history)}, val_accuracy={acc}, path={self.path})"
