"""The embedded registry: one SQLite file (WAL) plus an artifact store beside it.

This is the only module (with :mod:`.lineage`, :mod:`.access` and :mod:`.schema`) that speaks SQL. It
implements :class:`~fmc_jupyter.registry.interface.RegistryInterface`. Every read and every write that names
another object goes through :class:`~fmc_jupyter.registry.access.Access` (who may see what); every value
entering the database is checked by :mod:`~fmc_jupyter.registry.fields` first, so a refused call writes
nothing. Each change runs in one short ``BEGIN IMMEDIATE`` transaction, so concurrent kernels serialise on
the write lock (waiting up to the busy timeout) instead of failing with "database is locked".

Files: the registry folder is created ``0700`` and the database, its WAL/SHM files and artifacts ``0600``
(``FMC_REGISTRY_MODE=group``: ``2770``/``0660`` to share one file with a Unix group; see docs/registry.md).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .sqlite_driver import connect  # before sqlite_utils: it picks the SQLite that has FTS5 (import order)
from .sqlite_driver import dbapi as sqlite3

import sqlite_utils  # noqa: E402,I001

from ..arrays import LabelledImages, check_labelled, content_hash
from ..config import current_user, default_registry_path, registry_modes
from ..errors import FmcError, FmcWarning, InputError, NotFoundError, PermissionDeniedError
from ..query import compile_order, compile_query, query_fields, required_phrases, text_phrases
from ..records import DatasetRecord, ModelRecord, RunRecord, record_from_row
from . import fields
from .access import CATALOG_OWNER, Access, not_found_model
from .artifacts import LocalArtifactStore, make_dirs
from .interface import RegistryInterface
from .dataset_records import DatasetRecordsMixin
from .datasets_identity import DatasetIdentityMixin
from .lineage import LineageMixin
from .word_hits import LISTED_WORD, WordHits
from .schema import MIGRATIONS

__all__ = ["Registry", "open_registry", "BUSY_TIMEOUT_S", "network_filesystem", "SEARCH_COLUMNS", "Recent"]

BUSY_TIMEOUT_S = 30.0
_ORDER_SCAN_BUDGET = 10  # x 1,000 SQLite VM steps (1-2 ms): the order-driven plan's budget
_ORDER_SCAN_BUDGET_TEXT = 200  # ... when a broad word's rowids are listed first
_WEIGHTS_RECHECK_S = 60.0  # seconds between re-checks of the weights facet (refresh_weights_present)
CACHE_KIB = 65536  # SQLite's page cache per connection (its default is 2 MiB), filled only as pages are read
SEARCH_COLUMNS = ["id", "name", "version", "family", "architecture", "task", "domain", "source_kind", "input_size",
                  "params", "size_mb", "top1", "top5", "depth", "cpu_ms", "gpu_ms", "pretrained_on", "num_classes",
                  "owner", "visibility", "parent_id", "description", "created_at", "format", "weights_present",
                  "license"]
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs",
               "davfs", "sshfs", "virtiofs"}


def _handle_name(handle: str | None) -> str:
    """A default line name for a ``hf://owner/repo`` (repo) or ``kaggle://o/model/keras/variant[/v]`` (variant)."""
    parts = (handle or "model").split("://")[-1].split("/")
    return parts[3] if handle and handle.startswith("kaggle://") and len(parts) >= 4 else parts[-1]


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


def checked_user(user: Any) -> str:
    """``user`` if it can own models: a non-empty name without ``/``, not the catalog's owner."""
    if not isinstance(user, str) or not user.strip() or user.lower() == CATALOG_OWNER or "/" in user:
        raise InputError(f"'{user}' cannot be used as a user name")
    return user


class Recent:
    """Values remembered for a while, per open registry, to choose search plans (never to answer): ``get(key,
    seconds)`` is the value put less than ``seconds`` ago, else None. At most 256 keys; one more forgets them all."""

    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: Any, value: Any) -> Any:
        if len(self._items) >= 256:
            self._items.clear()
        self._items[key] = (time.monotonic(), value)
        return value

    def get(self, key: Any, seconds: float) -> Any:
        seen = self._items.get(key)
        return None if seen is None or time.monotonic() - seen[0] >= seconds else seen[1]


class Registry(LineageMixin, DatasetIdentityMixin, DatasetRecordsMixin, RegistryInterface):
    """Models, datasets, training runs, rankings and evaluations of one registry file.

    Use :func:`open_registry`; ``user`` is who reads and writes (default :func:`config.current_user`).
    """

    def __init__(self, path: str | os.PathLike, user: str | None = None):
        self.user = checked_user(user or current_user())
        self.path = _checked_path(path)
        self.dir_mode, self.file_mode = registry_modes()
        self.artifacts_root = self.path.parent / f"{self.path.stem}-artifacts"
        self.artifacts = LocalArtifactStore(self.artifacts_root, self.dir_mode, self.file_mode)
        _make_private_dir(self.path.parent, self.dir_mode)
        fs = network_filesystem(self.path)
        if fs:
            warnings.warn(
                f"the registry {self.path} is on a network filesystem ({fs}); SQLite locking is not reliable "
                "there and concurrent writers can corrupt it. Keep the file on local disk, or share one registry "
                "through the registry service (docs/deploying-on-jupyterhub.md).", FmcWarning, stacklevel=3)
        _create_file(self.path, self.file_mode)
        try:
            conn = connect(self.path, timeout=BUSY_TIMEOUT_S)
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # searches look rows up by id: keep them in memory
            self._init_state()
            self._word_hits = WordHits(conn)
            self._migrate()
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                conn.close()
            what = "not an SQLite file" if not _sqlite_header(self.path) else f"SQLite says: {exc}"
            raise FmcError(f"{self.path} is not a Find My CNN registry ({what}); give open_registry() "
                           "the path of a registry file, or a new file name to create one") from None
        self.access = Access(self._rows, self.user)
        for suffix in ("-wal", "-shm"):
            _tighten(Path(f"{self.path}{suffix}"), self.file_mode)

    # ------------------------------------------------------------------ plumbing
    def _init_state(self) -> None:
        """No transaction open yet (:meth:`transaction` nests by depth; callbacks run after commit / rollback),
        no search walk lost yet (:meth:`_walk_lost`)."""
        self._lost_walks = Recent()
        self._depth = 0
        self._hold = False
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []
        self._before_commit: Callable[[], None] | None = None

    def close(self) -> None:
        self.db.close()

    def act_as(self, user: str) -> "Registry":
        """This open registry, acting for ``user`` from now on (what it shows and lets change is ``user``'s).

        For the registry service, whose worker threads each keep one open connection and lend it to one request at
        a time. Only between transactions."""
        if self._depth or self._hold:
            raise RuntimeError("act_as() inside a transaction")
        self.user = checked_user(user)
        self.access = Access(self._rows, self.user)
        return self

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}, user={self.user!r})"

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

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
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it.

        Nested calls (and calls inside :meth:`one_transaction`) become savepoints of the outer transaction.
        Committing bumps :meth:`change_count` and then runs the actions queued with :meth:`after_commit`.
        """
        conn = self.db.conn
        if self._depth == 0:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        else:
            conn.execute("SAVEPOINT fmc_nested")
        self._depth += 1
        try:
            yield self.db
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                conn.execute("ROLLBACK")
                self._after_commit.clear()
            else:
                conn.execute("ROLLBACK TO fmc_nested")
                conn.execute("RELEASE fmc_nested")
            raise
        self._depth -= 1
        if self._depth > 0:
            conn.execute("RELEASE fmc_nested")
            return
        if self._hold:  # one_transaction(): keep it open until the whole call is done
            self._depth = 1
            return
        self._commit()

    def _commit(self) -> None:
        conn = self.db.conn
        try:
            if self._before_commit is not None:
                self._before_commit()
            conn.execute("UPDATE registry_changes SET count = count + 1 WHERE id = 1")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self._after_commit.clear()
            raise
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            with contextlib.suppress(OSError):
                action()

    @contextlib.contextmanager
    def one_transaction(self, before_commit: Callable[[], None] | None = None) -> Iterator[None]:
        """Every change made inside lands in ONE transaction, opened by the first change (not before).

        ``before_commit()`` runs inside it just before the commit (the registry service records the request id
        and answer there, so a retried request is never applied twice). Slow work before the first change
        (inspecting and copying a model file) does not hold the write lock. If it does not commit, the files
        stored for it are removed again (:meth:`on_rollback`).
        """
        if self._hold or self._depth:
            raise FmcError("one_transaction() cannot be nested")
        self._hold, self._before_commit, self._on_rollback = True, before_commit, []
        try:
            try:
                yield
            finally:
                self._hold = False
            if self._depth:
                self._depth = 0
                self._commit()
            elif before_commit is not None:  # nothing changed (e.g. the same dataset again): record the answer
                with self.transaction():
                    pass
        except BaseException:
            if self._depth:
                self._depth = 0
                self.db.conn.execute("ROLLBACK")
            self._after_commit.clear()
            undo, self._on_rollback = self._on_rollback, []
            for action in undo:
                with contextlib.suppress(Exception):
                    action()
            raise
        finally:
            self._before_commit = None
            self._on_rollback = []

    def on_rollback(self, action: Callable[[], None]) -> None:
        """Inside :meth:`one_transaction`: run ``action`` (remove a stored file) if it does not commit."""
        if self._hold:
            self._on_rollback.append(action)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` (removing a file) once the current transaction has committed."""
        if self._depth or self._hold:
            self._after_commit.append(action)
        else:
            action()

    def _migrate(self) -> None:
        conn = self.db.conn
        self._retry(lambda: conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"))
        applied = {r[0] for r in self.db.execute("SELECT id FROM schema_migrations").fetchall()}
        if all(number in applied for number, _ in MIGRATIONS):
            return
        conn.execute("PRAGMA foreign_keys = OFF")  # table rebuilds (migration 9) must not cascade deletes
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            applied = {r[0] for r in self.db.execute("SELECT id FROM schema_migrations").fetchall()}
            for number, step in sorted(MIGRATIONS, key=lambda m: m[0]):
                if number in applied:
                    continue
                if callable(step):
                    step(conn)
                else:
                    for statement in _split_sql(step):
                        conn.execute(statement)
                if number == 1:
                    from ..catalog import catalog_rows

                    self.db["models"].insert_all(catalog_rows())
                conn.execute("INSERT INTO schema_migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                             (number,))
            if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise FmcError(f"the migration of {self.path} would break references between tables; "
                               "nothing was changed. Report this with the file.")
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'registry_changes'").fetchone():
                conn.execute("UPDATE registry_changes SET count = count + 1 WHERE id = 1")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM schema_migrations ORDER BY id").fetchall()]

    def change_count(self) -> int:
        return int(self.db.execute("SELECT count FROM registry_changes WHERE id = 1").fetchone()[0])

    def _visible(self, alias: str = "") -> tuple[str, list[Any]]:
        return self.access.model_visible(alias)

    # ------------------------------------------------------------------ requests of the registry service
    def request_answer(self, request_id: str) -> str | None:
        """The recorded answer to ``request_id`` (a retried change), or ``None`` if it was never applied."""
        # "user" quoted: a column here, a reserved word on PostgreSQL (which runs this same code)
        row = self.db.execute('SELECT "user", result FROM service_requests WHERE id = ?', [request_id]).fetchone()
        if row is None:
            return None
        if str(row[0]).lower() != self.user.lower():
            raise InputError("that request id was used by someone else; send a fresh one")
        return row[1]

    def record_request(self, request_id: str, method: str, answer: str) -> None:
        """Record the answer to ``request_id``; call it inside the transaction of the change it answers."""
        self.db.execute('INSERT INTO service_requests (id, "user", method, result) VALUES (?, ?, ?, ?)',
                        [request_id, self.user, method, answer])

    # ------------------------------------------------------------------ models: search and lookup
    def search(self, query: str = "", order_by: str | None = None, limit: int | None = 50, offset: int = 0,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The page of models matching ``query`` in ``order_by`` order (see :meth:`RegistryInterface.search`).

        Plan (SQLite): the page's ids first, then its rows. For the ids, two plans may run:

        * order-driven: walk the ORDER BY column's index and check each row until the page is full. Fast when many
          rows match; it runs within a budget of :data:`_ORDER_SCAN_BUDGET` x 1,000 VM steps.
        * filter-driven: the matches found through an equality's covering index (migration 40) or the full-text
          index, then sorted. Fast when few rows match.

        A required word matching fewer than :attr:`_FEW_TEXT_MATCHES` rows goes filter-driven at once; broader words
        get a larger budget. The walk checks words against their matches listed once per connection while the
        registry is unchanged (:mod:`~fmc_jupyter.registry.word_hits`, which also counts them); inside a
        transaction it asks the full-text index each time. A walk that ran past its budget is not tried again for
        the same query and order for a minute (:meth:`_walk_lost_recently`). Ties are broken by id, so pages never
        overlap. Both plans give the same rows.
        """
        limit, offset = fields.limit_offset(limit, offset)
        cols = fields.columns(columns, SEARCH_COLUMNS)
        visible, vparams = self._visible()
        _query_text(query)
        fields.text(order_by, "order_by", max_chars=1000, example="-top1")
        query = query or ""
        self._recheck_weights_for(query)

        def page_ids(walk_order: bool, text_sql: str | None = None) -> list[int]:
            where, params = compile_query(query, text_sql, walk_order=walk_order)
            sql = (f"SELECT id FROM models WHERE {visible} AND {where} "
                   f"ORDER BY {compile_order(order_by, use_index=walk_order)}, id")
            args = vparams + params
            if limit is not None:
                sql += " LIMIT ? OFFSET ?"
                args += [limit, offset]
            elif offset:
                sql += " LIMIT -1 OFFSET ?"
                args += [offset]
            return [r[0] for r in self.db.execute(sql, args).fetchall()]

        ids = None
        plan = (query, compile_order(order_by))
        if limit is not None and limit + offset <= 1000 and _ORDER_SCAN_BUDGET and \
                not self._walk_lost_recently(plan):
            listed = self._word_hits.list(text_phrases(query))  # None inside a transaction
            broad = self._broad_words(query, listed)
            if broad is not None:
                budget = _ORDER_SCAN_BUDGET_TEXT if broad else _ORDER_SCAN_BUDGET
                text_sql = None if listed is None else LISTED_WORD
                ids = self._within_budget(lambda: page_ids(True, text_sql), budget)
                if ids is None:
                    self._walk_lost(plan)
        if ids is None:
            ids = page_ids(walk_order=False)
        return self._model_rows(ids, cols, visible, vparams)

    def refresh_weights_present(self) -> int:
        """Check again whether the weights of every model built from its source (catalog entries, KerasHub
        presets and handles: no stored file) are on this machine, and store the answers that changed (the
        ``weights`` facet). Weights put into ``$KERAS_HOME`` or KerasHub's cache since a row was written count
        from then on. File checks only; returns how many rows changed."""
        from ..zoo.sources.presence import weights_present

        cur = self.db.execute("SELECT id, source_kind, source, artifact, input_size, weights_present FROM models "
                              "WHERE artifact IS NULL")
        names = [d[0] for d in cur.description]
        changed = [(now, row["id"]) for row in (dict(zip(names, r)) for r in cur.fetchall())
                   if (now := weights_present(row)) != row["weights_present"]]
        if changed:
            with self.transaction():
                for now, model_id in changed:
                    self.db.execute("UPDATE models SET weights_present = ? WHERE id = ?", [now, model_id])
        self._weights_checked = time.monotonic()
        return len(changed)

    def _recheck_weights_for(self, query: str) -> None:
        """Before a search or count that asks about ``weights``: :meth:`refresh_weights_present`, at most once a
        minute (a role that may not write keeps the stored answers)."""
        if time.monotonic() - getattr(self, "_weights_checked", -_WEIGHTS_RECHECK_S) < _WEIGHTS_RECHECK_S \
                or "weights" not in query_fields(query):
            return
        with contextlib.suppress(PermissionDeniedError):
            self.refresh_weights_present()

    #: how many rows match a full-text phrase, counted up to a limit (parameters: phrase, limit)
    _TEXT_PROBE = "SELECT count(*) FROM (SELECT 1 FROM models_fts WHERE models_fts MATCH ? LIMIT ?)"
    #: a required word with fewer full-text matches sends the search filter-driven at once (FTS5 counts from the
    #: index alone, so the probe may count far)
    _FEW_TEXT_MATCHES = 2000
    _DIALECT = "sqlite"

    def _broad_words(self, query: str, listed: dict[str, int] | None = None) -> bool | None:
        """Whether ``query`` requires words, all matching :attr:`_FEW_TEXT_MATCHES` rows or more (``True``: the
        order-driven plan gets a larger budget), none (``False``), or one with fewer matches (``None``: the
        filter-driven plan is the fast one). The counts come from ``listed`` (:class:`WordHits`), else from the
        full-text index, up to the limit."""
        phrases = required_phrases(query, self._DIALECT)
        for phrase in phrases:
            if phrase is None:
                return None
            found = listed[phrase] if listed is not None and phrase in listed else \
                self.db.execute(self._TEXT_PROBE, [phrase, self._FEW_TEXT_MATCHES]).fetchone()[0]
            if found < self._FEW_TEXT_MATCHES:
                return None
        return bool(phrases)

    #: seconds a search walk that ran past its budget is not tried again for the same query and order
    _LOST_WALK_S = 60.0

    def _walk_lost(self, plan: tuple[str, str]) -> None:
        """Remember that the order-driven walk of ``plan`` (query, compiled order) ran past its budget."""
        self._lost_walks.put(plan, True)

    def _walk_lost_recently(self, plan: tuple[str, str]) -> bool:
        """Whether the walk of ``plan`` ran past its budget in the last :attr:`_LOST_WALK_S` seconds: the
        filters-first plan then answers at once. It only picks the plan (both give the same rows); a walk that
        would now win is tried again a minute later. (SQLite counts VM steps, so a walk that ran out once always
        does on the same rows; PostgreSQL's budget is time, and a walk counts as lost there only when the filters
        then answered within its budget.)"""
        return self._lost_walks.get(plan, self._LOST_WALK_S) is not None

    def _within_budget(self, call: Callable[[], Any], budget: int) -> Any:
        """``call()``, or ``None`` if it runs past ``budget`` x 1,000 SQLite VM steps (it is then interrupted).

        Steps, not seconds: the same query takes the same plan on a busy machine as on a quiet one."""
        ticks = [0]

        def spent() -> bool:
            ticks[0] += 1
            return ticks[0] > budget

        self.db.conn.set_progress_handler(spent, 1_000)
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            return None
        finally:
            self.db.conn.set_progress_handler(None, 0)

    def _model_rows(self, ids: list[int], cols: list[str], visible: str, vparams: list[Any]) -> pd.DataFrame:
        """The ``cols`` of models ``ids``, in that order, masked for this user (the visibility rule is applied
        again: a model made private since its id was found is left out)."""
        rows: dict[int, tuple] = {}
        names = ", ".join(f'"{c}"' for c in cols)
        for start in range(0, len(ids), 5000):  # under both databases' limits on bound parameters
            chunk = ids[start:start + 5000]
            cur = self.db.execute(f"SELECT id, {names} FROM models WHERE {visible} AND id IN "
                                  f"({', '.join('?' for _ in chunk)})", vparams + chunk)
            rows.update((r[0], r[1:]) for r in cur.fetchall())
        ordered = [rows[i] for i in ids if i in rows]
        if "parent_id" in cols:
            masked = self.access.mask_models([dict(zip(cols, r)) for r in ordered])
            ordered = [tuple(r[c] for c in cols) for r in masked]
        return pd.DataFrame.from_records(ordered, columns=cols)

    def count(self, query: str = "") -> int:
        _query_text(query)
        self._recheck_weights_for(query or "")
        where, params = compile_query(query or "")
        visible, vparams = self._visible()
        return self.db.execute(f"SELECT count(*) FROM models WHERE {visible} AND {where}", vparams + params).fetchone()[0]

    def _model_row(self, ref: Any) -> dict[str, Any]:
        return self.access.mask_models([self.access.model_row(ref)])[0]

    def model(self, ref: Any) -> ModelRecord:
        return record_from_row(ModelRecord, self._model_row(ref))

    def artifact_path(self, record: ModelRecord | DatasetRecord) -> Path:
        """Absolute path of a record's stored file (a model you may see, or a dataset)."""
        if isinstance(record, ModelRecord):
            record = self.model(record.id)  # may you (still) see it?
        elif isinstance(record, DatasetRecord):
            record = self.dataset(record.id)
        else:
            raise InputError(f"artifact_path takes a model or dataset record, not {type(record).__name__}")
        if not record.artifact:
            raise NotFoundError(f"{getattr(record, 'ref', record.name)} has no stored file (it is built from its source)")
        return self.artifacts.local_path(record.artifact, getattr(record, "sha256", None))

    def _owned(self, ref: Any, action: str) -> ModelRecord:
        return record_from_row(ModelRecord, self.access.owned_model_row(ref, action))

    # ------------------------------------------------------------------ models: changes
    def insert_models(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Bulk-insert model rows as they are (catalog imports, benchmarks); returns their ids.

        Embedded only (the registry service does not offer it). Owner defaults to the current user;
        ``source``/``labels`` may be given as Python objects.
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

    def _own_line(self, name: str) -> str:
        """The name of YOUR line ``name`` (``you/name`` or ``name``): you only ever add to your own lines."""
        owner, _, bare = name.rpartition("/")
        if owner and owner.lower() != self.user.lower():
            raise InputError(f"you add versions only to your own model lines: name the line without an owner "
                             f"('{bare}' becomes {self.user}/{bare})")
        return fields.model_name(bare)

    def _next_version(self, db, name: str, parent_row: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
        """(next version number of your line ``name``, its newest version or None).

        Only your own rows and the (visible) parent count, so numbers reveal nothing of other users' lines.
        """
        rows = self._rows("SELECT * FROM models WHERE owner = ? AND name = ? ORDER BY version DESC LIMIT 1",
                          [self.user, name])
        latest = rows[0] if rows else None
        floor = latest["version"] if latest else 0
        if parent_row is not None and str(parent_row["name"]).lower() == name.lower():
            floor = max(floor, int(parent_row["version"]))
        return floor + 1, latest

    def add_model(self, path: str | os.PathLike, name: str | None = None, *, parent: Any = None,
                  visibility: str = "private", family: str | None = None, task: str = "classification",
                  domain: str = "natural", description: str = "", tags: Sequence[str] | str = (),
                  labels: Sequence[str] | None = None, pretrained_on: str | None = None,
                  top1: float | None = None, top5: float | None = None, license: str | None = None,
                  preprocessing: str | None = None, run_id: int | None = None,
                  facts: dict[str, Any] | None = None, fork: bool = False) -> ModelRecord:
        """Register a Keras (``.keras``/``.h5``) or TFLite (``.tflite``) model file.

        The file is inspected (Keras files load with ``safe_mode=True``; models carrying code are
        refused), copied atomically into the artifact store and recorded with its sha256. The version
        joins YOUR line ``name`` (or your line of ``parent``'s name): its next version, derived from
        ``parent`` (default: your line's newest version). ``facts`` overrides inspected facts
        (params, input_size, num_classes, depth, ...). ``fork=True`` with ``parent`` and a new ``name``
        starts a new line derived from ``parent``.
        """
        return self._add_model(path, name, parent=parent, visibility=visibility, family=family, task=task,
                               domain=domain, description=description, tags=tags, labels=labels,
                               pretrained_on=pretrained_on, top1=top1, top5=top5, license=license,
                               preprocessing=preprocessing, run_id=run_id, facts=facts, fork=fork)

    def _add_model(self, path: Any, name: Any = None, *, parent: Any = None, run_id: Any = None,
                   facts: Any = None, fork: Any = False, checkpoint_epoch: int | None = None,
                   **described: Any) -> ModelRecord:
        # 1. check every argument (nothing written yet)
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"add_model takes the path of a model file, not {type(path).__name__}")
        if not isinstance(fork, bool):
            raise InputError(f"fork must be True or False, not {fork!r}")
        # a hf:// / kaggle:// handle or a KerasHub preset folder is registered by reference (no artifact)
        handle = str(path).strip() if isinstance(path, str) and "://" in path else None
        src = Path(path).expanduser() if handle is None else None
        if src is not None and not (src.is_file() or src.is_dir() and (src / "config.json").is_file()):
            raise InputError(f"model file {src} does not exist" if not src.exists() else
                             f"{src} is neither a model file nor a KerasHub preset folder (config.json)")
        meta = fields.check_fields(fields.MODEL_FIELDS, described, "model fields")
        overrides = fields.check_fields(fields.FACT_FIELDS, facts or {}, "facts") if facts is not None else {}
        if name is not None:
            name = fields.text(name, "model name", max_chars=300, allow_none=False)
        parent_row = self._model_row(parent) if parent is not None else None
        run_row = self.access.own_run_row(run_id) if run_id is not None else None
        if fork and (parent_row is None or not name):
            raise InputError("fork=True needs parent= (the model it derives from) and name= (the new line)")
        if handle is not None:
            from ..zoo.sources.kerashub import _check_handle

            handle = _check_handle(handle)
        default_name = src.stem if src is not None and src.is_file() else (src.name if src is not None else
                                                                              _handle_name(handle))
        line = str(parent_row["name"]) if parent_row is not None and not fork else self._own_line(name or default_name)
        # 2. inspect the file or handle (slow; outside any transaction), then store a file
        from ..zoo.inspect import inspect_model_file  # lazy: keeps Keras out of the core

        info = {**inspect_model_file(handle or src), **overrides}
        info = {**info, **fields.check_fields(fields.FACT_FIELDS, {k: v for k, v in info.items()
                                                                  if k in fields.FACT_FIELDS}, "inspected facts")}
        card = {k: info[k] for k in ("license", "pretrained_on", "description", "tags", "task", "family")
                if info.get(k) and k in fields.MODEL_FIELDS}
        meta = {**fields.check_fields(fields.MODEL_FIELDS, card, "model card"),  # what the caller says wins
                **{k: v for k, v in meta.items() if v not in (None, "", [], ())}}
        labels = meta.get("labels")
        if src is None or not src.is_file():  # by reference: the preset's own loader fetches it on first use
            return self._insert_model(src, line, version_of=parent_row, meta=meta, info=info, labels=labels,
                                      run_row=run_row, rel=None, digest=None, checkpoint_epoch=checkpoint_epoch)
        rel, digest, created = self.artifacts.put_file(src, "models")
        if created:
            self.on_rollback(lambda: self._remove_unreferenced("models", rel))
        try:
            return self._insert_model(src, line, version_of=parent_row, meta=meta, info=info, labels=labels,
                                      run_row=run_row, rel=rel, digest=digest, checkpoint_epoch=checkpoint_epoch)
        except BaseException:
            if created:
                self._remove_unreferenced("models", rel)
            raise

    def _remove_unreferenced(self, table: str, rel: str) -> None:
        """Remove a stored file that no row names (the row that would have named it was refused)."""
        if not self.db.execute(f"SELECT 1 FROM {table} WHERE artifact = ? LIMIT 1", [rel]).fetchone():
            self.artifacts.delete(rel)

    def _insert_model(self, src: Path | None, line: str, *, version_of: dict[str, Any] | None, meta: dict[str, Any],
                      info: dict[str, Any], labels: list[str] | None, run_row: dict[str, Any] | None,
                      rel: str | None, digest: str | None, checkpoint_epoch: int | None) -> ModelRecord:
        parent_row = version_of
        with self.transaction() as db:
            version, latest = self._next_version(db, line, parent_row)
            base = parent_row or latest or {}
            row = {
                "name": line, "version": version,
                "family": meta.get("family") or base.get("family") or info.get("family"),
                "architecture": base.get("architecture") or info.get("architecture"),
                "task": meta.get("task") or "classification", "domain": meta.get("domain") or "natural",
                "source_kind": info["source_kind"], "source": _json(info.get("source", {})),
                "input_size": info.get("input_size"), "params": info.get("params"),
                "size_mb": round(src.stat().st_size / 1e6, 3) if src is not None and src.is_file() else None,
                "top1": meta.get("top1"), "top5": meta.get("top5"),
                "depth": info.get("depth"),
                "pretrained_on": meta.get("pretrained_on") or base.get("pretrained_on"),
                "license": meta.get("license") or base.get("license"),
                "preprocessing": meta.get("preprocessing") or info.get("preprocessing") or base.get("preprocessing"),
                "num_classes": len(labels) if labels is not None else info.get("num_classes"),
                "labels": _json(labels) if labels is not None else None,
                "description": meta.get("description") or "", "tags": meta.get("tags") or "", "owner": self.user,
                "visibility": meta.get("visibility", "private"),
                "parent_id": base.get("id") if base else None,
                "run_id": run_row["id"] if run_row else None, "artifact": rel, "sha256": digest,
                "format": info.get("format"), "weights_present": 1 if rel else None,
            }
            if not rel:  # by reference: present when the preset's folder or a download cache holds the weights
                from ..zoo.sources.presence import weights_present

                row["weights_present"] = weights_present(row)
            model_id = db["models"].insert(row).last_pk
            if checkpoint_epoch is not None and run_row is not None:
                db["checkpoints"].insert({"model_id": model_id, "run_id": run_row["id"], "epoch": checkpoint_epoch})
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
        changes = fields.check_fields(fields.MODEL_FIELDS, changes, "model changes (cannot change those)",
                                      allowed=fields.MODEL_CHANGEABLE)
        record = self._owned(ref, "change")
        if "labels" in changes:
            if changes["labels"] is None:
                changes["num_classes"] = None
            else:
                changes["num_classes"] = len(changes["labels"])
                changes["labels"] = _json(changes["labels"])
        if changes:
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
                self.after_commit(lambda rel=record.artifact: self.artifacts.delete(rel))

    # ------------------------------------------------------------------ datasets
    def add_dataset(self, x, y, name: str, class_names: Sequence[str] | None = None, *, description: str = "",
                    source: str = "arrays") -> DatasetRecord:
        """Store a labelled image set: public, immutable, content-hashed, never deleted.

        ``x (N, H, W[, C])`` images, ``y (N,)`` int or string labels. Adding the same content again
        returns the existing dataset; a name given to images that only carry a generated name
        (``arrays-<hash>``, registered by rank/finetune/evaluate) replaces it. A name already used for other
        content is refused.
        """
        fields.model_name(name, "dataset name")
        fields.text(description, "description", allow_none=False)
        fields.text(source, "source", max_chars=1000, allow_none=False)
        data = check_labelled(x, y, class_names, min_per_class=1, min_classes=1)
        images = data.x if data.x.dtype == np.uint8 else data.x.astype(np.float32)
        digest = content_hash(images, data.y, data.class_names)
        existing = self.db.execute("SELECT id, name FROM datasets WHERE content_hash = ?", [digest]).fetchone()
        if existing:
            if _AUTO_NAME.fullmatch(str(existing[1])) and name != existing[1] and not _AUTO_NAME.fullmatch(name) \
                    and not self.db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
                # these images were registered under a generated name (by rank/finetune/evaluate on arrays):
                # the first name a person gives them replaces it
                with self.transaction() as db:
                    db.execute("UPDATE datasets SET name = ? WHERE id = ?", [name, existing[0]])
            return self.dataset(existing[0])
        if self.db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
            raise InputError(f"a different dataset is already named '{name}'; datasets are immutable, choose another name")
        rel = f"datasets/{digest[:2]}/{digest}.npz"
        counts = np.bincount(data.y, minlength=data.num_classes).tolist()
        row = {"name": name, "content_hash": digest, "num_examples": int(len(data.y)),
               "image_shape": _json(list(images.shape[1:])), "num_classes": data.num_classes,
               "class_names": _json(list(data.class_names)), "class_counts": _json(counts), "source": source,
               "description": description, "artifact": rel, "created_by": self.user}
        created = not self.artifacts.exists(rel)
        if created:
            self.artifacts.write(rel, lambda fh: np.savez(fh, x=images, y=data.y,
                                                          class_names=np.array(data.class_names)))
            self.on_rollback(lambda: self._remove_unreferenced("datasets", rel))
        try:
            with self.transaction() as db:
                dataset_id = db["datasets"].insert(row).last_pk
                return self.dataset(dataset_id)
        except sqlite3.IntegrityError:  # another process added the same content or name just now
            again = self.db.execute("SELECT id FROM datasets WHERE content_hash = ?", [digest]).fetchone()
            if again:
                return self.dataset(again[0])
            if created:
                self._remove_unreferenced("datasets", rel)
            raise InputError(f"a different dataset is already named '{name}'; choose another name") from None
        except BaseException:
            if created:
                self._remove_unreferenced("datasets", rel)
            raise

    def datasets(self) -> pd.DataFrame:
        """All datasets (datasets are public)."""
        cur = self.db.execute("SELECT id, name, num_examples, num_classes, image_shape, class_names, source, "
                              "created_by, created_at FROM datasets ORDER BY id")
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])

    def dataset(self, ref: Any) -> DatasetRecord:
        """A dataset by id or name."""
        if isinstance(ref, DatasetRecord):
            ref = ref.id
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, (bool, np.bool_)) or \
                (isinstance(ref, str) and ref.strip().isdigit()):
            key, ref = "id", fields.integer(ref, "dataset id")
        elif isinstance(ref, str) and ref.strip() and len(ref) <= 400:
            key, ref = "name", fields.text(ref, "dataset name", allow_none=False)
        else:
            raise InputError(f"a dataset is named by its name or id, not {ref!r:.60}")
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
    def start_run(self, model: Any, dataset: Any = None, *, kind: str = "finetune", **fields_: Any) -> int:
        """Open a training run in status ``running``; returns its id. ``fields``: optimizer, loss, ..."""
        fields.choice(kind, "kind", fields.RUN_KINDS)
        values = self._run_fields(fields_)
        record = self.model(model)
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        row = {"model_id": record.id, "dataset_id": dataset_id, "owner": self.user, "kind": kind,
               "status": "running", **values}
        with self.transaction() as db:
            return db["runs"].insert(row).last_pk

    def _run_fields(self, values: dict[str, Any]) -> dict[str, Any]:
        checked = fields.check_fields(fields.RUN_FIELDS, values, "run fields")
        if checked.get("result_model_id") is not None:
            self.access.check_result_model(checked["result_model_id"])
        json_cols = {"optimizer_config", "batch_size_changes", "config", "metrics", "confusion"}
        return {k: (_json(v) if k in json_cols else v) for k, v in checked.items()}

    def _own_run(self, run_id: Any) -> dict[str, Any]:
        return self.access.own_run_row(run_id)

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Record one finished epoch (loss, accuracy, val_loss, val_accuracy, learning_rate, batch_size, seconds)."""
        epoch = fields.integer(epoch, "epoch", minimum=0)
        known = fields.check_fields(fields.EPOCH_METRICS, {k: v for k, v in metrics.items()
                                                           if k in fields.EPOCH_METRICS}, "epoch metrics")
        extra = fields.json_value({k: v for k, v in metrics.items() if k not in fields.EPOCH_METRICS}, "extra metrics")
        run = self._own_run(run_id)
        row = {"run_id": run["id"], "epoch": epoch, **known, "extra": _json(extra)}
        with self.transaction() as db:
            db["epochs"].insert(row, replace=True)

    def update_run(self, run_id: int, **fields_: Any) -> None:
        """Change fields of one of your runs (status, outcome, metrics, ...)."""
        values = self._run_fields(fields_)
        run = self._own_run(run_id)
        if values:
            with self.transaction() as db:
                db["runs"].update(run["id"], values)

    def finish_run(self, run_id: int, status: str = "finished", **fields_: Any) -> None:
        """Close a run: ``finished``, ``failed`` or ``interrupted``, with its duration and final fields."""
        if not isinstance(status, str) or status not in fields.FINAL_STATUSES:
            raise InputError(f"status must be finished, failed or interrupted, not {status!r:.40}")
        if "status" in fields_:
            raise InputError("give the status once, as finish_run(run_id, status)")
        self._run_fields(fields_)
        row = self._own_run(run_id)
        fields_.setdefault("finished_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if "duration_s" not in fields_:
            started = pd.Timestamp(row["started_at"])
            fields_["duration_s"] = max(0.0, (pd.Timestamp.now(tz="UTC") - started).total_seconds())
        self.update_run(row["id"], status=status, **fields_)

    def run(self, run_id: int) -> RunRecord:
        """One run (yours, or one that produced a model you can see from a base you can see) with its epochs."""
        row = self.access.run_row(run_id)
        record = record_from_row(RunRecord, row)
        record.history = list(self.db.query("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", [row["id"]]))
        return record

    def runs(self, model: Any = None) -> pd.DataFrame:
        """Training runs you can see, newest first; of one model line (any version of it) if given."""
        visible, args = self.access.run_visible("r")
        sql = ("SELECT r.id, m.name AS model, m.version, r.model_id, r.dataset_id, r.kind, r.status, r.optimizer, "
               "r.learning_rate, r.batch_size, r.epochs, r.device, r.duration_s, r.outcome, r.result_model_id, "
               "(SELECT max(val_accuracy) FROM epochs e WHERE e.run_id = r.id) AS best_val_accuracy, "
               "r.owner, r.started_at FROM runs r LEFT JOIN models m ON m.id = r.model_id AND "
               "(m.visibility = 'public' OR m.owner = ?) WHERE " + visible)
        args = [self.user] + args
        if model is not None:
            record = self.model(model)
            sql += " AND m.name = ? AND m.owner = ?"
            args = args + [record.name, record.owner]
        cur = self.db.execute(sql + " ORDER BY r.id DESC", args)
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        if len(frame):  # a run of yours may name models that are no longer visible to you
            seen = self.access.visible_model_ids(int(i) for col in ("model_id", "result_model_id")
                                                 for i in frame[col].dropna())
            for col in ("model_id", "result_model_id"):
                hidden = [v is not None and not pd.isna(v) and int(v) not in seen for v in frame[col]]
                if any(hidden):
                    frame[col] = frame[col].astype(object).where(~pd.Series(hidden, index=frame.index), None)
        return frame

    # ------------------------------------------------------------------ rankings and evaluations
    def save_ranking(self, dataset: Any, method: str, scores: Sequence[dict[str, Any]], *, per_class: int | None = None,
                     seed: int | None = None, models_query: str | None = None, seconds: float | None = None) -> int:
        """Store a ranking: ``scores`` rows hold model_id, rank, score, scores (dict), stability, seconds, error."""
        fields.text(method, "method", max_chars=1000, allow_none=False)
        per_class = fields.optional_integer(per_class, "per_class", minimum=0)
        seed = fields.optional_integer(seed, "seed")
        fields.text(models_query, "models_query")
        seconds = fields.number(seconds, "seconds", minimum=0)
        if isinstance(scores, (str, bytes, dict)) or not isinstance(scores, (list, tuple)):
            raise InputError(f"scores must be a list of dicts (one per model), not {type(scores).__name__}")
        rows = [fields.check_fields(fields.SCORE_FIELDS, s, "score fields") for s in scores]
        for row in rows:
            if "model_id" not in row:
                raise InputError("every score row needs a model_id")
        ids = [row["model_id"] for row in rows]
        if len(set(ids)) != len(ids):
            raise InputError("a ranking lists each model once; model_id repeats")
        self.access.require_models(ids)
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        with self.transaction() as db:
            ranking_id = db["rankings"].insert({"dataset_id": dataset_id, "owner": self.user, "method": method,
                                                "per_class": per_class, "seed": seed, "models_query": models_query,
                                                "seconds": seconds}).last_pk
            db["ranking_scores"].insert_all([
                {"ranking_id": ranking_id, "model_id": s["model_id"], "rank": s.get("rank"),
                 "score": s.get("score"), "scores": _json(s.get("scores") or {}),
                 "stability": _json(s.get("stability") or {}), "seconds": s.get("seconds"), "error": s.get("error")}
                for s in rows])
        return ranking_id

    def rankings(self, dataset: Any = None, model: Any = None) -> pd.DataFrame:
        """Your stored ranking rows (one per ranking and model), newest ranking first."""
        visible, vparams = self._visible("m")
        sql = ("SELECT r.id AS ranking_id, d.name AS dataset, r.method, r.per_class, r.created_at, m.name AS model, "
               "m.version, s.model_id, s.rank, s.score, s.scores, s.error FROM rankings r "
               "JOIN ranking_scores s ON s.ranking_id = r.id JOIN models m ON m.id = s.model_id "
               "LEFT JOIN datasets d ON d.id = r.dataset_id WHERE r.owner = ? AND " + visible)
        args: list[Any] = [self.user] + vparams
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
        accuracy = fields.fraction(accuracy, "accuracy")
        loss = fields.number(loss, "loss", non_finite_as_none=True)
        num_examples = fields.optional_integer(num_examples, "num_examples", minimum=0)
        metrics = fields.json_value(metrics or {}, "metrics", kind=dict)
        confusion = fields.json_value(confusion, "confusion", kind=list)
        record = self.model(model)
        dataset_id = self.dataset(dataset).id if dataset is not None else None
        with self.transaction() as db:
            return db["evaluations"].insert({
                "model_id": record.id, "dataset_id": dataset_id, "owner": self.user, "num_examples": num_examples,
                "accuracy": accuracy, "loss": loss, "metrics": _json(metrics), "confusion": _json(confusion)}).last_pk

    def leaderboard(self, dataset: Any) -> pd.DataFrame:
        """Best evaluation of every visible model on ``dataset`` and on each of its slices, best first.

        ``slice``: empty for the whole dataset, else ``"N of M images (slice S)"`` (evaluations on part of it).
        """
        record = self.dataset(dataset)
        visible, vparams = self._visible("m")
        cur = self.db.execute(
            "SELECT m.id AS model_id, m.name, m.version, m.owner, max(e.accuracy) AS accuracy, count(*) AS evaluations, "
            "max(e.created_at) AS last_evaluated, CASE WHEN e.slice_id IS NULL THEN '' ELSE "
            "s.num_examples || ' of ' || ? || ' images (slice ' || s.id || ')' END AS slice "
            "FROM evaluations e JOIN models m ON m.id = e.model_id LEFT JOIN dataset_slices s ON s.id = e.slice_id "
            f"WHERE e.dataset_id = ? AND {visible} GROUP BY m.id, m.name, m.version, m.owner, e.slice_id, "
            "s.id, s.num_examples ORDER BY accuracy DESC",
            [record.num_examples, record.id] + vparams)
        return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])


#: names the services generate for images passed as arrays (``arrays-<hash>``, ``rank-<hash>``)
_AUTO_NAME = re.compile(r"(arrays|rank)-[0-9a-f]{12}")


def _query_text(query: Any) -> None:
    if query is not None and not isinstance(query, str):
        raise InputError(f"a query is text such as 'family=mobilenet and params<5M', not {query!r:.60}")
    fields.text(query, "query", max_chars=100_000)


def _checked_path(path: Any) -> Path:
    """An absolute registry file path, or a clear :class:`FmcError` for one that cannot be a registry."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise FmcError(f"open_registry takes a file path, not {path!r:.60}")
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise FmcError(f"cannot use {path!r:.200} as a registry file: {exc}") from None
    if resolved.is_dir():
        raise FmcError(f"{resolved} is a folder; give the registry FILE, e.g. {resolved / 'registry.db'}")
    for folder in resolved.parents:
        if folder.exists():
            if not folder.is_dir():
                raise FmcError(f"cannot create the registry {resolved}: {folder} is a file, not a folder")
            break
    return resolved


def _sqlite_header(path: Path) -> bool:
    """Whether ``path`` starts like an SQLite database (or is empty). Read only once SQLite has refused the file:
    see :func:`_create_file` for why a registry file that SQLite may hold is never opened outside SQLite."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return True  # unreadable: SQLite's own message says more
    return not head or head == b"SQLite format 3\x00"


def _make_private_dir(folder: Path, mode: int) -> None:
    """Create ``folder`` (and missing parents) with ``mode``; folders that exist already keep theirs."""
    try:
        make_dirs(folder, mode)
    except OSError as exc:
        raise FmcError(f"cannot create the registry folder {folder}: {exc.strerror}") from None


def _create_file(path: Path, mode: int) -> None:
    """Create the database file with ``mode`` if it does not exist (SQLite gives its -wal/-shm files the same mode).

    An existing file is never opened here: SQLite's locks are POSIX locks, which belong to the process, and
    closing ANY descriptor of the file drops all of them, also those of this process's open registries. Another
    process closing its last connection would then take the file for unused, checkpoint and delete the WAL, and
    every later write of this process would go to the deleted WAL file: committed, yet lost to everyone else.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        if not os.access(path, os.R_OK | os.W_OK):
            raise FmcError(f"cannot open the registry file {path}: permission denied (you may not read and write "
                           "it); ask its owner, or give open_registry() a file of your own") from None
    except OSError as exc:
        raise FmcError(f"cannot open the registry file {path}: {exc.strerror}") from None
    else:
        os.close(fd)  # a new, empty file: no connection of this process holds a lock on it
    _tighten(path, mode)


def _tighten(path: Path, mode: int) -> None:
    """Give a file of ours exactly ``mode`` (never widen someone else's file)."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if st.st_uid == os.getuid() and (st.st_mode & 0o7777) != mode:
            os.chmod(path, mode)


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


def open_registry(target: Any = None, user: str | None = None) -> RegistryInterface:
    """See :func:`fmc_jupyter.registry.backends.open_registry` (kept here for old imports)."""
    from .backends import open_registry as _open

    return _open(target, user=user)
