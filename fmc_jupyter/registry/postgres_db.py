"""The registry's SQL on PostgreSQL: a psycopg 3 connection behind the small part of sqlite-utils' API it uses.

The registry's operations (and their one authorization layer) are written once, in plain SQL with ``?``
parameters, against ``db.execute`` / ``db.query`` / ``db[table].insert|insert_all|update``. :class:`PgDatabase`
offers exactly that on a psycopg connection, so the PostgreSQL backend runs the same code as the embedded one.
:func:`translate` rewrites the few SQLite spellings that code uses (listed in :data:`_REWRITES`) and the
placeholders; anything else SQLite-only fails loudly in the contract tests rather than silently differing.

Errors: a unique/foreign-key violation is raised as :class:`PgIntegrityError`, a subclass of both
``psycopg.IntegrityError`` and ``sqlite3.IntegrityError`` (the type the shared code catches for races on
unique names); a lost connection as :class:`~fmc_jupyter.errors.RegistryUnavailableError`; a write refused for
lack of privileges (a read-only role) as :class:`~fmc_jupyter.errors.PermissionDeniedError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from ..errors import PermissionDeniedError, RegistryUnavailableError
from .postgres_schema import NOW
from .sqlite_driver import dbapi as sqlite3  # the SQLite module whose IntegrityError the shared code catches

__all__ = ["PgDatabase", "PgTable", "PgIntegrityError", "translate", "WRITE_LOCK"]

#: the advisory-lock key every write transaction holds (any constant; the same in every process and host)
WRITE_LOCK = 0x666D63  # "fmc"

#: SQLite spellings in the shared SQL and their PostgreSQL equivalents (applied outside string literals)
_REWRITES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"strftime\(\s*'%Y-%m-%dT%H:%M:%fZ'\s*,\s*'now'\s*\)", re.IGNORECASE), NOW),
    (re.compile(r"\bgroup_concat\(", re.IGNORECASE), "string_agg("),
    (re.compile(r"\s+COLLATE\s+NOCASE\b", re.IGNORECASE), ""),  # citext columns ignore case already
]
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite-flavoured SQL with ``?`` parameters -> PostgreSQL SQL with psycopg's ``%s`` parameters.

    ``?`` outside quotes becomes ``%s``; every literal ``%`` becomes ``%%`` (psycopg reads ``%`` everywhere);
    the rewrites of :data:`_REWRITES` apply outside quotes. ``%s`` already present (SQL compiled for the
    PostgreSQL dialect by :mod:`fmc_jupyter.query`) is kept as it is.
    """
    for pattern, replacement in _REWRITES[:1]:  # this one contains a quoted literal: rewrite before splitting
        sql = pattern.sub(replacement, sql)
    out, pos = [], 0
    for m in _LITERAL.finditer(sql):
        out.append(_code(sql[pos:m.start()]))
        out.append(m.group().replace("%", "%%"))
        pos = m.end()
    out.append(_code(sql[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    for pattern, replacement in _REWRITES[1:]:
        text = pattern.sub(replacement, text)
    text = re.sub(r"%(?!s\b)", "%%", text)
    return text.replace("?", "%s")


class PgIntegrityError(psycopg.IntegrityError, sqlite3.IntegrityError):
    """A constraint violation (unique, foreign key, check) on PostgreSQL."""


def _quote(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


class PgTable:
    """``db["table"]``: insert / insert_all / update as sqlite-utils does them (``last_pk`` after insert)."""

    def __init__(self, db: "PgDatabase", name: str):
        self.db = db
        self.name = name
        self.last_pk: Any = None

    def insert(self, row: dict[str, Any], replace: bool = False) -> "PgTable":
        pk = self.db.primary_key(self.name)
        cols = list(row)
        sql = (f"INSERT INTO {_quote(self.name)} ({', '.join(map(_quote, cols))}) "
               f"VALUES ({', '.join(['%s'] * len(cols))})")
        if replace:
            updates = [c for c in cols if c not in pk]
            sql += f" ON CONFLICT ({', '.join(map(_quote, pk))}) DO " + (
                "UPDATE SET " + ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in updates) if updates
                else "NOTHING")
        sql += f" RETURNING {', '.join(map(_quote, pk))}"
        row_pk = self.db.raw(sql, [row[c] for c in cols]).fetchone()
        self.last_pk = None if row_pk is None else (row_pk[0] if len(pk) == 1 else tuple(row_pk))
        return self

    def insert_all(self, rows: Iterable[dict[str, Any]], batch_size: int = 500, replace: bool = False) -> "PgTable":
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for cols, group in groups.items():
            sql = (f"INSERT INTO {_quote(self.name)} ({', '.join(map(_quote, cols))}) "
                   f"VALUES ({', '.join(['%s'] * len(cols))})")
            with self.db.conn.cursor() as cur:
                self.db.guard(lambda: cur.executemany(sql, [[r[c] for c in cols] for r in group]))
        return self

    def update(self, pk_value: Any, changes: dict[str, Any]) -> "PgTable":
        if not changes:
            return self
        pk = self.db.primary_key(self.name)
        values = list(pk_value) if isinstance(pk_value, (tuple, list)) else [pk_value]
        sql = (f"UPDATE {_quote(self.name)} SET {', '.join(f'{_quote(c)} = %s' for c in changes)} "
               f"WHERE {' AND '.join(f'{_quote(c)} = %s' for c in pk)}")
        self.db.raw(sql, list(changes.values()) + values)
        return self


class _Conn:
    """``db.conn``: raw statements (BEGIN, SAVEPOINT, ...) through the same translation and error mapping."""

    def __init__(self, db: "PgDatabase"):
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self._db.execute(sql, params)

    def cursor(self):
        return self._db.connection.cursor()


class PgDatabase:
    """A psycopg connection in autocommit mode (transactions are explicit ``BEGIN`` ... ``COMMIT``)."""

    _pk_cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def __init__(self, connection: psycopg.Connection, key: str = ""):
        self.connection = connection
        self.key = key  # the database's identity, for the per-process primary-key cache
        self.conn = _Conn(self)

    def guard(self, fn):
        """Run ``fn`` mapping psycopg's errors to the registry's (see the module docstring)."""
        try:
            return fn()
        except pg_errors.InsufficientPrivilege as exc:
            user = self.connection.info.user
            raise PermissionDeniedError(
                f"the database role '{user}' may not change the registry ({exc.diag.message_primary}); it is "
                "read-only: connect with a role that has INSERT/UPDATE/DELETE on the registry's tables") from None
        except psycopg.IntegrityError as exc:
            raise PgIntegrityError(str(exc)) from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if self.connection.closed or self.connection.broken:
                raise RegistryUnavailableError(
                    f"lost the connection to PostgreSQL ({str(exc).strip()}); check the server and open the "
                    "registry again") from exc
            raise

    def raw(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        """Execute PostgreSQL SQL (``%s`` parameters) as it is."""
        return self.guard(lambda: self.connection.execute(sql, list(params)))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        """Execute the registry's shared SQL (``?`` parameters), translated by :func:`translate`.

        ``BEGIN IMMEDIATE`` (SQLite: a transaction that takes the write lock at once) becomes ``BEGIN`` plus the
        transaction-scoped advisory lock :data:`WRITE_LOCK` that every writer of the database takes.
        """
        if sql.strip().upper() == "BEGIN IMMEDIATE":
            self.raw("BEGIN")
            return self.raw("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        return self.raw(translate(sql), params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d.name for d in cur.description or ()]
        for row in cur.fetchall():
            yield dict(zip(names, row))

    def __getitem__(self, table: str) -> PgTable:
        return PgTable(self, table)

    def primary_key(self, table: str) -> tuple[str, ...]:
        key = (self.key, table)
        if key not in self._pk_cache:
            rows = self.raw(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)", [table]).fetchall()
            if not rows:
                raise ValueError(f"table {table!r} has no primary key")
            self._pk_cache[key] = tuple(r[0] for r in rows)
        return self._pk_cache[key]

    def close(self) -> None:
        self.connection.close()
