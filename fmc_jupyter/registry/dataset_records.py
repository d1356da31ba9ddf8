"""What the registry's own history says about a dataset: signatures, similar datasets, best models and runs.

:class:`DatasetRecordsMixin` adds to :class:`~fmc_jupyter.registry.Registry`:

- ``dataset_signature(dataset)``: the dataset's signature (:mod:`fmc_jupyter.similarity`), computed once with the
  fixed reference embedder and stored in ``dataset_signatures`` (migration 21);
- ``similar_datasets(x_or_dataset, y=None, k=5)``: the ``k`` nearest registered datasets with distances;
- ``dataset_records(dataset)``: ``{model line: best accuracy}`` from visible evaluations and finished training
  runs on the dataset (and its slices);
- ``best_runs(dataset)``: finished runs on it you can see, best validation accuracy first (warm starts).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..records import DatasetRecord

if TYPE_CHECKING:  # pragma: no cover
    from ..similarity import Signature
    from .registry import Registry

__all__ = ["DatasetRecordsMixin", "MIGRATION_21"]

#: migration 21: one signature per (dataset, reference embedder)
MIGRATION_21 = """
CREATE TABLE dataset_signatures (
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    embedder TEXT NOT NULL,
    signature TEXT NOT NULL,                    -- JSON: class means, spreads, counts
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (dataset_id, embedder)
);
"""


class DatasetRecordsMixin:
    """Signature / similarity / history methods of :class:`Registry`."""

    def dataset_signature(self: "Registry", dataset: Any, *, compute: bool = True,
                          store: bool = True) -> "Signature | None":
        """The stored signature of ``dataset``; computed (reference embedder, Keras) when missing, and stored
        unless ``store=False``; None when missing and ``compute=False``."""
        from ..similarity import REFERENCE_MODEL, Signature, compute_signature

        record = self.dataset(dataset)
        row = self.db.execute("SELECT signature FROM dataset_signatures WHERE dataset_id = ? AND embedder = ?",
                              [record.id, REFERENCE_MODEL]).fetchone()
        if row:
            return Signature.from_dict(json.loads(row[0]))
        if not compute:
            return None
        stored = self.load_dataset(record)
        sig = compute_signature(self, stored.x, stored.y)
        if not store:
            return sig
        with self.transaction() as db:
            db.conn.execute("INSERT INTO dataset_signatures (dataset_id, embedder, signature) VALUES (?, ?, ?) "
                            "ON CONFLICT (dataset_id, embedder) DO UPDATE SET signature = excluded.signature",
                            [record.id, REFERENCE_MODEL, json.dumps(sig.to_dict())])  # SQLite and PostgreSQL
        return sig

    def similar_datasets(self: "Registry", x_or_dataset: Any, y: Any = None, k: int = 5, *,
                         compute: bool = True, store: bool = True, among: Any = None) -> pd.DataFrame:
        """The ``k`` registered datasets nearest to a dataset (name, id or record) or to images ``x`` with labels
        ``y``, nearest first: ``dataset_id, name, distance, num_classes, num_examples``. The dataset itself is
        left out. Signatures missing in the registry are computed and stored once (``compute=False`` skips
        those datasets instead; ``store=False`` computes without writing). ``among``: dataset ids to consider
        (default all)."""
        from ..arrays import check_labelled
        from ..errors import InputError
        from ..similarity import compute_signature, signature_distance

        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise InputError(f"k must be a positive whole number, got {k!r}")
        own = None
        if isinstance(x_or_dataset, (str, int, np.integer, DatasetRecord)):
            if y is not None:
                raise InputError("x names a registry dataset, so y must be None")
            own = self.dataset(x_or_dataset)
            query = self.dataset_signature(own, compute=True, store=store)
        else:
            if y is None:
                raise InputError("pass labels y with the images (class-conditional statistics need them)")
            data = check_labelled(x_or_dataset, y, min_per_class=1)
            query = compute_signature(self, data.x, data.y)
        rows = []
        for dataset_id, name, classes, examples in self.db.execute(
                "SELECT id, name, num_classes, num_examples FROM datasets ORDER BY id").fetchall():
            if own is not None and dataset_id == own.id or among is not None and dataset_id not in among:
                continue
            sig = self.dataset_signature(dataset_id, compute=compute, store=store)
            if sig is None:
                continue
            rows.append((dataset_id, name, signature_distance(query, sig), classes, examples))
        frame = pd.DataFrame(rows, columns=["dataset_id", "name", "distance", "num_classes", "num_examples"])
        return frame.sort_values("distance", kind="stable").head(int(k)).reset_index(drop=True)

    def dataset_records(self: "Registry", dataset: Any) -> dict[str, float]:
        """``{model line name: best accuracy}`` on ``dataset`` (and its slices): visible models' evaluations and
        the best validation accuracy of visible finished training runs (credited to the run's base model line)."""
        record = self.dataset(dataset)
        best: dict[str, float] = {}
        for name, acc in self.db.execute(
                "SELECT m.name, max(e.accuracy) FROM evaluations e JOIN models m ON m.id = e.model_id "
                f"WHERE e.dataset_id = ? AND e.accuracy IS NOT NULL AND {self._visible('m')[0]} GROUP BY m.name",
                [record.id] + self._visible("m")[1]):
            best[name] = max(best.get(name, -1.0), float(acc))
        visible, args = self.access.run_visible('r')
        for name, acc in self.db.execute(
                "SELECT m.name, max(e.val_accuracy) FROM runs r JOIN models m ON m.id = r.model_id "
                "JOIN epochs e ON e.run_id = r.id WHERE r.dataset_id = ? AND r.status = 'finished' AND "
                f"e.val_accuracy IS NOT NULL AND {visible} AND {self._visible('m')[0]} GROUP BY m.name",
                [record.id] + args + self._visible("m")[1]):
            best[name] = max(best.get(name, -1.0), float(acc))
        return best

    def datasets_with_records(self: "Registry", runs_only: bool = False) -> list[int]:
        """Ids of datasets with at least one visible evaluation or finished training run (only runs:
        ``runs_only``)."""
        visible, args = self.access.run_visible('r')
        ids = set() if runs_only else {r[0] for r in self.db.execute(
            f"SELECT DISTINCT e.dataset_id FROM evaluations e JOIN models m ON m.id = e.model_id WHERE "
            f"e.dataset_id IS NOT NULL AND {self._visible('m')[0]}", self._visible("m")[1])}
        ids |= {r[0] for r in self.db.execute(
            f"SELECT DISTINCT r.dataset_id FROM runs r WHERE r.dataset_id IS NOT NULL AND r.status = 'finished' "
            f"AND {visible}", args)}
        return sorted(ids)

    def best_runs(self: "Registry", dataset: Any, limit: int = 5) -> pd.DataFrame:
        """Finished training runs on ``dataset`` you can see, best validation accuracy first: ``run_id, model,
        learning_rate, epochs, unfreeze, val_accuracy``."""
        record = self.dataset(dataset)
        visible, args = self.access.run_visible('r')
        cur = self.db.execute(
            "SELECT r.id AS run_id, m.name AS model, r.learning_rate, r.epochs, r.config, "
            "(SELECT max(val_accuracy) FROM epochs e WHERE e.run_id = r.id) AS val_accuracy FROM runs r "
            f"JOIN models m ON m.id = r.model_id WHERE r.dataset_id = ? AND r.status = 'finished' AND {visible} "
            "ORDER BY val_accuracy DESC, r.id DESC LIMIT ?", [record.id] + args + [int(limit)])
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        frame["unfreeze"] = [json.loads(c or "{}").get("unfreeze", 0) for c in frame.pop("config")]
        return frame[frame["val_accuracy"].notna()].reset_index(drop=True)
