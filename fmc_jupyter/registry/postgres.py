"""The registry on a PostgreSQL server: ``open_registry("postgresql://user:password@host:5432/fmc")``.

The same operations, query language and authorization as the embedded registry (it runs the same code, see
:mod:`.postgres_db`), on a database server that several registry-service replicas share. Artifacts live in an
:class:`~.artifacts.ArtifactStore` every replica reaches (``$FMC_ARTIFACTS``: a shared folder or ``s3://...``).

A direct connection is for trusted single-user or admin use: a database login can read every row. On a hub, users
reach PostgreSQL through the registry service, which keeps enforcing who may see what.

Concurrency. Every write transaction first takes one transaction-scoped advisory lock
(``pg_advisory_xact_lock(WRITE_LOCK)``, see :mod:`.postgres_db`), so writers serialise exactly as ``BEGIN IMMEDIATE`` makes them on SQLite, across every
process and host using the database: version numbers, aliases and request ids are read and written under the lock,
and their UNIQUE constraints stay the backstop. Reads never wait (MVCC). Write transactions are short (no file
I/O inside), so one lock costs little next to a network round trip.

Bad input: an unreachable server or a wrong password raise :class:`~fmc_jupyter.errors.RegistryUnavailableError`,
a database of a newer schema :class:`~fmc_jupyter.errors.SchemaVersionError`, a role that may not create the
schema or change rows :class:`~fmc_jupyter.errors.PermissionDeniedError`. Migrations run in one transaction
(DDL is transactional on PostgreSQL): a failed one leaves the database exactly as it was.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from ..config import current_user, default_registry_path, registry_modes
from ..errors import FmcError, InputError, PermissionDeniedError, RegistryUnavailableError, SchemaVersionError
from ..query import compile_order, compile_query, required_phrases
from . import fields
from .access import Access
from .artifacts import ArtifactStore, LocalArtifactStore, open_artifact_store
from .postgres_schema import NOW, PG_MIGRATIONS
from .registry import SEARCH_COLUMNS, Recent, Registry, _query_text, checked_user

__all__ = ["PostgresRegistry", "redact_url"]

_MIGRATION_LOCK = 0x666D64
CONNECT_TIMEOUT_S = 10
#: how long search() lets the planner's first-page plan run before it sorts the filtered matches instead
ORDER_SCAN_BUDGET_MS = 3


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _connect(url: str):
    """A psycopg connection in autocommit mode, or a clear :class:`FmcError` saying what to fix."""
    try:
        import psycopg
    except ImportError as exc:
        raise FmcError("a postgresql:// registry needs psycopg 3: pip install 'fmc_jupyter[postgres]'") from exc
    where = redact_url(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="fmc_jupyter")
    except psycopg.ProgrammingError as exc:  # a malformed URL / option
        raise InputError(f"{where} is not a usable PostgreSQL URL ({str(exc).strip()}); write "
                         "postgresql://user:password@host:5432/database") from None
    except psycopg.OperationalError as exc:
        text = str(exc).strip()
        low = text.lower()
        if "password authentication failed" in low or "no password supplied" in low or \
                "role" in low and "does not exist" in low:
            raise RegistryUnavailableError(
                f"PostgreSQL at {where} refused the login ({text.splitlines()[-1]}); check the user name and "
                "password in the URL (or ~/.pgpass / PGPASSWORD)") from None
        if "database" in low and "does not exist" in low:
            raise RegistryUnavailableError(
                f"{where}: {text.splitlines()[-1]}; create it first (createdb) or fix the URL") from None
        raise RegistryUnavailableError(
            f"cannot reach PostgreSQL at {where} ({text.splitlines()[-1] if text else 'no answer'}); check that the "
            "server runs and that host and port are right") from None
    return conn


class PostgresRegistry(Registry):
    """The registry on PostgreSQL. Use :func:`~fmc_jupyter.registry.open_registry` with a ``postgresql://`` URL.

    ``artifacts``: where model files and dataset arrays go (a folder, or an fsspec URL such as
    ``s3://bucket/prefix``); default ``$FMC_ARTIFACTS``, else ``<jupyter data dir>/fmc/artifacts`` (which only
    one host sees: set ``$FMC_ARTIFACTS`` to a shared location for several replicas).
    """

    def __init__(self, url: str, user: str | None = None, artifacts: str | os.PathLike | ArtifactStore | None = None):
        from .postgres_db import PgDatabase

        if not isinstance(url, str) or urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise InputError(f"a PostgreSQL registry is named by a postgresql:// URL, not {url!r:.80}")
        self.user = checked_user(user or current_user())
        self.url = url
        self.path = redact_url(url)
        self.dir_mode, self.file_mode = registry_modes()
        target = artifacts if artifacts is not None else \
            os.environ.get("FMC_ARTIFACTS") or default_registry_path().parent / "artifacts"
        if not isinstance(target, ArtifactStore) and "://" not in os.fspath(target):
            target = LocalArtifactStore(target, self.dir_mode, self.file_mode)
        self.artifacts = open_artifact_store(target)
        # reports and other local files of a run go beside the store's folder (an fsspec store: its local cache)
        self.artifacts_root = self.artifacts.root if isinstance(self.artifacts, LocalArtifactStore) else \
            Path(self.artifacts.cache)
        self._init_state()
        self._probed = Recent()  # phrase -> matches counted: _broad_words
        conn = _connect(url)
        try:
            # registry queries are short index lookups: parallel workers cost more to start than they save
            conn.execute("SET max_parallel_workers_per_gather = 0")
            info = conn.info
            self.db = PgDatabase(conn, key=f"{info.host}:{info.port}/{info.dbname}")
            self._migrate()
        except BaseException:
            conn.close()
            raise
        self.access = Access(self._rows, self.user)

    def __repr__(self) -> str:
        return f"PostgresRegistry({self.path!r}, user={self.user!r})"

    # ------------------------------------------------------------------ transactions and schema
    @staticmethod
    def _retry(fn, attempts: int = 1):
        return fn()  # PostgreSQL waits for locks itself; nothing to retry

    def _migrate(self) -> None:
        applied = self._applied()
        known = {number for number, _ in PG_MIGRATIONS}
        newer = sorted(set(applied or ()) - known)
        if newer:
            raise SchemaVersionError(
                f"the registry database {self.path} has schema migrations {newer} that this version of fmc_jupyter "
                "does not know: a newer fmc_jupyter created it. Upgrade fmc_jupyter (pip install -U fmc_jupyter)")
        if applied is not None and known <= set(applied):
            return
        if applied is None:
            foreign = [r[0] for r in self.db.raw(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_name = ANY(%s) ORDER BY table_name", [["models", "datasets", "runs", "aliases"]]).fetchall()]
            if foreign:
                raise SchemaVersionError(
                    f"the database {self.path} already has tables {foreign} that fmc_jupyter did not create (no "
                    "schema_migrations table); nothing was changed. Give the registry its own, empty database "
                    "(createdb)")
        db = self.db
        try:
            db.raw("BEGIN")
            db.raw("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
            db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (id BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {r[0] for r in db.raw("SELECT id FROM schema_migrations").fetchall()}
            for number, step in PG_MIGRATIONS:
                if number in done:
                    continue
                if callable(step):
                    step(db)
                else:
                    db.raw(step)
                if number == 1:
                    from ..catalog import catalog_rows

                    db["models"].insert_all(catalog_rows())
                db.raw(f"INSERT INTO schema_migrations VALUES (%s, {NOW})", [number])
            if db.raw("SELECT to_regclass('registry_changes')").fetchone()[0] is not None:
                db.raw("UPDATE registry_changes SET count = count + 1 WHERE id = 1")
            db.raw("COMMIT")
        except BaseException as exc:
            if not db.connection.closed:
                db.connection.execute("ROLLBACK")
            if isinstance(exc, PermissionDeniedError) or type(exc).__name__ == "InsufficientPrivilege":
                raise PermissionDeniedError(
                    f"the database role '{db.connection.info.user}' may not create the registry's tables in "
                    f"{self.path}; nothing was changed. Open it once with the database's owner (or grant CREATE on "
                    "the schema), then use this role") from None
            raise

    def _applied(self) -> list[int] | None:
        """Applied migration ids, or ``None`` for a database without the registry's schema."""
        if self.db.raw("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
            return None
        try:
            return [r[0] for r in self.db.raw("SELECT id FROM schema_migrations ORDER BY id").fetchall()]
        except PermissionDeniedError:
            raise PermissionDeniedError(
                f"the database role '{self.db.connection.info.user}' may not read the registry in {self.path}: "
                "grant it SELECT on the registry's tables") from None

    def schema_version(self) -> list[int]:
        return self._applied() or []

    # ------------------------------------------------------------------ search (the PostgreSQL dialect)
    _TEXT_PROBE = ("SELECT count(*) FROM (SELECT 1 FROM models WHERE search_vector @@ to_tsquery('simple', ?) "
                   "LIMIT ?) AS matches")
    _FEW_TEXT_MATCHES = 300  # the GIN probe reads the matching rows from the heap: count less far
    _DIALECT = "postgresql"
    #: seconds a word's probe count is reused (it only picks the plan: both give the same rows)
    _PROBE_TTL_S = 60.0

    def _broad_words(self, query: str, listed: dict[str, int] | None = None) -> bool | None:
        """As on SQLite, with each required word's count (GIN, up to the limit) remembered for
        :attr:`_PROBE_TTL_S` seconds per connection: the GIN count reads every match's bitmap first (4 ms for a
        word in 12,000 of 100,000 models, more than the search), and a stale count costs at most the walk's time
        budget, never a wrong row."""
        counts: dict[str, int] = {}
        for phrase in required_phrases(query, self._DIALECT):
            if phrase is None or phrase in counts:
                continue
            found = self._probed.get(phrase, self._PROBE_TTL_S)
            counts[phrase] = found if found is not None else self._probed.put(phrase, self.db.execute(
                self._TEXT_PROBE, [phrase, self._FEW_TEXT_MATCHES]).fetchone()[0])
        return super()._broad_words(query, counts)

    def search(self, query: str = "", order_by: str | None = None, limit: int | None = 50, offset: int = 0,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
        """As on SQLite; compiled for PostgreSQL (tsvector full text, ILIKE, citext equality).

        Two plans race for the first page, as on SQLite: the planner's own (usually walking the ORDER BY column's
        index until ``limit`` matches are found: fast when many rows match) within a budget of
        :data:`ORDER_SCAN_BUDGET_MS` (``statement_timeout``), else the filters first (GIN / bitmap index scans,
        behind an ``OFFSET 0`` fence the planner cannot see through), then a sort of the matches: fast when few
        rows match. The planner cannot tell these apart itself when columns are correlated (size and params) or
        for prefix searches of rare words. Both plans select only the page's ids (the fenced one reads ids and sort
        keys only, an index-only scan of the covering indexes of migration 40); the rows are read after. Both give
        the same rows; ties are broken by id. As on SQLite, a walk that ran past its budget is not tried again for
        the same query and order for a minute.
        """
        from psycopg import errors as pg_errors

        limit, offset = fields.limit_offset(limit, offset)
        cols = fields.columns(columns, SEARCH_COLUMNS)
        _query_text(query)
        fields.text(order_by, "order_by", max_chars=1000, example="-top1")
        visible, vparams = self._visible()
        where, params = compile_query(query or "", dialect="postgresql")
        order = compile_order(order_by, dialect="postgresql")
        keys = ", ".join(dict.fromkeys(['"id"', *re.findall(r'"\w+"', order)]))  # what the fenced plan sorts by
        condition = f"{visible.replace('?', '%s')} AND {where}"
        args = vparams + params
        page, page_args = "", []
        if limit is not None or offset:
            page, page_args = " LIMIT %s OFFSET %s", [limit, offset]  # LIMIT NULL: no limit

        def page_ids(filters_first: bool) -> list[int]:
            source = f"(SELECT {keys} FROM models WHERE {condition} OFFSET 0) AS models" if filters_first else \
                f"models WHERE {condition}"
            cur = self.db.raw(f"SELECT id FROM {source} ORDER BY {order}, id{page}", args + page_args)
            return [r[0] for r in cur.fetchall()]

        def budgeted() -> list[int]:
            with self.db.connection.transaction():  # a savepoint when called inside a write transaction
                self.db.raw("SELECT set_config('statement_timeout', %s, true)", [str(ORDER_SCAN_BUDGET_MS)])
                return page_ids(filters_first=False)

        ids, lost = None, False
        plan = (query or "", order)
        if limit is not None and limit + offset <= 1000 and not self._walk_lost_recently(plan) and \
                self._broad_words(query or "") is not None:
            try:
                ids = self.db.guard(budgeted)
            except pg_errors.QueryCanceled:
                lost = True
        if ids is None:
            started = time.perf_counter()
            ids = page_ids(filters_first=True)
            # a timeout is a measurement on a possibly busy machine: the walk is skipped next time only if the
            # filters were measured to be faster than its budget
            if lost and (time.perf_counter() - started) * 1000 < ORDER_SCAN_BUDGET_MS:
                self._walk_lost(plan)
        return self._model_rows(ids, cols, visible, vparams)

    def count(self, query: str = "") -> int:
        _query_text(query)
        where, params = compile_query(query or "", dialect="postgresql")
        visible, vparams = self._visible()
        return self.db.raw(f"SELECT count(*) FROM models WHERE {visible.replace('?', '%s')} AND {where}",
                           vparams + params).fetchone()[0]
