"""The embedded registry: one SQLite file (WAL) plus an artifact store beside it.

This is the only module that speaks SQL. Every read filters by what the current user may see
(public rows, or rows they own); every change checks ownership and runs in one short
``BEGIN IMMEDIATE`` transaction, so concurrent kernels serialise on the write lock (waiting up to
the busy timeout) instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import sqlite3
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from ..arrays import LabelledImages, check_labelled, content_hash
from ..config import current_user, default_registry_path
from ..errors import FmcError, FmcWarning, InputError, NotFoundError, PermissionDeniedError
from ..query import FTS_DRIVEN, ORDER_DRIVEN, compile_order, compile_query
from ..records import DatasetRecord, ModelRecord, RunRecord, record_from_row
from .artifacts import store_file, write_atomic
from .dataset_records import DatasetRecordsMixin
from .datasets_identity import DatasetIdentityMixin
from .lineage import LineageMixin
from .schema import MIGRATIONS

__all__ = ["Registry", "open_registry", "BUSY_TIMEOUT_S", "network_filesystem"]

BUSY_TIMEOUT_S = 30.0
_ORDER_SCAN_BUDGET = 20  # x 10,000 SQLite VM steps, about 1 ms
CATALOG_OWNER = "catalog"
SEARCH_COLUMNS = ["id", "name", "version", "family", "architecture", "task", "domain", "source_kind", "input_size",
                  "params", "size_mb", "top1", "top5", "depth", "cpu_ms", "gpu_ms", "pretrained_on", "num_classes",
                  "owner", "visibility", "parent_id", "description", "created_at"]
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs",
               "davfs", "sshfs", "virtiofs"}
_REF = re.compile(r"^(?P<name>.+?)(?::v(?P<version>\d+)|@(?P<alias>[A-Za-z_][\w-]*)|@(?P<num>\d+))?$")


def network_filesystem(path: Path, mounts: str | None = None) -> str | None:
    """The filesystem type of ``path`` if it is a network/FUSE filesystem, else ``None``.

    ``mounts`` is the text of ``/proc/mounts`` (read when not given; ``None`` off Linux).
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    path = Path(os.path.abspath(path))
    best, best_type = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (path == Path(mount_point) or Path(mount_point) in path.parents) and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    if best_type and (best_type in _NETWORK_FS or best_type.startswith("fuse")):
        return best_type
    return None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class Registry(LineageMixin, DatasetIdentityMixin, DatasetRecordsMixin):
    """Models, datasets, training runs, rankings and evaluations of one registry file.

    Use :func:`open_registry`; ``user`` is who reads and writes (default :func:`config.current_user`).
    """

    def __init__(self, path: str | os.PathLike, user: str | None = None):
        self.path = Path(path).expanduser().resolve()
        self.user = user or current_user()
        if not self.user or self.user == CATALOG_OWNER:
            raise InputError(f"'{self.user}' cannot be used as a user name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.artifacts_root = self.path.parent / f"{self.path.stem}-artifacts"
        fs = network_filesystem(self.path)
        if fs:
            warnings.warn(
                f"the registry {self.path} is on a network filesystem ({fs}); SQLite locking is not reliable "
                "there and concurrent writers can corrupt it. Keep the file on local disk, or share one registry "
                "through the registry service (docs/deploying-on-jupyterhub.md).", FmcWarning, stacklevel=3)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}, user={self.user!r})"

    @staticmethod
    def _retry(fn, attempts: int = 50):
        """Run ``fn``, retrying the rare SQLITE_BUSY that the busy handler cannot absorb (WAL switch)."""
        for i in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == attempts - 1:
                    raise
                time.sleep(0.05 * (1 + i % 5))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it."""
        self._retry(lambda: self.db.conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self.db
        except BaseException:
            self.db.conn.execute("ROLLBACK")
            raise
        self.db.conn.execute("COMMIT")

    def _migrate(self) -> None:
        self._retry(lambda: self.db.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"))
        applied = {r[0] for r in self.db.execute("SELECT id FROM schema_migrations").fetchall()}
        pending = [m for m in MIGRATIONS if m[0] not in applied]
        if not pending:
            return
        with self.transaction() as db:
            applied = {r[0] for r in db.execute("SELECT id FROM schema_migrations").fetchall()}
            for number, sql in MIGRATIONS:
                if number in applied:
                    continue
                for statement in _split_sql(sql):
                    db.conn.execute(statement)
                if number == 1:
                    from ..catalog import catalog_rows

                    db["models"].insert_all(catalog_rows())
                db.conn.execute("INSERT INTO schema_migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                                (number,))

    def schema_version(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM schema_migrations ORDER BY id").fetchall()]

    def _visible(self, alias: str = "") -> tuple[str, list[Any]]:
        p = f"{alias}." if alias else ""
        return f"({p}visibility = 'public' OR {p}owner = ?)", [self.user]

    # ------------------------------------------------------------------ models: search and lookup
    def search(self, query: str = "", order_by: str | None = None, limit: int | None = 50, offset: int = 0,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Models matching ``query`` (see :mod:`fmc_jupyter.query`) that the current user may see.

        ``order_by``: comma-separated fields, ``-`` for descending (``"-top1, params"``); default best top-1 first.
        Returns a DataFrame with one row per model version (top-1/top-5 as fractions).
        """
        visible, vparams = self._visible()
        cols = ", ".join(f'"{c}"' for c in (columns or SEARCH_COLUMNS) if c in SEARCH_COLUMNS)

        def run(text_sql: str, use_index: bool) -> pd.DataFrame:
            where, params = compile_query(query, text_sql)
            sql = f"SELECT {cols} FROM models WHERE {visible} AND {where} ORDER BY {compile_order(order_by, use_index)}"
            args = vparams + params
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                args += [int(limit), int(offset)]
            cur = self.db.execute(sql, args)
            return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

        if limit is None or limit + offset > 1000:
            return run(FTS_DRIVEN, use_index=False)
        # Two plans race for the first page: walking the ORDER BY index and stopping after `limit` matches is fast
        # when many rows match; sorting the matches found through the filters' indexes and full-text search is
        # fast when few do. Try the first within a small budget of SQLite VM steps, else the second.
        ticks = [0]

        def budget() -> int:
            ticks[0] += 1
            return ticks[0] > _ORDER_SCAN_BUDGET

        self.db.conn.set_progress_handler(budget, 10_000)
        try:
            return run(ORDER_DRIVEN, use_index=True)
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
        finally:
            self.db.conn.set_progress_handler(None, 0)
        return run(FTS_DRIVEN, use_index=False)

    def count(self, query: str = "") -> int:
        """How many visible models match ``query``."""
        where, params = compile_query(query)
        visible, vparams = self._visible()
        return self.db.execute(f"SELECT count(*) FROM models WHERE {visible} AND {where}", vparams + params).fetchone()[0]

    def _model_row(self, ref: Any) -> dict[str, Any]:
        if isinstance(ref, ModelRecord):
            ref = ref.id
        visible, vparams = self._visible()
        if isinstance(ref, (int, np.integer)) or (isinstance(ref, str) and ref.strip().isdigit()):
            rows = list(self.db.query(f"SELECT * FROM models WHERE id = ? AND {visible}", [int(ref)] + vparams))
            if rows:
                return rows[0]
            raise NotFoundError(f"no model with id {int(ref)} that you can see; find ids with reg.search()")
        if not isinstance(ref, str) or not ref.strip():
            raise InputError(f"a model is named by its name, 'name:vN', 'name@alias' or id, not {ref!r}")
        m = _REF.match(ref.strip())
        name = m.group("name")
        if m.group("alias"):
            rows = list(self.db.query(
                f"SELECT m.* FROM aliases a JOIN models m ON m.id = a.model_id WHERE a.name = ? AND a.alias = ? "
                f"AND {self._visible('m')[0]}", [name, m.group("alias"), self.user]))
        else:
            version = m.group("version") or m.group("num")
            sql = f"SELECT * FROM models WHERE name = ? AND {visible}"
            args: list[Any] = [name] + vparams
            if version:
                sql += " AND version = ?"
                args.append(int(version))
            rows = list(self.db.query(sql + " ORDER BY version DESC LIMIT 1", args))
        if rows:
            return rows[0]
        names = [r[0] for r in self.db.execute(f"SELECT DISTINCT name FROM models WHERE {visible}", vparams)]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else " Search with reg.search('...')."
        raise NotFoundError(f"no model '{ref}' that you can see.{hint}")

    def model(self, ref: Any) -> ModelRecord:
        """A model by id, name (latest visible version), ``name:vN`` or ``name@alias``."""
        return record_from_row(ModelRecord, self._model_row(ref))

    def artifact_path(self, record: ModelRecord | DatasetRecord) -> Path:
        """Absolute path of a record's stored file."""
        if not record.artifact:
            raise NotFoundError(f"{getattr(record, 'ref', record.name)} has no stored file (it is built from its source)")
        return self.artifacts_root / record.artifact

    def _owned(self, ref: Any, action: str) -> ModelRecord:
        record = self.model(ref)
        if record.owner != self.user:
            how = " Catalog entries cannot be changed." if record.owner == CATALOG_OWNER else \
                " Fork it with keep_both, or ask its owner."
            raise PermissionDeniedError(f"cannot {action} {record.ref}: it belongs to {record.owner}.{how}")
        return record

    # ------------------------------------------------------------------ models: changes
    def insert_models(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Bulk-insert model rows as they are (catalog imports, benchmarks); returns their ids.

        Owner defaults to the current user; ``source``/``labels`` may be given as Python objects.
        """
        prepared = []
        for row in rows:
            row = {"owner": self.user, "source": "{}", **row}
            for key in ("source", "labels"):
                if not isinstance(row.get(key), (str, type(None))):
                    row[key] = _json(row[key])
            prepared.append(row)
        with self.transaction() as db:
            before = db.execute("SELECT coalesce(max(id), 0) FROM models").fetchone()[0]
            db["models"].insert_all(prepared, batch_size=500)
        return list(range(before + 1, before + 1 + len(prepared)))

    def _next_version(self, name: str) -> tuple[int, dict[str, Any] | None]:
        """(next version number, latest row of the line or None); checks the user may extend the line."""
        rows = list(self.db.query("SELECT * FROM models WHERE name = ? ORDER BY version DESC", [name]))
        if not rows:
            return 1, None
        latest, root = rows[0], rows[-1]
        if latest["owner"] != self.user and root["owner"] != CATALOG_OWNER:
            raise PermissionDeniedError(
                f"the name '{name}' is taken by another user's model; choose another name, or fork with keep_both")
        return latest["version"] + 1, latest

    def add_model(self, path: str | os.PathLike, name: str | None = None, *, parent: Any = None,
                  visibility: str = "private", family: str | None = None, task: str = "classification",
                  domain: str = "natural", description: str = "", tags: Sequence[str] | str = (),
                  labels: Sequence[str] | None = None, pretrained_on: str | None = None,
                  top1: float | None = None, top5: float | None = None, license: str | None = None,
                  preprocessing: str | None = None, run_id: int | None = None,
                  facts: dict[str, Any] | None = None, fork: bool = False) -> ModelRecord:
        """Register a Keras (``.keras``/``.h5``) or TFLite (``.tflite``) model file.

        The file is inspected (Keras files load with ``safe_mode=True``; models carrying code are
        refused), copied atomically into the artifact store and recorded with its sha256. When the
        name (or ``parent``'s line) already exists, the file becomes its next version.
        ``facts`` overrides inspected facts (params, input_size, num_classes, depth, ...).
        ``fork=True`` with ``parent`` and a new ``name`` starts a new model line derived from ``parent``.
        """
        src = Path(path).expanduser()
        if not src.is_file():
            raise InputError(f"model file {src} does not exist")
        if visibility not in ("public", "private"):
            raise InputError("visibility must be 'public' or 'private'")
        if top1 is not None and top1 > 1:
            top1 /= 100
        if top5 is not None and top5 > 1:
            top5 /= 100
        from ..zoo.inspect import inspect_model_file  # lazy: keeps Keras out of the core

        info = {**inspect_model_file(src), **(facts or {})}
        parent_row = self._model_row(parent) if parent is not None else None
        if fork and (parent_row is None or not name):
            raise InputError("fork=True needs parent= (the model it derives from) and name= (the new line)")
        name = (parent_row["name"] if parent_row and not fork else None) or name or src.stem
        if not re.fullmatch(r"[\w.+-][\w .+-]{0,127}", name):
            raise InputError(f"model name {name!r} may hold letters, digits, space, '.', '_', '+', '-' (1-128)")
        rel, digest = store_file(src, self.artifacts_root, "models")
        tag_text = tags if isinstance(tags, str) else ",".join(tags)
        with self.transaction() as db:
            version, latest = self._next_version(name)
            base = parent_row or latest or {}
            row = {
                "name": name, "version": version, "family": family or base.get("family") or info.get("family"),
                "architecture": base.get("architecture") or info.get("architecture"), "task": task, "domain": domain,
                "source_kind": info["source_kind"], "source": _json(info.get("source", {})),
                "input_size": info.get("input_size"), "params": info.get("params"),
                "size_mb": round(src.stat().st_size / 1e6, 3), "top1": top1, "top5": top5, "depth": info.get("depth"),
                "pretrained_on": pretrained_on or base.get("pretrained_on"), "license": license or base.get("license"),
                "preprocessing": preprocessing or info.get("preprocessing") or base.get("preprocessing"),
                "num_classes": len(labels) if labels is not None else info.get("num_classes"),
                "labels": _json(list(labels)) if labels is not None else None,
                "description": description, "tags": tag_text, "owner": self.user, "visibility": visibility,
                "parent_id": base.get("id") if base else None, "run_id": run_id, "artifact": rel, "sha256": digest,
            }
            model_id = db["models"].insert(row).last_pk
        return self.model(model_id)

    def _set_visibility(self, ref: Any, visibility: str) -> ModelRecord:
        record = self._owned(ref, f"make {visibility}")
        with self.transaction() as db:
            db.execute("UPDATE models SET visibility = ? WHERE id = ?", [visibility, record.id])
        return self.model(record.id)

    def publish(self, ref: Any) -> ModelRecord:
        """Make one of your models visible to everyone."""
        return self._set_visibility(ref, "public")

    def unpublish(self, ref: Any) -> ModelRecord:
        """Make one of your models private again."""
        return self._set_visibility(ref, "private")

    def update_model(self, ref: Any, **changes: Any) -> ModelRecord:
        """Change descriptive metadata of one of your models (not its file, owner or lineage)."""
        allowed = {"description", "tags", "domain", "task", "family", "top1", "top5", "license", "labels",
                   "pretrained_on", "preprocessing"}
        bad = set(changes) - allowed
        if bad:
            raise InputError(f"cannot change {sorted(bad)}; changeable: {sorted(allowed)}")
        record = self._owned(ref, "change")
        if "labels" in changes:
            changes["num_classes"] = len(changes["labels"])
            changes["labels"] = _json(list(changes["labels"]))
        with self.transaction() as db:
            db["models"].update(record.id, changes)
        return self.model(record.id)

    def delete_model(self, ref: Any) -> None:
        """Delete one of your model versions and its training runs (datasets stay)."""
        record = self._owned(ref, "delete")
        with self.transaction() as db:
            db.execute("DELETE FROM models WHERE id = ?", [record.id])
            still_used = db.execute("SELECT 1 FROM models WHERE artifact = ? LIMIT 1", [record.artifact]).fetchone()
        if record.artifact and not still_used:
            (self.artifacts_root / record.artifact).unlink(missing_ok=True)

    # ------------------------------------------------------------------ datasets
    def add_dataset(self, x, y, name: str, class_names: Sequence[str] | None = None, *, description: str = "",
                    source: str = "arrays") -> DatasetRecord:
        """Store a labelled image set: public, immutable, content-hashed, never deleted.

        ``x (N, H, W[, C])`` images, ``y (N,)`` int or string labels. Adding the same content again
        returns the existing dataset (whatever name is given); a name already used for other content
        is refused.
        """
        if not isinstance(name, str) or not re.fullmatch(r"[\w.+-][\w .+-]{0,127}", name):
            raise InputError(f"dataset name {name!r} may hold letters, digits, space, '.', '_', '+', '-' (1-128)")
        data = check_labelled(x, y, class_names, min_per_class=1, min_classes=1)
        images = data.x if data.x.dtype == np.uint8 else data.x.astype(np.float32)
        digest = content_hash(images, data.y, data.class_names)
        existing = self.db.execute("SELECT id FROM datasets WHERE content_hash = ?", [digest]).fetchone()
        if existing:
            return self.dataset(existing[0])
        if self.db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
            raise InputError(f"a different dataset is already named '{name}'; datasets are immutable, choose another name")
        rel = f"datasets/{digest[:2]}/{digest}.npz"
        dest = self.artifacts_root / rel
        if not dest.exists():
            write_atomic(dest, lambda fh: np.savez(fh, x=images, y=data.y, class_names=np.array(data.class_names)))
        counts = np.bincount(data.y, minlength=data.num_classes).tolist()
        row = {"name": name, "content_hash": digest, "num_examples": int(len(data.y)),
               "image_shape": _json(list(images.shape[1:])), "num_classes": data.num_classes,
               "class_names": _json(list(data.class_names)), "class_counts": _json(counts), "source": source,
               "description": description, "artifact": rel, "created_by": self.user}
        try:
            with self.transaction() as db:
                dataset_id = db["datasets"].insert(row).last_pk
        except sqlite3.IntegrityError:  # another process added the same content or name just now
            again = self.db.execute("SELECT id FROM datasets WHERE content_hash = ?", [digest]).fetchone()
            if again:
                return self.dataset(again[0])
            raise InputError(f"a different dataset is already named '{name}'; choose another name") from None
        return self.dataset(dataset_id)

    def add_dataset_from_folder(self, folder: str | os.PathLike, name: str, image_size: tuple[int, int] = (224, 224),
                                description: str = "") -> DatasetRecord:
        """Images in ``folder/<class name>/*.{png,jpg,jpeg,bmp,gif}``, resized to ``image_size`` (H, W)."""
        from ..datasets import read_image_folder

        x, y, names = read_image_folder(folder, image_size)
        return self.add_dataset(x, y, name, names, description=description, source=f"folder:{Path(folder).name}")

    def add_dataset_from_tfds(self, tfds_name: str, name: str | None = None, *, split: str = "train",
                              data_dir: str | os.PathLike | None = None, image_size: tuple[int, int] | None = None,
                              limit: int | None = None, description: str = "") -> DatasetRecord:
        """A TFDS image-classification dataset (``tfds.load``; offline with a local ``data_dir``)."""
        from ..datasets import read_tfds

        x, y, names = read_tfds(tfds_name, split=split, data_dir=data_dir, image_size=image_size, limit=limit)
        return self.add_dataset(x, y, name or f"{tfds_name}-{split}".replace(":", "-").replace("[", "-").strip("]"),
                                names, description=description, source=f"tfds:{tfds_name}/{split}")

    def datasets(self) -> pd.DataFrame:
        """All datasets (datasets are public)."""
        cur = self.db.execute("SELECT id, name, num_examples, num_classes, image_shape, class_names, source, "
                              "created_by, created_at FROM datasets ORDER BY id")
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

    def dataset(self, ref: Any) -> DatasetRecord:
        """A dataset by id or name."""
        if isinstance(ref, DatasetRecord):
            return ref
        key = "id" if isinstance(ref, (int, np.integer)) or (isinstance(ref, str) and ref.isdigit()) else "name"
        rows = list(self.db.query(f"SELECT * FROM datasets WHERE {key} = ?", [ref]))
        if not rows:
            names = [r[0] for r in self.db.execute("SELECT name FROM datasets")]
            close = difflib.get_close_matches(str(ref), names, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else " List them with reg.datasets()."
            raise NotFoundError(f"no dataset {ref!r}.{hint}")
        return record_from_row(DatasetRecord, rows[0])

    def load_dataset(self, ref: Any) -> LabelledImages:
        """The stored arrays of a dataset (read-only copies of the stored file)."""
        record = self.dataset(ref)
        with np.load(self.artifact_path(record), allow_pickle=False) as npz:
            return LabelledImages(npz["x"], npz["y"], tuple(str(c) for c in npz["class_names"]))

    # ------------------------------------------------------------------ training runs
    def start_run(self, model: Any, dataset: Any = None, *, kind: str = "finetune", **fields: Any) -> int:
        """Open a training run in status ``running``; returns its id. ``fields``: optimizer, loss, ..."""
        record = self.model(model)
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        row = {"model_id": record.id, "dataset_id": dataset_id, "owner": self.user, "kind": kind,
               "status": "running", **self._run_fields(fields)}
        with self.transaction() as db:
            return db["runs"].insert(row).last_pk

    @staticmethod
    def _run_fields(fields: dict[str, Any]) -> dict[str, Any]:
        allowed = {"optimizer", "optimizer_config", "loss", "batch_size", "batch_size_changes", "learning_rate",
                   "epochs", "config", "device", "finished_at", "duration_s", "outcome", "result_model_id",
                   "metrics", "confusion", "error", "status"}
        bad = set(fields) - allowed
        if bad:
            raise InputError(f"unknown run fields {sorted(bad)}")
        json_cols = {"optimizer_config", "batch_size_changes", "config", "metrics", "confusion"}
        return {k: (_json(v) if k in json_cols else v) for k, v in fields.items()}

    def _own_run(self, run_id: int) -> dict[str, Any]:
        rows = list(self.db.query("SELECT * FROM runs WHERE id = ?", [int(run_id)]))
        if not rows or rows[0]["owner"] != self.user:
            raise NotFoundError(f"no training run {run_id} of yours")
        return rows[0]

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Record one finished epoch (loss, accuracy, val_loss, val_accuracy, learning_rate, batch_size, seconds)."""
        self._own_run(run_id)
        cols = {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "batch_size", "seconds"}
        row = {"run_id": int(run_id), "epoch": int(epoch),
               **{k: (None if v is None else float(v)) for k, v in metrics.items() if k in cols},
               "extra": _json({k: v for k, v in metrics.items() if k not in cols})}
        with self.transaction() as db:
            db["epochs"].insert(row, replace=True)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Change fields of one of your runs (status, outcome, metrics, ...)."""
        self._own_run(run_id)
        with self.transaction() as db:
            db["runs"].update(int(run_id), self._run_fields(fields))

    def finish_run(self, run_id: int, status: str = "finished", **fields: Any) -> None:
        """Close a run: ``finished``, ``failed`` or ``interrupted``, with its duration and final fields."""
        if status not in ("finished", "failed", "interrupted"):
            raise InputError("status must be finished, failed or interrupted")
        row = self._own_run(run_id)
        fields.setdefault("finished_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if "duration_s" not in fields:
            started = pd.Timestamp(row["started_at"])
            fields["duration_s"] = (pd.Timestamp.now(tz="UTC") - started).total_seconds()
        self.update_run(run_id, status=status, **fields)

    def _visible_runs(self) -> tuple[str, list[Any]]:
        return ("(r.owner = ? OR r.result_model_id IN (SELECT id FROM models WHERE visibility = 'public'))",
                [self.user])

    def run(self, run_id: int) -> RunRecord:
        """One run (yours, or one that produced a public model) with its epochs."""
        visible, args = self._visible_runs()
        rows = list(self.db.query(f"SELECT r.* FROM runs r WHERE r.id = ? AND {visible}", [int(run_id)] + args))
        if not rows:
            raise NotFoundError(f"no training run {run_id} that you can see")
        record = record_from_row(RunRecord, rows[0])
        record.history = list(self.db.query("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", [int(run_id)]))
        return record

    def runs(self, model: Any = None) -> pd.DataFrame:
        """Training runs you can see, newest first; of one model (any version of its line) if given."""
        visible, args = self._visible_runs()
        sql = ("SELECT r.id, m.name AS model, m.version, r.model_id, r.dataset_id, r.kind, r.status, r.optimizer, "
               "r.learning_rate, r.batch_size, r.epochs, r.device, r.duration_s, r.outcome, r.result_model_id, "
               "(SELECT max(val_accuracy) FROM epochs e WHERE e.run_id = r.id) AS best_val_accuracy, "
               "r.owner, r.started_at FROM runs r JOIN models m ON m.id = r.model_id WHERE " + visible)
        if model is not None:
            sql += " AND m.name = ?"
            args = args + [self.model(model).name]
        cur = self.db.execute(sql + " ORDER BY r.id DESC", args)
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

    # ------------------------------------------------------------------ rankings and evaluations
    def save_ranking(self, dataset: Any, method: str, scores: Sequence[dict[str, Any]], *, per_class: int | None = None,
                     seed: int | None = None, models_query: str | None = None, seconds: float | None = None) -> int:
        """Store a ranking: ``scores`` rows hold model_id, rank, score, scores (dict), stability, seconds, error."""
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        with self.transaction() as db:
            ranking_id = db["rankings"].insert({"dataset_id": dataset_id, "owner": self.user, "method": method,
                                                "per_class": per_class, "seed": seed, "models_query": models_query,
                                                "seconds": seconds}).last_pk
            db["ranking_scores"].insert_all([
                {"ranking_id": ranking_id, "model_id": int(s["model_id"]), "rank": s.get("rank"),
                 "score": s.get("score"), "scores": _json(s.get("scores", {})),
                 "stability": _json(s.get("stability", {})), "seconds": s.get("seconds"), "error": s.get("error")}
                for s in scores])
        return ranking_id

    def rankings(self, dataset: Any = None, model: Any = None) -> pd.DataFrame:
        """Your stored ranking rows (one per ranking and model), newest ranking first."""
        sql = ("SELECT r.id AS ranking_id, d.name AS dataset, r.method, r.per_class, r.created_at, m.name AS model, "
               "m.version, s.model_id, s.rank, s.score, s.scores, s.error FROM rankings r "
               "JOIN ranking_scores s ON s.ranking_id = r.id JOIN models m ON m.id = s.model_id "
               "LEFT JOIN datasets d ON d.id = r.dataset_id WHERE r.owner = ? AND " + self._visible("m")[0])
        args: list[Any] = [self.user, self.user]
        if dataset is not None:
            sql += " AND r.dataset_id = ?"
            args.append(self.dataset(dataset).id)
        if model is not None:
            sql += " AND s.model_id = ?"
            args.append(self.model(model).id)
        cur = self.db.execute(sql + " ORDER BY r.id DESC, s.rank", args)
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

    def add_evaluation(self, model: Any, dataset: Any, *, accuracy: float, loss: float | None = None,
                       num_examples: int | None = None, metrics: dict | None = None,
                       confusion: Any = None) -> int:
        """Record the result of evaluating a model on a dataset."""
        record = self.model(model)
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        with self.transaction() as db:
            return db["evaluations"].insert({
                "model_id": record.id, "dataset_id": dataset_id, "owner": self.user, "num_examples": num_examples,
                "accuracy": accuracy, "loss": loss, "metrics": _json(metrics or {}), "confusion": _json(confusion)}).last_pk

    def leaderboard(self, dataset: Any) -> pd.DataFrame:
        """Best evaluation of every visible model on ``dataset`` and on each of its slices, best first.

        ``slice``: empty for the whole dataset, else ``"N of M images (slice S)"`` (evaluations on part of it).
        """
        record = self.dataset(dataset)
        cur = self.db.execute(
            "SELECT m.id AS model_id, m.name, m.version, max(e.accuracy) AS accuracy, count(*) AS evaluations, "
            "max(e.created_at) AS last_evaluated, CASE WHEN e.slice_id IS NULL THEN '' ELSE "
            "s.num_examples || ' of ' || ? || ' images (slice ' || s.id || ')' END AS slice "
            "FROM evaluations e JOIN models m ON m.id = e.model_id LEFT JOIN dataset_slices s ON s.id = e.slice_id "
            f"WHERE e.dataset_id = ? AND {self._visible('m')[0]} GROUP BY m.id, e.slice_id "
            "ORDER BY accuracy DESC", [record.num_examples, record.id, self.user])
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (``CREATE TRIGGER ... END;`` kept whole)."""
    statements, current = [], []
    for line in script.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        current.append(line)
        text = "\n".join(current).strip()
        in_trigger = text.upper().startswith("CREATE TRIGGER")
        if text.endswith(";") and (not in_trigger or text.upper().endswith("END;")):
            statements.append(text)
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


def open_registry(path: str | os.PathLike | None = None, user: str | None = None) -> Registry:
    """Open (creating and seeding on first use) the embedded registry at ``path``.

    ``path`` defaults to ``$FMC_REGISTRY``, else ``<jupyter data dir>/fmc/registry.db``.
    ``"hub"`` or an ``http(s)://`` URL (or no path with ``$FMC_REGISTRY_URL`` set) opens the team's
    registry service instead: a :class:`~fmc_jupyter.registry.remote.RemoteRegistry` with the same methods.
    """
    if (path is None and os.environ.get("FMC_REGISTRY_URL")) or (
            isinstance(path, str) and (path == "hub" or path.startswith(("http://", "https://")))):
        from .remote import open_remote_registry

        return open_remote_registry(path, user=user)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise FmcError(f"open_registry takes a file path, not {type(path).__name__}")
    return Registry(path if path is not None else default_registry_path(), user=user)
