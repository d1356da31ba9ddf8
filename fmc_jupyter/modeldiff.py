"""What changed between two Keras models, layer by layer: ``fmc.diff(a, b)`` ("git diff, for models").

Structure. Each model is flattened into its *leaf* layers (nested models are walked; input layers are
skipped), each described by its path (``backbone/conv1``), type, configuration (without name and
trainable flag), output shape, trainable flag and weight shapes. Layers of ``a`` and ``b`` are matched

1. by path, then
2. by layer name among the rest (so a backbone nested in one model and flat in the other still matches),
3. then by position: the rest are aligned in order with :class:`difflib.SequenceMatcher` on
   ``(type, config, weight shapes)``; an aligned pair is a *renamed* layer.

What is left is *removed* (only in ``a``) or *added* (only in ``b``).

Weights. For a matched pair whose weight lists have equal shapes, with ``w_a, w_b`` every weight of the
layer flattened and concatenated (float64), ``d = w_b - w_a``:

- ``l2_change = ||d||_2``
- ``relative_change = ||d||_2 / ||w_a||_2`` (0 when both are 0, ``inf`` when only ``w_a`` is 0)
- ``cosine = <w_a, w_b> / (||w_a||_2 ||w_b||_2)`` (NaN when a norm is 0)
- ``fraction_moved = mean(|d| > tolerance)``

computed in chunks of at most :data:`CHUNK_ELEMENTS` values, so peak memory stays a few MB above the
largest layer read.

Where layers and weights come from: each model's source (:mod:`fmc_jupyter.zoo.sources`) hands the diff a
:class:`~fmc_jupyter.zoo.sources.layers.LayerReader`. Catalog entries (Keras Applications, KerasHub presets)
are built by their library's own loader; stored ``.keras`` files are read *from the file* (``config.json`` and
``model.weights.h5`` one layer at a time, so two models larger than memory can be compared without building
either); legacy ``.h5`` files are loaded with Keras unless larger than :data:`FILE_READ_ABOVE_BYTES` (then read
with h5py). ``mode="memory"`` or ``mode="files"`` forces one way. TFLite models cannot be diffed.
"""

from __future__ import annotations

import difflib
import html
import json
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import FmcError, InputError
from .records import ModelRecord
from .zoo.sources.keras_file import FILE_READ_ABOVE_BYTES
from .zoo.sources.layers import KerasModelReader, LayerInfo, LayerReader

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

__all__ = ["diff", "ModelDiff", "LayerInfo", "weight_change", "fold_layers", "CHUNK_ELEMENTS", "FILE_READ_ABOVE_BYTES"]

CHUNK_ELEMENTS = 1 << 20  # 1M values (8 MB as float64) per step of the weight statistics
_LAYER_COLUMNS = ["position", "status", "name_a", "name_b", "type_a", "type_b", "changes", "output_shape_a",
                  "output_shape_b", "params_a", "params_b", "trainable_a", "trainable_b", "l2_change",
                  "relative_change", "cosine", "fraction_moved", "weights_changed"]


# ---------------------------------------------------------------------------------------------- weights (chunks)
def _iter_chunks(array: Any, size: int = CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
    """Slices of ``array`` (an ndarray or an h5py dataset, read lazily) along axis 0, flattened to float64."""
    shape = tuple(array.shape)
    if not shape:
        yield np.asarray(array[()], dtype=np.float64).reshape(1)
        return
    row = max(1, math.prod(shape[1:]))
    step = max(1, size // row)
    for start in range(0, shape[0], step):
        yield np.asarray(array[start:start + step], dtype=np.float64).ravel()



# ---------------------------------------------------------------------------------------------- resolving inputs
@dataclass
class _Side:
    source: LayerReader
    record: ModelRecord | None
    notes: list[str]


def _is_keras_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def _path_side(path: Path, mode: str) -> _Side:
    from .zoo.sources import source_for_path

    reader, notes = source_for_path(path).file_reader(path, path.name, mode)
    return _Side(reader, None, notes)


def _resolve(ref: Any, registry: "Registry | None", mode: str) -> _Side:
    """The layer reader of one side: a Keras model object, a model file, or a registry entry (its source reads it)."""
    if _is_keras_model(ref):
        return _Side(KerasModelReader(ref, ref.name), None, [])
    if _is_model_path(ref):
        return _path_side(Path(ref).expanduser(), mode)
    if registry is None:
        from .registry import open_registry

        registry = open_registry()
    record = registry.model(ref)
    from .zoo.sources import source_of

    reader, notes = source_of(record).layer_reader(record, registry, mode=mode, label=record.ref)
    return _Side(reader, record, notes)


def _is_model_path(ref: Any) -> bool:
    from .zoo.sources import MODEL_FILE_SUFFIXES

    return isinstance(ref, os.PathLike) or (isinstance(ref, str) and Path(ref).suffix.lower() in MODEL_FILE_SUFFIXES
                                            and Path(ref).expanduser().is_file())


# ---------------------------------------------------------------------------------------------- matching
def _match(a: list[LayerInfo], b: list[LayerInfo]) -> list[tuple[LayerInfo | None, LayerInfo | None]]:
    """Pairs ``(layer of a or None, layer of b or None)``: by path, then name, then position (see module doc)."""
    pairs: dict[int, int] = {}  # position in a -> position in b
    by_path = {layer.path: layer.position for layer in b}
    for layer in a:
        if layer.path in by_path:
            pairs[layer.position] = by_path.pop(layer.path)
    taken = set(pairs.values())
    rest_b: dict[str, list[int]] = {}
    for layer in b:
        if layer.position not in taken:
            rest_b.setdefault(layer.name, []).append(layer.position)
    rest_a: dict[str, list[int]] = {}
    for layer in a:
        if layer.position not in pairs:
            rest_a.setdefault(layer.name, []).append(layer.position)
    for name, positions in rest_a.items():
        if len(positions) == 1 and len(rest_b.get(name, [])) == 1:
            pairs[positions[0]] = rest_b[name][0]
    taken = set(pairs.values())
    left_a = [layer for layer in a if layer.position not in pairs]
    left_b = [layer for layer in b if layer.position not in taken]
    matcher = difflib.SequenceMatcher(None, [x.signature for x in left_a], [x.signature for x in left_b],
                                      autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs[left_a[block.a + k].position] = left_b[block.b + k].position
    # order: b's order, each removed layer right after the b-layer matched to its predecessor in a
    rows: list[tuple[tuple[float, int], LayerInfo | None, LayerInfo | None]] = []
    last_b = -1.0
    for layer in a:
        if layer.position in pairs:
            last_b = pairs[layer.position]
        else:
            rows.append(((last_b + 0.5, layer.position), layer, None))
    matched_b = {v: k for k, v in pairs.items()}
    for layer in b:
        other = a[matched_b[layer.position]] if layer.position in matched_b else None
        rows.append(((float(layer.position), 0), other, layer))
    rows.sort(key=lambda r: r[0])
    return [(x, y) for _, x, y in rows]


# ---------------------------------------------------------------------------------------------- weights
def weight_change(a: list[Any], b: list[Any], tolerance: float) -> dict[str, float]:
    """``l2_change, relative_change, cosine, fraction_moved`` of one layer's weights (see module doc).

    ``a``, ``b``: equal-length lists of arrays (or h5py datasets) with pairwise equal shapes.
    """
    diff_sq = norm_a = norm_b = dot = 0.0
    moved = total = 0
    for wa, wb in zip(a, b):
        for ca, cb in zip(_iter_chunks(wa), _iter_chunks(wb)):
            d = cb - ca
            diff_sq += float(d @ d)
            norm_a += float(ca @ ca)
            norm_b += float(cb @ cb)
            dot += float(ca @ cb)
            np.abs(d, out=d)
            moved += int(np.count_nonzero(d > tolerance))
            total += d.size
    l2 = math.sqrt(diff_sq)
    na, nb = math.sqrt(norm_a), math.sqrt(norm_b)
    relative = (0.0 if l2 == 0 else math.inf) if na == 0 else l2 / na
    cosine = dot / (na * nb) if na > 0 and nb > 0 else math.nan
    return {"l2_change": l2, "relative_change": relative, "cosine": min(1.0, max(-1.0, cosine)) if na and nb else cosine,
            "fraction_moved": moved / total if total else 0.0}


def _config_changes(a: dict, b: dict, limit: int = 4) -> list[str]:
    def short(v: Any) -> str:
        text = json.dumps(v, sort_keys=True, default=str)
        return text if len(text) <= 40 else text[:37] + "..."

    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    out = [f"{k}: {short(a.get(k))} -> {short(b.get(k))}" for k in keys[:limit]]
    if len(keys) > limit:
        out.append(f"{len(keys) - limit} more config keys")
    return out


def _compare(x: LayerInfo | None, y: LayerInfo | None, src_a: LayerReader, src_b: LayerReader, tolerance: float,
             position: int) -> dict[str, Any]:
    row: dict[str, Any] = {"position": position, "status": "same", "name_a": None, "name_b": None, "type_a": None,
                           "type_b": None, "changes": "", "output_shape_a": None, "output_shape_b": None,
                           "params_a": None, "params_b": None, "trainable_a": None, "trainable_b": None,
                           "l2_change": math.nan, "relative_change": math.nan, "cosine": math.nan,
                           "fraction_moved": math.nan, "weights_changed": False}
    for side, layer in (("a", x), ("b", y)):
        if layer is not None:
            row.update({f"name_{side}": layer.path, f"type_{side}": layer.type,
                        f"output_shape_{side}": layer.output_shape, f"params_{side}": layer.params,
                        f"trainable_{side}": layer.trainable})
    if x is None or y is None:
        row["status"] = "added" if x is None else "removed"
        row["changes"] = row["status"]
        return row
    changes: list[str] = []
    structural = False
    if x.type != y.type:
        changes.append(f"type {x.type} -> {y.type}")
        structural = True
    elif x.config != y.config:
        changes += _config_changes(x.config, y.config)
        structural = True
    if x.output_shape and y.output_shape and x.output_shape != y.output_shape:
        changes.append(f"output {x.output_shape} -> {y.output_shape}")
        structural = True
    if x.weight_shapes != y.weight_shapes:
        changes.append(f"params {x.params:,} -> {y.params:,}" if x.params != y.params else "weight shapes changed")
        structural = True
    renamed = x.name != y.name
    if renamed:
        changes.insert(0, f"renamed {x.name} -> {y.name}")
    flip = None
    if x.trainable is not None and y.trainable is not None and x.trainable != y.trainable and (x.params or y.params):
        flip = "unfrozen" if y.trainable else "frozen"
        changes.append(flip)
    if x.weight_shapes == y.weight_shapes and x.weight_shapes:
        stats = weight_change(src_a.weights(x), src_b.weights(y), tolerance)
        row.update(stats)
        row["weights_changed"] = stats["fraction_moved"] > 0
        if row["weights_changed"]:
            changes.append(f"weights moved ({stats['fraction_moved']:.1%}, relative {stats['relative_change']:.3g})")
    row["status"] = ("changed" if structural else "renamed" if renamed else flip if flip
                     else "weights" if row["weights_changed"] else "same")
    row["changes"] = "; ".join(changes)
    return row


# ---------------------------------------------------------------------------------------------- summary
def _summary(pairs: list[tuple[LayerInfo | None, LayerInfo | None]], rows: list[dict], a: list[LayerInfo],
             b: list[LayerInfo], tolerance: float) -> str:
    parts: list[str] = []
    head_a = next((layer for layer in reversed(a) if layer.params), None)
    head_b = next((layer for layer in reversed(b) if layer.params), None)
    partner = {id(x): y for x, y in pairs if x is not None}
    partner_b = {id(y): x for x, y in pairs if y is not None}
    skip: set[int] = set()
    if head_a is not None and head_b is not None:
        pa, pb = partner.get(id(head_a)), partner_b.get(id(head_b))
        if pa is head_b and head_a.weight_shapes != head_b.weight_shapes:
            parts.append(f"head replaced: {head_a.short()} -> {head_b.short()}")
        elif pa is not head_b:
            if pa is None and pb is None:
                parts.append(f"head replaced: {head_a.short()} -> {head_b.short()}")
                skip |= {id(head_a), id(head_b)}
            elif pb is None:
                parts.append(f"head added: {head_b.short()}")
                skip.add(id(head_b))
            elif pa is None:
                parts.append(f"head removed: {head_a.short()}")
                skip.add(id(head_a))
    added = sum(1 for x, y in pairs if x is None and id(y) not in skip)
    removed = sum(1 for x, y in pairs if y is None and id(x) not in skip)
    matched = [r for r in rows if r["status"] not in ("added", "removed")]
    if (a or b) and len(matched) < 0.5 * max(len(a), len(b)):
        parts.insert(0, "different architectures")

    def count(n: int, what: str) -> None:
        if n:
            parts.append(f"{n} layer{'s' if n != 1 else ''} {what}")

    count(removed, "removed")
    count(added, "added")
    count(sum(1 for r in matched if r["changes"].startswith("renamed")), "renamed")
    count(sum(1 for r in matched if r["status"] == "changed"), "changed")
    count(sum(1 for r in matched if "unfrozen" in r["changes"].split("; ")), "unfrozen")
    count(sum(1 for r in matched if "frozen" in r["changes"].split("; ")), "frozen")
    compared = [r for r in matched if not math.isnan(r["fraction_moved"])]
    moved = sum(1 for r in compared if r["weights_changed"])
    if moved:
        parts.append(f"weights changed in {moved} of {len(compared)} compared layers")
    if not parts:
        return f"identical: same {len(a)} layers, no weight moved more than {tolerance:g}"
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------- metadata
_META_FIELDS = ["id", "ref", "owner", "visibility", "source_kind", "family", "architecture", "params", "size_mb",
                "input_size", "num_classes", "top1", "top5", "pretrained_on", "parent_id", "run_id", "sha256",
                "created_at"]


def _metadata(side: _Side, layers: list[LayerInfo], registry: "Registry | None") -> dict[str, Any]:
    meta: dict[str, Any] = {"label": side.source.label, "read_from": side.source.how, "layers": len(layers),
                            "weights": int(sum(layer.params for layer in layers))}
    record = side.record
    if record is None:
        return meta
    for key in _META_FIELDS:
        meta[key] = getattr(record, key)
    if record.run_id is not None and registry is not None:
        try:
            run = registry.run(record.run_id)
        except FmcError:
            return meta
        best = [e.get("val_accuracy") for e in run.history if e.get("val_accuracy") is not None]
        dataset = None
        if run.dataset_id is not None:
            try:
                dataset = registry.dataset(run.dataset_id).name
            except FmcError:
                dataset = run.dataset_id
        meta.update({"run_status": run.status, "run_dataset": dataset, "run_base_model_id": run.model_id,
                     "run_epochs": len(run.history) or run.epochs, "run_optimizer": run.optimizer,
                     "run_learning_rate": run.learning_rate, "run_best_val_accuracy": max(best) if best else None,
                     "run_metrics": json.dumps(run.metrics, sort_keys=True) if run.metrics else None})
    return meta


def _relation(a: ModelRecord | None, b: ModelRecord | None, registry: "Registry | None") -> str | None:
    if a is None or b is None or registry is None or not hasattr(registry, "ancestors"):
        return None
    if a.id == b.id:
        return "same version"
    try:
        up_b = [r.id for r in registry.ancestors(b.id)]
        up_a = [r.id for r in registry.ancestors(a.id)]
    except FmcError:
        return None
    if a.id in up_b:
        n = up_b.index(a.id) + 1
        return f"{b.ref} descends from {a.ref} ({n} generation{'s' if n > 1 else ''})"
    if b.id in up_a:
        n = up_a.index(b.id) + 1
        return f"{a.ref} descends from {b.ref} ({n} generation{'s' if n > 1 else ''})"
    common = next((i for i in up_a if i in up_b), None)
    return f"siblings: both descend from model id {common}" if common is not None else "unrelated lines"


# ---------------------------------------------------------------------------------------------- result
def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


@dataclass
class ModelDiff:
    """The differences between model ``a`` and model ``b`` (see :func:`diff`).

    ``layers``: one row per matched, added or removed layer in the depth order of ``b`` (columns
    ``position, status, name_a, name_b, type_a, type_b, changes, output_shape_a/b, params_a/b,
    trainable_a/b, l2_change, relative_change, cosine, fraction_moved, weights_changed``); ``status`` is
    ``same``, ``weights`` (only weights moved), ``renamed``, ``unfrozen``, ``frozen``, ``changed``
    (type/config/shape), ``added`` or ``removed``. ``metadata``: the two models' facts side by side.
    """

    a: str
    b: str
    summary: str
    layers: pd.DataFrame
    metadata: pd.DataFrame
    tolerance: float
    relation: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """No layer added, removed or changed, and no weight moved more than the tolerance."""
        return bool((self.layers["status"] == "same").all())

    @property
    def changes(self) -> pd.DataFrame:
        """The rows of :attr:`layers` that differ."""
        return self.layers[self.layers["status"] != "same"]

    def __repr__(self) -> str:
        return f"ModelDiff({self.a} -> {self.b}: {self.summary})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN/inf become ``None``, shapes lists (for the REST route)."""
        meta = {col: {str(k): v for k, v in self.metadata[col].items()} for col in ("a", "b")}
        return _json_safe({"a": self.a, "b": self.b, "summary": self.summary, "identical": self.identical,
                           "relation": self.relation, "tolerance": self.tolerance, "notes": list(self.notes),
                           "metadata": meta, "layers": self.layers.to_dict(orient="records")})

    def plot(self, ax: Any = None, log: bool = True):
        """Relative weight change per layer along the depth of ``b`` (matplotlib); added/removed/changed marked.

        Without ``ax`` it draws a new ``matplotlib.figure.Figure`` (no pyplot state) and returns it, so the
        notebook shows the figure once and echoes no ``<Axes ...>`` line; with ``ax`` it draws there and returns
        ``ax``. Layers whose weights could not be compared (shapes differ, added, removed) have no bar.
        """
        if ax is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(10, 3.5))
            target, result = fig.subplots(), fig
        else:
            target, result = ax, ax
        rows = self.layers.reset_index(drop=True)
        rel = pd.to_numeric(rows["relative_change"], errors="coerce").astype(float).to_numpy()
        finite = np.isfinite(rel)
        positive = finite & (rel > 0)
        use_log = log and bool(positive.any())
        heights = np.where(positive if use_log else finite, rel, 0.0)
        target.bar(rows.index, heights, width=0.8, color="tab:blue", label="relative change ||Δw|| / ||w_a||")
        base = float(rel[positive].min()) / 2 if use_log else 0.0
        for status, color, marker in (("added", "tab:green", "^"), ("removed", "tab:red", "v"),
                                      ("changed", "tab:orange", "o")):
            idx = rows.index[rows["status"] == status]
            if len(idx):
                target.scatter(idx, np.full(len(idx), base), color=color, marker=marker, label=status, zorder=3)
        if use_log:
            target.set_yscale("log")
        if not finite.any():
            target.text(0.5, 0.5, "no layer's weights could be compared (shapes differ or layers added/removed)",
                        transform=target.transAxes, ha="center", va="center", fontsize=9, color="0.4")
        target.set_xlabel(f"layer (depth order of {self.b})")
        target.set_ylabel("relative change")
        target.set_title(f"{self.a} -> {self.b}: {self.summary}", fontsize=9)
        target.legend(fontsize=8, loc="best")
        if ax is None:
            result.tight_layout()
        return result

    def _repr_html_(self, max_rows: int = 200) -> str:
        """The summary, the changed layers (runs of identical/frozen layers folded into one row with their
        count), and the two models' metadata side by side with the differing fields highlighted."""
        esc = html.escape
        head = f"<h4>{esc(f'diff {self.a} -> {self.b}')}</h4><p><b>{esc(self.summary)}</b></p>"
        if self.relation:
            head += f"<p>{esc(self.relation)}</p>"
        head += "".join(f"<p><i>{esc(n)}</i></p>" for n in self.notes)
        mark = "background:rgba(255,165,0,0.22)"
        meta_rows = "".join(
            f"<tr style='{'' if same else mark}'><th style='text-align:left'>{esc(str(k))}</th>"
            f"<td style='text-align:left'>{esc(_cell(va))}</td><td style='text-align:left'>{esc(_cell(vb))}</td></tr>"
            for k, va, vb, same in zip(self.metadata.index, self.metadata["a"], self.metadata["b"],
                                       self.metadata["same"] if "same" in self.metadata else [True] * len(self.metadata)))
        meta = f"<table><tr><th></th><th>{esc(self.a)}</th><th>{esc(self.b)}</th></tr>{meta_rows}</table>"
        cols = ["position", "status", "name_a", "name_b", "changes", "params_a", "params_b", "relative_change",
                "cosine", "fraction_moved"]
        rows = fold_layers(self.layers.to_dict(orient="records"))
        shown = [r for r in rows if r["status"] != "same"]
        body = []
        for r in shown[:max_rows]:
            if r["status"] == "folded":
                body.append(f"<tr><td colspan='{len(cols)}' style='text-align:left;color:#777'>"
                            f"{esc(_folded_text(r))}</td></tr>")
            else:
                body.append("<tr>" + "".join(f"<td>{esc(_cell(r[c]))}</td>" for c in cols) + "</tr>")
        hidden = sum(1 for r in rows if r["status"] == "same")
        note = f"<p style='color:#777'>{hidden} identical layer{'s' if hidden != 1 else ''} not listed</p>" if hidden else ""
        more = f"<p>{len(shown) - max_rows} more rows in .layers</p>" if len(shown) > max_rows else ""
        table = (f"<table><tr>{''.join(f'<th>{esc(c)}</th>' for c in cols)}</tr>{''.join(body)}</table>{more}{note}"
                 if len(self.changes) else "<p>no layer differs</p>")
        return f"<div class='fmc-diff'>{head}{table}<details><summary>metadata</summary>{meta}</details></div>"


#: a run of at least this many unremarkable layers (identical, or only frozen/unfrozen) folds into one row
FOLD_AT = 3
_QUIET = ("same", "frozen", "unfrozen")


def fold_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layer rows with every run of >= :data:`FOLD_AT` consecutive rows of one quiet status
    (``same``, ``frozen``, ``unfrozen``: structure equal, no weight moved) folded into one row
    ``{"status": "folded", "folded_status": s, "count": n, "first": i, "last": j}``; other rows unchanged."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(layers):
        status = layers[i].get("status")
        j = i
        while (j < len(layers) and status in _QUIET and layers[j].get("status") == status
               and not layers[j].get("weights_changed")):
            j += 1
        if j - i >= FOLD_AT:
            out.append({"status": "folded", "folded_status": status, "count": j - i,
                        "first": layers[i].get("position"), "last": layers[j - 1].get("position")})
            i = j
        else:
            out.append(layers[i])
            i += 1
    return out


def _folded_text(row: dict[str, Any]) -> str:
    what = {"same": "identical", "frozen": "frozen, weights identical",
            "unfrozen": "unfrozen, weights identical"}.get(row["folded_status"], row["folded_status"])
    return f"{row['count']} layers {what} (positions {row['first']}-{row['last']})"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ---------------------------------------------------------------------------------------------- entry point
def diff(a: Any, b: Any, registry: "Registry | None" = None, tolerance: float = 1e-6, *,
         mode: str = "auto") -> ModelDiff:
    """What changed from model ``a`` to model ``b``: structure, weights, metadata.

    ``a``, ``b``: registry references (id, name, ``name:vN``, ``name@alias``, :class:`ModelRecord`), Keras
    model objects, or paths of ``.keras``/``.h5`` files. ``registry`` defaults to :func:`open_registry`.
    ``tolerance``: a weight has *moved* when ``|w_b - w_a| > tolerance``.
    ``mode``: ``"auto"`` (stored ``.keras`` files read layer by layer from the file, catalog entries built by
    Keras), ``"files"`` (every stored file read from the file), ``"memory"`` (everything loaded by Keras).
    TFLite models raise :class:`ModelLoadError`.
    """
    if mode not in ("auto", "files", "memory"):
        raise InputError(f"mode must be 'auto', 'files' or 'memory', not {mode!r}")
    try:
        tolerance = float(tolerance)
    except (TypeError, ValueError):
        raise InputError(f"tolerance must be a number >= 0, not {tolerance!r}") from None
    if not tolerance >= 0:
        raise InputError(f"tolerance must be a number >= 0, not {tolerance!r}")
    needs_registry = not all(_is_keras_model(x) or _is_model_path(x) for x in (a, b))
    opened = registry is None and needs_registry
    if opened:
        from .registry import open_registry

        registry = open_registry()
    try:
        return _diff(a, b, registry, tolerance, mode)
    finally:
        if opened:
            registry.close()


def _diff(a: Any, b: Any, registry: "Registry | None", tolerance: float, mode: str) -> ModelDiff:
    side_a = _resolve(a, registry, mode)
    try:
        side_b = _resolve(b, registry, mode)
    except BaseException:
        side_a.source.close()
        raise
    try:
        layers_a, layers_b = side_a.source.layers(), side_b.source.layers()
        pairs = _match(layers_a, layers_b)
        rows = [_compare(x, y, side_a.source, side_b.source, tolerance, i) for i, (x, y) in enumerate(pairs)]
        summary = _summary(pairs, rows, layers_a, layers_b, tolerance)
        meta_a = _metadata(side_a, layers_a, registry)
        meta_b = _metadata(side_b, layers_b, registry)
    finally:
        side_a.source.close()
        side_b.source.close()
    keys = list(dict.fromkeys([*meta_a, *meta_b]))
    metadata = pd.DataFrame({"a": [meta_a.get(k) for k in keys], "b": [meta_b.get(k) for k in keys]}, index=keys)
    metadata["same"] = [_same(meta_a.get(k), meta_b.get(k)) for k in keys]
    table = pd.DataFrame(rows, columns=_LAYER_COLUMNS)
    return ModelDiff(a=side_a.source.label, b=side_b.source.label, summary=summary, layers=table, metadata=metadata,
                     tolerance=tolerance, relation=_relation(side_a.record, side_b.record, registry),
                     notes=side_a.notes + side_b.notes)


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return bool(x == y)
