"""Plain result records with rich notebook display. No SQL, no Keras, no Jupyter imports."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["ModelRecord", "DatasetRecord", "RunRecord", "html_table", "record_from_row"]


def _fmt(value: Any, key: str = "") -> str:
    if value is None or value == "":
        return "–"
    if key in ("top1", "top5", "accuracy", "val_accuracy") and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    if key == "params" and isinstance(value, (int, float)):
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) < 120 else text[:117] + "..."
    return str(value)


def html_table(pairs: list[tuple[str, Any]]) -> str:
    """Two-column key/value table; every value is escaped (registry text is never HTML)."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(_fmt(v, k))}</td></tr>"
        for k, v in pairs
    )
    return f"<table>{rows}</table>"


def record_from_row(cls, row: dict[str, Any]):
    """Build a record dataclass from a DB row, decoding JSON columns and ignoring unknown keys."""
    names = {f.name for f in fields(cls)}
    data = {}
    for key, value in row.items():
        if key not in names:
            continue
        if key in cls._json_fields and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        data[key] = value
    return cls(**data)


@dataclass
class ModelRecord:
    """One model version in the registry (a catalog entry, an upload, or a fine-tuned version)."""

    _json_fields = ("source", "labels")

    id: int
    name: str
    version: int
    source_kind: str
    owner: str
    visibility: str
    family: str | None = None
    architecture: str | None = None
    task: str | None = None
    domain: str | None = None
    source: dict = field(default_factory=dict)
    input_size: int | None = None
    params: int | None = None
    size_mb: float | None = None
    top1: float | None = None
    top5: float | None = None
    depth: int | None = None
    cpu_ms: float | None = None
    gpu_ms: float | None = None
    pretrained_on: str | None = None
    license: str | None = None
    preprocessing: str | None = None
    num_classes: int | None = None
    labels: list | None = None
    description: str = ""
    tags: str = ""
    parent_id: int | None = None
    run_id: int | None = None
    artifact: str | None = None
    sha256: str | None = None
    created_at: str | None = None
    format: str | None = None               # keras | tflite | kerashub | hf | kaggle
    weights_present: int | None = None      # 1 when the weights were on this machine when last checked

    @property
    def ref(self) -> str:
        """``name:vN``: this version as its owner names it (for others a bare name may mean their own line)."""
        return f"{self.name}:v{self.version}"

    @property
    def line(self) -> str:
        """The model line: ``owner/name``, or just ``name`` for the catalog (see ``docs/registry.md``)."""
        return self.name if self.owner == "catalog" else f"{self.owner}/{self.name}"

    @property
    def full_ref(self) -> str:
        """``owner/name:vN`` (catalog: ``name:vN``): names this version the same way for every user."""
        return f"{self.line}:v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        keys = ["family", "architecture", "task", "domain", "input_size", "params", "size_mb", "top1", "top5",
                "depth", "cpu_ms", "gpu_ms", "pretrained_on", "num_classes", "preprocessing", "license",
                "source_kind", "format", "weights_present", "owner", "visibility", "parent_id", "run_id", "sha256",
                "created_at", "tags"]
        title = html.escape(f"{self.ref}  (id {self.id})")
        desc = f"<p>{html.escape(self.description)}</p>" if self.description else ""
        return f"<div class='fmc-card'><h4>{title}</h4>{desc}{html_table([(k, getattr(self, k)) for k in keys])}</div>"

    def __repr__(self) -> str:
        top1 = _fmt(self.top1, "top1")
        return (f"ModelRecord({self.ref}, id={self.id}, {self.source_kind}, family={self.family}, "
                f"params={_fmt(self.params, 'params')}, top1={top1}, {self.visibility}, owner={self.owner})")


@dataclass
class DatasetRecord:
    """A public, immutable, content-hashed dataset."""

    _json_fields = ("image_shape", "class_names", "class_counts")

    id: int
    name: str
    content_hash: str
    num_examples: int
    image_shape: list
    num_classes: int
    class_names: list
    class_counts: list
    source: str
    artifact: str
    created_by: str
    description: str = ""
    created_at: str | None = None
    #: set when the record stands for a slice of this dataset: the stored slice's id, and its row indices
    slice_id: int | None = None
    slice_rows: list | None = None

    @property
    def label(self) -> str:
        """The dataset's name, and the slice when it is one: ``sign-digits (slice: 200 of 2062 images)``."""
        if self.slice_rows is None:
            return self.name
        return f"{self.name} (slice: {len(self.slice_rows)} of {self.num_examples} images)"

    def _repr_html_(self) -> str:
        keys = ["num_examples", "image_shape", "num_classes", "class_names", "class_counts", "source",
                "content_hash", "created_by", "created_at"]
        return (f"<div class='fmc-card'><h4>{html.escape(f'dataset {self.name} (id {self.id})')}</h4>"
                f"{html_table([(k, getattr(self, k)) for k in keys])}</div>")


@dataclass
class RunRecord:
    """A training run with its per-epoch metrics (``epochs`` is a list of dicts, oldest first)."""

    _json_fields = ("optimizer_config", "batch_size_changes", "config", "metrics", "confusion")

    id: int
    model_id: int
    owner: str
    status: str
    kind: str = "finetune"
    dataset_id: int | None = None
    optimizer: str | None = None
    optimizer_config: dict | None = None
    loss: str | None = None
    batch_size: int | None = None
    batch_size_changes: list = field(default_factory=list)
    learning_rate: float | None = None
    epochs: int | None = None
    config: dict = field(default_factory=dict)
    device: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    outcome: str | None = None
    result_model_id: int | None = None
    metrics: dict = field(default_factory=dict)
    confusion: list | None = None
    error: str | None = None
    history: list = field(default_factory=list)

    def _repr_html_(self) -> str:
        keys = ["model_id", "dataset_id", "status", "optimizer", "learning_rate", "batch_size", "epochs", "loss",
                "device", "duration_s", "outcome", "result_model_id", "error"]
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(e.get(k), k))}</td>"
                             for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")) + "</tr>"
            for e in self.history
        )
        head = "".join(f"<th>{k}</th>" for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy"))
        return (f"<div class='fmc-card'><h4>{html.escape(f'training run {self.id}')}</h4>"
                f"{html_table([(k, getattr(self, k)) for k in keys])}<table><tr>{head}</tr>{rows}</table></div>")
