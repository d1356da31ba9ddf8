"""What the registry's own history says about a dataset: signatures, similar datasets, best models and runs.

:class:`DatasetRecordsMixin` adds to :class:`~fmc_jupyter.registry.Registry`:

- ``dataset_signature(dataset)``: the dataset's signature (:mod:`fmc_jupyter.similarity`), computed once with the
  fixed reference embedder where the caller is (Keras) and stored in ``dataset_signatures`` (migration 21) with
  ``store_signature`` (checked; a stored signature is never replaced);
- ``similar_datasets(x_or_dataset, y=None, k=5)``: the ``k`` nearest registered datasets with distances;
- ``dataset_records(dataset)``: ``{model line: best accuracy}`` from visible evaluations and finished training
  runs on the dataset (and its slices);
- ``best_runs(dataset)``: finished runs on it you can see, best validation accuracy first (warm starts).

Where the work happens, for every backend (:func:`signature_with`, :func:`similar_datasets_with`): signatures of
arrays and of datasets without a stored one are computed by the caller (it has Keras and the reference
embedder; a kernel on a team hub downloads such a dataset once, computes and stores its signature), while the
registry only compares a query signature with the stored ones (``datasets_near``, numpy) and lists what is
missing (``missing_signatures``). So the registry service never imports TensorFlow and never sees the user's
images. Signatures describe public datasets, hold nothing private, and are stored once: the first one stored
for a dataset is kept.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..records import DatasetRecord

if TYPE_CHECKING:  # pragma: no cover
    from ..similarity import Signature
    from .registry import Registry

__all__ = ["DatasetRecordsMixin", "MIGRATION_21", "signature_with", "similar_datasets_with"]

_COLUMNS = ["dataset_id", "name", "distance", "num_classes", "num_examples"]

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


def _dataset_ids(among: Any, name: str = "among") -> list[int] | None:
    """``among`` (None, or a list/set/array of dataset ids) as a sorted list of ints, or InputError."""
    from .fields import integer

    if among is None:
        return None
    if isinstance(among, (str, bytes, dict)) or not hasattr(among, "__iter__"):
        raise InputError(f"{name} must be None or a list of dataset ids, not {str(among)[:60]!r}")
    return sorted({integer(d, f"{name} (dataset ids)") for d in among})


def signature_with(registry: Any, dataset: Any, *, compute: bool = True, store: bool = True) -> "Signature | None":
    """``dataset_signature`` of any backend: the stored one, else (``compute``) computed here from the downloaded
    images with the reference embedder and stored with ``store_signature`` unless ``store=False``."""
    from ..arguments import flag
    from ..similarity import Signature, compute_signature

    compute, store = flag(compute, "compute"), flag(store, "store")
    record = registry.dataset(dataset)
    stored = registry.stored_signature(record.id)
    if stored is not None:
        return Signature.from_dict(stored)
    if not compute:
        return None
    data = registry.load_dataset(record)
    sig = compute_signature(registry, data.x, data.y)
    if store:
        registry.store_signature(record.id, sig)
        return Signature.from_dict(registry.stored_signature(record.id))  # the one kept (a concurrent first wins)
    return sig


def similar_datasets_with(registry: Any, x_or_dataset: Any, y: Any = None, k: int = 5, *, compute: bool = True,
                          store: bool = True, among: Any = None) -> pd.DataFrame:
    """``similar_datasets`` of any backend (see :meth:`RegistryInterface.similar_datasets`): the query signature
    and missing dataset signatures computed here, the comparison with stored signatures in the registry."""
    from ..arguments import flag
    from ..arrays import check_labelled
    from ..similarity import Signature, compute_signature, signature_distance

    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k < 1:
        raise InputError(f"k must be a positive whole number, got {k!r}")
    compute, store = flag(compute, "compute"), flag(store, "store")
    among = _dataset_ids(among)
    own = None
    if isinstance(x_or_dataset, (Signature, dict)):
        if y is not None:
            raise InputError("x is a signature, so y must be None")
        query = x_or_dataset
    elif isinstance(x_or_dataset, (str, int, np.integer, DatasetRecord)) and not isinstance(x_or_dataset, bool):
        if y is not None:
            raise InputError("x names a registry dataset, so y must be None")
        own = registry.dataset(x_or_dataset)
        query = registry.dataset_signature(own, compute=True, store=store)
    else:
        if y is None:
            raise InputError("pass labels y with the images (class-conditional statistics need them)")
        data = check_labelled(x_or_dataset, y, min_per_class=1)
        query = compute_signature(registry, data.x, data.y)
    exclude = [] if own is None else [own.id]
    extra: dict[int, Signature] = {}       # computed here and not stored (store=False)
    if compute:
        for dataset_id in registry.missing_signatures(among):
            if dataset_id in exclude:
                continue
            sig = registry.dataset_signature(dataset_id, compute=True, store=store)
            if not store and sig is not None:
                extra[dataset_id] = sig
    wire_query = query.to_dict() if isinstance(query, Signature) else query
    frame = registry.datasets_near(wire_query, int(k), among=among, exclude=exclude + sorted(extra))
    if extra:
        query_sig = Signature.from_dict(wire_query)
        rows = []
        for dataset_id, sig in extra.items():
            record = registry.dataset(dataset_id)
            rows.append((dataset_id, record.name, signature_distance(query_sig, sig), record.num_classes,
                         record.num_examples))
        more = pd.DataFrame(rows, columns=_COLUMNS)
        frame = more if frame.empty else pd.concat([frame, more], ignore_index=True)
        frame = frame.sort_values(["distance", "dataset_id"], kind="stable").head(int(k)).reset_index(drop=True)
    return frame


class DatasetRecordsMixin:
    """Signature / similarity / history methods of :class:`Registry`."""

    def stored_signature(self: "Registry", dataset: Any) -> dict[str, Any] | None:
        """The stored signature of ``dataset`` (reference embedder) as :meth:`Signature.to_dict` data, or None."""
        from ..similarity import REFERENCE_MODEL

        record = self.dataset(dataset)
        row = self.db.execute("SELECT signature FROM dataset_signatures WHERE dataset_id = ? AND embedder = ?",
                              [record.id, REFERENCE_MODEL]).fetchone()
        return None if row is None else json.loads(row[0])

    def store_signature(self: "Registry", dataset: Any, signature: Any) -> bool:
        """Store the signature of ``dataset`` computed by the caller (a :class:`Signature` or its ``to_dict``);
        True if stored, False if the dataset already has one (a stored signature is never replaced).

        Checked: the reference embedder, finite values, at most the dataset's classes and images, and the
        feature dimension of the signatures already stored."""
        from ..similarity import REFERENCE_MODEL, checked_signature

        record = self.dataset(dataset)
        sig = checked_signature(signature)
        classes, dim = sig.means.shape
        if classes > record.num_classes or int(sig.counts.sum()) > record.num_examples:
            raise InputError(f"the signature has {classes} classes and {int(sig.counts.sum())} images; dataset "
                             f"'{record.name}' has {record.num_classes} classes and {record.num_examples} images")
        other = self.db.execute("SELECT signature FROM dataset_signatures WHERE embedder = ? AND dataset_id <> ? "
                                "LIMIT 1", [REFERENCE_MODEL, record.id]).fetchone()
        if other is not None:
            known = len(json.loads(other[0])["means"][0])
            if known != dim:
                raise InputError(f"the signature has {dim} features per class; the stored signatures of "
                                 f"{REFERENCE_MODEL} have {known}")
        with self.transaction() as db:
            cur = db.conn.execute("INSERT INTO dataset_signatures (dataset_id, embedder, signature) VALUES (?, ?, ?) "
                                  "ON CONFLICT (dataset_id, embedder) DO NOTHING",
                                  [record.id, REFERENCE_MODEL, json.dumps(sig.to_dict())])  # SQLite and PostgreSQL
            return bool(cur.rowcount)

    def missing_signatures(self: "Registry", among: Any = None) -> list[int]:
        """Ids of datasets (of ``among``, default all) with no stored signature, ascending."""
        from ..similarity import REFERENCE_MODEL

        among = _dataset_ids(among)
        ids = [r[0] for r in self.db.execute(
            "SELECT id FROM datasets WHERE id NOT IN (SELECT dataset_id FROM dataset_signatures WHERE embedder = ?) "
            "ORDER BY id", [REFERENCE_MODEL])]
        if among is None:
            return ids
        wanted = set(among)
        return [d for d in ids if d in wanted]

    def datasets_near(self: "Registry", signature: Any, k: int = 5, *, among: Any = None,
                      exclude: Any = None) -> pd.DataFrame:
        """The ``k`` datasets whose stored signatures are nearest to ``signature`` (checked like
        :meth:`store_signature`), nearest first: ``dataset_id, name, distance, num_classes, num_examples``;
        only ``among`` (default all), never ``exclude``. Pure numpy: what the registry service runs."""
        from ..arguments import whole
        from ..similarity import REFERENCE_MODEL, Signature, checked_signature, signature_distance

        query = checked_signature(signature)
        k = whole(k, "k", 1, 2 ** 31 - 1)
        among, exclude = _dataset_ids(among), set(_dataset_ids(exclude, "exclude") or ())
        wanted = None if among is None else set(among)
        rows = []
        for dataset_id, name, classes, examples, text in self.db.execute(
                "SELECT d.id, d.name, d.num_classes, d.num_examples, s.signature FROM datasets d JOIN "
                "dataset_signatures s ON s.dataset_id = d.id AND s.embedder = ? ORDER BY d.id", [REFERENCE_MODEL]):
            if dataset_id in exclude or wanted is not None and dataset_id not in wanted:
                continue
            rows.append((dataset_id, name, signature_distance(query, Signature.from_dict(json.loads(text))),
                         classes, examples))
        frame = pd.DataFrame(rows, columns=_COLUMNS)
        return frame.sort_values("distance", kind="stable").head(k).reset_index(drop=True)

    def dataset_signature(self: "Registry", dataset: Any, *, compute: bool = True,
                          store: bool = True) -> "Signature | None":
        """The stored signature of ``dataset``; computed (reference embedder, Keras) when missing, and stored
        unless ``store=False``; None when missing and ``compute=False``."""
        return signature_with(self, dataset, compute=compute, store=store)

    def similar_datasets(self: "Registry", x_or_dataset: Any, y: Any = None, k: int = 5, *,
                         compute: bool = True, store: bool = True, among: Any = None) -> pd.DataFrame:
        """The ``k`` registered datasets nearest to a dataset (name, id or record), to images ``x`` with labels
        ``y``, or to a :class:`~fmc_jupyter.similarity.Signature`, nearest first: ``dataset_id, name, distance,
        num_classes, num_examples``. The dataset itself is left out. Signatures missing in the registry are
        computed and stored once (``compute=False`` skips those datasets instead; ``store=False`` computes
        without writing). ``among``: dataset ids to consider (default all)."""
        return similar_datasets_with(self, x_or_dataset, y, k, compute=compute, store=store, among=among)

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
        from ..arguments import flag

        runs_only = flag(runs_only, "runs_only")
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
        from ..arguments import whole

        limit = whole(limit, "limit", 1, 10_000)
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
