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

Identity by hashes, so a team registry never needs the user's images to tell which dataset they are:
:func:`arrays_identity` (run where the arrays are: the kernel) reduces arrays to their content hash, per-image
hashes, image shape and labels; :meth:`DatasetIdentityMixin.match_hashes` (read-only) and
:meth:`~DatasetIdentityMixin.record_hashes` (keeps the lookup index, stores a found slice) match those in the
registry, for the embedded registry and, through the registry service, for
:class:`~fmc_jupyter.registry.remote.RemoteRegistry` alike (:func:`record_arrays_with`). Only new images that
are to be saved travel, uploaded with ``add_dataset``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import LabelledImages, check_labelled, content_hash
from ..errors import InputError, NotFoundError
from ..records import DatasetRecord

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

__all__ = ["DatasetIdentityMixin", "image_hashes", "arrays_identity", "record_arrays_with", "MIGRATION_20",
           "LINKABLE"]

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

#: the tables whose rows can be marked as made on a dataset slice (``link_slice``)
LINKABLE = {"rankings": "ranking", "runs": "run", "evaluations": "evaluation"}
_HASH = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")
#: the most images one identity lookup may name (far above any dataset a kernel holds in memory)
MAX_LOOKUP_IMAGES = 10_000_000


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


def arrays_identity(x: Any, y: Any, class_names: Any = None) -> tuple[LabelledImages, np.ndarray, dict[str, Any]]:
    """``(data, images, identity)`` of the user's arrays: checked labelled images, the images as ``add_dataset``
    stores them (grayscale as 3 channels, non-uint8 as float32), and what identifies them without the pixels
    (the keyword arguments of :meth:`DatasetIdentityMixin.match_hashes`): ``content_hash``, ``image_hashes``,
    ``image_shape``, ``labels`` (class ids), ``class_names`` and ``label_ids`` (the user's own integer labels,
    matched to a dataset's class ids when the names differ; None for other labels).

    ``x`` may be a :class:`LabelledImages`; then ``y`` is the user's original labels (or None)."""
    data = x if isinstance(x, LabelledImages) else check_labelled(x, y, class_names, min_per_class=1, min_classes=1)
    images = _normalised(data)
    raw = None if y is None else np.asarray(y).reshape(-1)
    ids = raw.tolist() if raw is not None and np.issubdtype(raw.dtype, np.integer) and len(raw) == len(data.y) \
        else None
    identity = {"content_hash": content_hash(images, data.y, data.class_names), "image_hashes": image_hashes(images),
                "image_shape": [int(d) for d in images.shape[1:]], "labels": [int(v) for v in data.y],
                "class_names": [str(c) for c in data.class_names], "label_ids": ids}
    return data, images, identity


def record_arrays_with(registry: Any, x: Any, y: Any, class_names: Any = None, *, save: bool = True,
                       name: str | None = None, source: str = "arrays",
                       description: str = "") -> tuple[DatasetRecord | None, bool]:
    """``record_arrays`` of any backend: hashes here, matching in the registry (``match_hashes`` /
    ``record_hashes``), and new images uploaded with ``add_dataset`` only when ``save`` and nothing matched."""
    from ..arguments import flag

    flag(save, "save")
    if name is not None:
        from .fields import model_name

        model_name(name, "dataset name")
    data, images, identity = arrays_identity(x, y, class_names)
    found = registry.record_hashes(**identity) if save else registry.match_hashes(**identity)
    if found is not None:
        return found, False
    if not save:
        return None, False
    record = registry.add_dataset(images, data.y, name or f"{source}-{identity['content_hash'][:12]}",
                                  data.class_names, description=description, source=source)
    return record, True


def _checked_identity(content_hash: Any, image_hashes: Any, image_shape: Any, labels: Any, class_names: Any,
                      label_ids: Any) -> tuple[str, list[str], list[int], list[int], list[str], list[int] | None]:
    """The arguments of ``match_hashes`` checked (they may come from a client over HTTP), or InputError."""
    from ..arguments import whole

    if not isinstance(content_hash, str) or not _CONTENT_HASH.match(content_hash):
        raise InputError("content_hash must be 64 lowercase hex digits (arrays.content_hash)")
    if not isinstance(image_hashes, (list, tuple)) or not 1 <= len(image_hashes) <= MAX_LOOKUP_IMAGES or \
            not all(isinstance(h, str) and _HASH.match(h) for h in image_hashes):
        raise InputError(f"image_hashes must be a list of 1..{MAX_LOOKUP_IMAGES} hashes of 32 lowercase hex digits "
                         "(datasets_identity.image_hashes)")
    if not isinstance(image_shape, (list, tuple)) or not 2 <= len(image_shape) <= 3:
        raise InputError(f"image_shape must be [height, width, channels], not {str(image_shape)[:60]!r}")
    shape = [whole(d, "image_shape", 1, 2 ** 31 - 1) for d in image_shape]
    if not isinstance(class_names, (list, tuple)) or not class_names or \
            not all(isinstance(c, str) and len(c) <= 1000 for c in class_names):
        raise InputError("class_names must be a non-empty list of class names")
    n = len(image_hashes)
    if not isinstance(labels, (list, tuple)) or len(labels) != n:
        raise InputError(f"labels must be a list of one class id per image hash ({n})")
    ids = [whole(v, "labels", 0, len(class_names) - 1) for v in labels]
    if label_ids is not None:
        if not isinstance(label_ids, (list, tuple)) or len(label_ids) != n:
            raise InputError(f"label_ids must be None or a list of one integer label per image hash ({n})")
        label_ids = [whole(v, "label_ids", -2 ** 63, 2 ** 63 - 1) for v in label_ids]
    return content_hash, list(image_hashes), shape, ids, list(class_names), label_ids


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
        return self._match(*_checked_identity(**arrays_identity(x, y, class_names)[2]), persist=persist_index)

    def match_hashes(self: "Registry", content_hash: str, image_hashes: list[str], image_shape: list[int],
                     labels: list[int], class_names: list[str],
                     label_ids: list[int] | None = None) -> DatasetRecord | None:
        """:meth:`find_dataset` on what :func:`arrays_identity` computed from the arrays (no pixels needed);
        writes nothing."""
        return self._match(*_checked_identity(content_hash, image_hashes, image_shape, labels, class_names,
                                              label_ids), persist=False)

    def record_hashes(self: "Registry", content_hash: str, image_hashes: list[str], image_shape: list[int],
                      labels: list[int], class_names: list[str],
                      label_ids: list[int] | None = None) -> DatasetRecord | None:
        """:meth:`match_hashes`, keeping the lookup index it builds, and storing a found slice
        (:meth:`record_slice`): the dataset, the stored slice of one, or None (new images)."""
        found = self._match(*_checked_identity(content_hash, image_hashes, image_shape, labels, class_names,
                                               label_ids), persist=True)
        if found is not None and found.slice_rows is not None:
            return self.record_slice(found, found.slice_rows)
        return found

    def _match(self: "Registry", digest: str, hashes: list[str], shape: list[int], labels: list[int],
               class_names: list[str], label_ids: list[int] | None, *, persist: bool) -> DatasetRecord | None:
        row = self.db.execute("SELECT id FROM datasets WHERE content_hash = ?", [digest]).fetchone()
        if row:
            return self.dataset(row[0])
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
            "image_shape = ? ORDER BY id", [json.dumps(shape)])]
        sizes = dict(self.db.execute("SELECT id, num_examples FROM datasets").fetchall())
        mine = np.asarray(class_names, dtype=object)[np.asarray(labels, dtype=np.int64)].astype(str)
        for dataset_id in sorted(candidates + unindexed, key=lambda d: sizes.get(d, 0)):
            if sizes.get(dataset_id, 0) < len(hashes):
                continue
            rows = self._match_rows(dataset_id, hashes, mine, label_ids, persist)
            if rows is not None:
                return replace(self.dataset(dataset_id), slice_rows=rows)
        return None

    def _match_rows(self: "Registry", dataset_id: int, hashes: list[str], mine: np.ndarray,
                    label_ids: list[int] | None, persist: bool) -> list[int] | None:
        """Row indices of ``dataset_id`` holding the images ``hashes`` with the class names ``mine`` (or the class
        ids ``label_ids``), in order; None if some image or label is not there."""
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
        if np.array_equal(names.astype(str), mine):
            return rows
        if label_ids is not None and np.array_equal(np.asarray(label_ids, dtype=np.int64), theirs):
            return rows
        return None

    # ------------------------------------------------------------------ slices and links
    def record_slice(self: "Registry", dataset: Any, rows: Any) -> DatasetRecord:
        """Store (once) the slice ``rows`` (distinct row indices, in the user's order) of ``dataset``; returns the
        dataset record with ``slice_id`` and ``slice_rows`` set."""
        record = self.dataset(dataset)
        rows = _checked_rows(rows, record.num_examples)
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
        from .fields import integer

        slice_id = integer(slice_id, "slice id")
        row = self.db.execute("SELECT dataset_id, rows FROM dataset_slices WHERE id = ?", [slice_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no dataset slice {slice_id}")
        return replace(self.dataset(row[0]), slice_id=slice_id, slice_rows=json.loads(row[1]))

    def link_slice(self: "Registry", table: str, row_id: int, dataset: DatasetRecord | None) -> None:
        """Mark a ranking / run / evaluation (one of yours) as made on ``dataset``'s slice (no-op for a whole
        dataset or None)."""
        slice_id = _slice_id_of(dataset)
        if slice_id is not None:
            self.link_slice_id(table, row_id, slice_id)

    def link_slice_id(self: "Registry", table: str, row_id: int, slice_id: int) -> None:
        """:meth:`link_slice` by the slice's id (what the registry service receives): ``table`` one of
        ``rankings``, ``runs``, ``evaluations``; the row must be yours and on the slice's dataset."""
        from .fields import integer

        if not isinstance(table, str) or table not in LINKABLE:
            raise InputError(f"a slice can be linked to {', '.join(LINKABLE)}, not {str(table)[:60]!r}")
        row_id, slice_id = integer(row_id, f"{LINKABLE[table]} id"), integer(slice_id, "slice id")
        target = self.dataset_slice(slice_id)
        row = self.db.execute(f"SELECT dataset_id FROM {table} WHERE id = ? AND owner = ?",
                              [row_id, self.user]).fetchone()
        if row is None:            # another user's row is no different from a missing one
            raise NotFoundError(f"you have no {LINKABLE[table]} {row_id}")
        if row[0] != target.id:
            raise InputError(f"{LINKABLE[table]} {row_id} is not on dataset '{target.name}', the dataset of slice "
                             f"{slice_id}")
        with self.transaction() as db:
            db.conn.execute(f"UPDATE {table} SET slice_id = ? WHERE id = ? AND owner = ?",
                            [slice_id, row_id, self.user])

    def record_arrays(self: "Registry", x: Any, y: Any, class_names: Any = None, *, save: bool = True,
                      name: str | None = None, source: str = "arrays",
                      description: str = "") -> tuple[DatasetRecord | None, bool]:
        """``(dataset, new)`` for the user's arrays: the registered dataset they are (or a slice of it, stored with
        ``record_slice`` when ``save``), else a new dataset (``new=True``; named ``name`` or
        ``<source>-<content hash>``) when ``save``, else ``(None, False)``. ``save=False`` writes nothing."""
        return record_arrays_with(self, x, y, class_names, save=save, name=name, source=source,
                                  description=description)


def _slice_id_of(dataset: Any) -> int | None:
    if dataset is not None and not isinstance(dataset, DatasetRecord):
        raise InputError(f"link_slice takes the dataset record rank/finetune/evaluate used (or None), not "
                         f"{str(dataset)[:60]!r}")
    return None if dataset is None else dataset.slice_id


def _checked_rows(rows: Any, size: int) -> list[int]:
    """``rows`` as a list of distinct row indices into a dataset of ``size`` images, or InputError."""
    arr = np.asarray(rows if not isinstance(rows, (str, bytes, dict)) else [rows], dtype=object).reshape(-1)
    if arr.size == 0 or not all(isinstance(r, (int, np.integer)) and not isinstance(r, (bool, np.bool_))
                                for r in arr):
        raise InputError(f"slice rows must be a non-empty list of row numbers, not {str(rows)[:60]!r}")
    out = [int(r) for r in arr]
    if min(out) < 0 or max(out) >= size:
        raise InputError(f"slice rows must be row numbers 0..{size - 1} of the dataset")
    if len(set(out)) != len(out):
        raise InputError("slice rows must be distinct")
    return out
