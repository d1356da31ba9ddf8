"""Datasets keep their identity: arrays equal to, or a subset of, a registered dataset are that dataset.

``rank``, ``finetune`` and ``evaluate`` take arrays. Instead of registering every array they see as a new dataset
(``rank-<hash>``, ``arrays-<hash>``), they ask :meth:`DatasetIdentityMixin.record_arrays`:

- the same content as a registered dataset -> that dataset;
- every image (with its label) found in one registered dataset -> that dataset plus the row indices of the
  slice (table ``dataset_slices``, migration 20); rankings, runs and evaluations made on it carry its
  ``slice_id`` (``link_slice``), so ``reg.leaderboard("sign-digits")`` lists evaluations on its slices, marked;
- new images -> registered as a new dataset only with ``save=True`` (the caller reports it), never with
  ``save=False`` (nothing is written, not even the lookup index).

Finding subsets: every image of a registered dataset is hashed once (sha256 of its bytes, dtype and shape,
first 16 bytes kept) into ``dataset_rows`` (migration 20), built lazily the first time a lookup needs it. A
lookup hashes the user's images (after the same normalisation ``add_dataset`` applies: grayscale to 3 channels,
non-uint8 to float32) and keeps the smallest dataset that holds all of them with the same labels (same class
name, or the same class id when the user gave integer labels without names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import LabelledImages, check_labelled, content_hash
from ..records import DatasetRecord, record_from_row

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

__all__ = ["DatasetIdentityMixin", "image_hashes", "MIGRATION_20"]

#: migration 20: slices of registered datasets, the per-image hash index, slice links
MIGRATION_20 = """
CREATE TABLE dataset_slices (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    rows_hash TEXT NOT NULL,                    -- sha256 of the JSON row list
    rows TEXT NOT NULL,                         -- JSON list of row indices into the dataset, in the user's order
    num_examples INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (dataset_id, rows_hash)
);
CREATE TABLE dataset_rows (
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    row INTEGER NOT NULL,
    image_hash TEXT NOT NULL,
    PRIMARY KEY (dataset_id, row)
);
CREATE INDEX dataset_rows_hash ON dataset_rows(image_hash);
CREATE TABLE dataset_rows_indexed (dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id));
ALTER TABLE rankings ADD COLUMN slice_id INTEGER REFERENCES dataset_slices(id);
ALTER TABLE runs ADD COLUMN slice_id INTEGER REFERENCES dataset_slices(id);
ALTER TABLE evaluations ADD COLUMN slice_id INTEGER REFERENCES dataset_slices(id);
"""

_LINKABLE = {"rankings", "runs", "evaluations"}


def image_hashes(images: np.ndarray) -> list[str]:
    """One short hash per image ``(N, H, W, C)``: sha256 over its shape, dtype and bytes, 32 hex digits."""
    arr = np.ascontiguousarray(images)
    head = json.dumps([list(arr.shape[1:]), str(arr.dtype)]).encode()
    out = []
    for i in range(len(arr)):
        digest = hashlib.sha256(head)
        digest.update(memoryview(arr[i]).cast("B"))
        out.append(digest.hexdigest()[:32])
    return out


def _normalised(data: LabelledImages) -> np.ndarray:
    return data.x if data.x.dtype == np.uint8 else data.x.astype(np.float32)


class DatasetIdentityMixin:
    """Dataset identity methods of :class:`Registry` (uses its ``db``, ``user``, ``dataset``, ``transaction``,
    ``add_dataset``, ``load_dataset``)."""

    # ------------------------------------------------------------------ lookups
    def _row_index(self: "Registry", dataset_id: int, persist: bool) -> dict[str, list[int]]:
        """``{image hash: [rows]}`` of a registered dataset; stored in ``dataset_rows`` when ``persist``."""
        done = self.db.execute("SELECT 1 FROM dataset_rows_indexed WHERE dataset_id = ?", [dataset_id]).fetchone()
        if done:
            index: dict[str, list[int]] = {}
            for row, h in self.db.execute("SELECT row, image_hash FROM dataset_rows WHERE dataset_id = ? "
                                          "ORDER BY row", [dataset_id]):
                index.setdefault(h, []).append(row)
            return index
        stored = self.load_dataset(dataset_id)
        hashes = image_hashes(stored.x)
        if persist:
            with self.transaction() as db:
                if not db.execute("SELECT 1 FROM dataset_rows_indexed WHERE dataset_id = ?", [dataset_id]).fetchone():
                    db["dataset_rows"].insert_all({"dataset_id": dataset_id, "row": i, "image_hash": h}
                                                  for i, h in enumerate(hashes))
                    db.conn.execute("INSERT INTO dataset_rows_indexed VALUES (?)", [dataset_id])
        index = {}
        for i, h in enumerate(hashes):
            index.setdefault(h, []).append(i)
        return index

    def find_dataset(self: "Registry", x: Any, y: Any, class_names: Any = None, *,
                     persist_index: bool = True) -> DatasetRecord | None:
        """The registered dataset these arrays are (``slice_id``/``slice_rows`` unset), or the dataset they are a
        slice of (``slice_rows``: row indices into it, ``slice_id`` None until :meth:`record_slice`); else None.

        Nothing is written when ``persist_index=False``.
        """
        data = x if isinstance(x, LabelledImages) else check_labelled(x, y, class_names, min_per_class=1,
                                                                       min_classes=1)
        images = _normalised(data)
        digest = content_hash(images, data.y, data.class_names)
        row = self.db.execute("SELECT id FROM datasets WHERE content_hash = ?", [digest]).fetchone()
        if row:
            return self.dataset(row[0])
        hashes = image_hashes(images)
        unique = sorted(set(hashes))
        found: dict[int, int] = {}
        for start in range(0, len(unique), 500):
            part = unique[start:start + 500]
            for dataset_id, n in self.db.execute(
                    f"SELECT dataset_id, count(DISTINCT image_hash) FROM dataset_rows WHERE image_hash IN "
                    f"({','.join('?' * len(part))}) GROUP BY dataset_id", part):
                found[dataset_id] = found.get(dataset_id, 0) + n
        candidates = [d for d, n in found.items() if n == len(unique)]
        unindexed = [r[0] for r in self.db.execute(
            "SELECT id FROM datasets WHERE id NOT IN (SELECT dataset_id FROM dataset_rows_indexed) AND "
            "image_shape = ? ORDER BY id", [json.dumps(list(images.shape[1:]))])]
        sizes = dict(self.db.execute("SELECT id, num_examples FROM datasets").fetchall())
        raw = None if y is None else np.asarray(y)       # the user's own labels (int ids match by id)
        for dataset_id in sorted(candidates + unindexed, key=lambda d: sizes.get(d, 0)):
            if sizes.get(dataset_id, 0) < len(hashes):
                continue
            rows = self._match_rows(dataset_id, hashes, data, raw, persist_index)
            if rows is not None:
                record = self.dataset(dataset_id)
                return replace(record, slice_rows=rows)
        return None

    def _match_rows(self: "Registry", dataset_id: int, hashes: list[str], data: LabelledImages, raw: Any,
                    persist: bool) -> list[int] | None:
        index = self._row_index(dataset_id, persist)
        used: set[int] = set()
        rows = []
        for h in hashes:
            free = [r for r in index.get(h, ()) if r not in used]
            if not free:
                return None
            used.add(free[0])
            rows.append(free[0])
        stored = self.load_dataset(dataset_id)
        theirs = np.asarray(stored.y)[rows]
        names = np.asarray(stored.class_names, dtype=object)[theirs]
        mine = np.asarray(data.class_names, dtype=object)[data.y]
        if np.array_equal(names.astype(str), mine.astype(str)):
            return rows
        if raw is not None and np.issubdtype(np.asarray(raw).dtype, np.integer) and \
                np.array_equal(np.asarray(raw).reshape(-1), theirs):
            return rows
        return None

    # ------------------------------------------------------------------ slices and links
    def record_slice(self: "Registry", dataset: Any, rows: Any) -> DatasetRecord:
        """Store (once) the slice ``rows`` of ``dataset``; returns the dataset record with ``slice_id`` and
        ``slice_rows`` set."""
        record = self.dataset(dataset)
        rows = [int(r) for r in np.asarray(rows).reshape(-1)]
        text = json.dumps(rows)
        key = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction() as db:
            db.conn.execute("INSERT INTO dataset_slices (dataset_id, rows_hash, rows, num_examples, created_by) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dataset_id, rows_hash) DO NOTHING",
                            [record.id, key, text, len(rows), self.user])  # SQLite and PostgreSQL
            slice_id = db.execute("SELECT id FROM dataset_slices WHERE dataset_id = ? AND rows_hash = ?",
                                  [record.id, key]).fetchone()[0]
        return replace(record, slice_id=int(slice_id), slice_rows=rows)

    def dataset_slice(self: "Registry", slice_id: int) -> DatasetRecord:
        """The dataset record of a stored slice, with ``slice_id`` and ``slice_rows``."""
        from ..errors import NotFoundError

        row = self.db.execute("SELECT dataset_id, rows FROM dataset_slices WHERE id = ?", [int(slice_id)]).fetchone()
        if row is None:
            raise NotFoundError(f"no dataset slice {slice_id}")
        return replace(self.dataset(row[0]), slice_id=int(slice_id), slice_rows=json.loads(row[1]))

    def link_slice(self: "Registry", table: str, row_id: int, dataset: DatasetRecord | None) -> None:
        """Mark a ranking / run / evaluation (one of yours) as made on ``dataset``'s slice (no-op for a whole
        dataset or None)."""
        slice_id = getattr(dataset, "slice_id", None)
        if slice_id is None or row_id is None:
            return
        if table not in _LINKABLE:
            raise ValueError(f"cannot link a slice to {table}")
        with self.transaction() as db:
            db.conn.execute(f"UPDATE {table} SET slice_id = ? WHERE id = ? AND owner = ?",
                            [int(slice_id), int(row_id), self.user])

    def record_arrays(self: "Registry", x: Any, y: Any, class_names: Any = None, *, save: bool = True,
                      name: str | None = None, source: str = "arrays",
                      description: str = "") -> tuple[DatasetRecord | None, bool]:
        """``(dataset, new)`` for the user's arrays: the registered dataset they are (or a slice of it, stored with
        ``record_slice`` when ``save``), else a new dataset (``new=True``; named ``name`` or
        ``<source>-<content hash>``) when ``save``, else ``(None, False)``. ``save=False`` writes nothing."""
        data = x if isinstance(x, LabelledImages) else check_labelled(x, y, class_names, min_per_class=1,
                                                                       min_classes=1)
        found = self.find_dataset(x, y, class_names, persist_index=save)
        if found is not None:
            if found.slice_rows is not None and save:
                return self.record_slice(found, found.slice_rows), False
            return found, False
        if not save:
            return None, False
        images = _normalised(data)
        digest = content_hash(images, data.y, data.class_names)
        record = self.add_dataset(images, data.y, name or f"{source}-{digest[:12]}", data.class_names,
                                  description=description, source=source)
        return record, True
