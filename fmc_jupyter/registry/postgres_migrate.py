"""Copy an embedded (SQLite) registry into PostgreSQL, then check it: ``python -m fmc_jupyter migrate-registry``.

1. Opens the source file (applying its own pending migrations, as any open does) and the destination database
   (creating the schema); refuses a destination that holds anything but the seeded catalog.
2. Copies every artifact the source names (model files, dataset arrays) into the destination's artifact store
   (content-addressed and write-once, so a second run writes nothing twice), checking model files against their
   recorded sha256.
3. Copies every table in ONE PostgreSQL transaction, keeping ids (and moving the id sequences past them): a
   failure leaves the destination as it was.
4. Checks: the row count and a sha256 over every row (ordered by primary key, values normalised) of every table,
   source against destination, and every copied artifact against the source. Prints one line per table.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import FmcError, InputError
from .artifacts import ArtifactStore, sha256_file
from .postgres import PostgresRegistry
from .registry import Registry

__all__ = ["migrate_registry", "MigrationReport", "TABLES"]

#: tables in an order that satisfies their foreign keys (models.parent_id is filled in a second pass)
#: (the change counter, registry_changes, is not copied: the new database counts its own changes)
TABLES = ["models", "datasets", "runs", "epochs", "rankings", "ranking_scores", "evaluations", "aliases", "comments",
          "checkpoints", "service_requests"]
_GENERATED = {"search_vector"}
_MIGRATOR = "fmc-migrate"


@dataclass
class MigrationReport:
    """Per table: ``(rows in source, rows in destination, content hashes equal)``; artifacts copied/checked."""

    tables: dict[str, tuple[int, int, bool]] = field(default_factory=dict)
    artifacts_copied: int = 0
    artifacts_checked: int = 0
    artifact_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.artifact_problems and all(a == b and same for a, b, same in self.tables.values())

    def lines(self) -> list[str]:
        out = [f"{'table':<18} {'source':>8} {'dest':>8}  content"]
        for table, (a, b, same) in self.tables.items():
            out.append(f"{table:<18} {a:>8} {b:>8}  {'same sha256' if same else 'DIFFERENT'}")
        out.append(f"artifacts: {self.artifacts_copied} copied, {self.artifacts_checked} checked, "
                   f"{len(self.artifact_problems)} problems")
        out.extend(f"  {p}" for p in self.artifact_problems)
        out.append("migration checked: counts and hashes match" if self.ok else "MIGRATION CHECK FAILED")
        return out


def _columns(reg: Any, table: str, postgres: bool) -> list[str]:
    if postgres:
        rows = reg.db.raw("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                          "AND table_name = %s ORDER BY ordinal_position", [table]).fetchall()
        return [r[0] for r in rows if r[0] not in _GENERATED]
    return [r[1] for r in reg.db.execute(f'PRAGMA table_info("{table}")').fetchall()]


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, bytes):
        return value.hex()
    return value


def _table_digest(rows: list[tuple]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([_normal(v) for v in row], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _read(reg: Any, table: str, cols: list[str], keys: list[str], postgres: bool) -> list[tuple]:
    quoted = ", ".join(f'"{c}"' for c in cols)
    order = ", ".join(f'"{k}"' for k in keys)
    sql = f'SELECT {quoted} FROM "{table}" ORDER BY {order}'
    return (reg.db.raw(sql) if postgres else reg.db.execute(sql)).fetchall()


def migrate_registry(src: str | os.PathLike, dst: str, *, artifacts: str | os.PathLike | ArtifactStore | None = None,
                     progress: Callable[[str], None] = print) -> MigrationReport:
    """Copy the embedded registry ``src`` into the empty PostgreSQL registry ``dst``; returns the checked report.

    ``artifacts``: the destination's artifact store (default ``$FMC_ARTIFACTS``, as for the PostgreSQL backend).
    """
    if not isinstance(dst, str) or not dst.startswith(("postgresql://", "postgres://")):
        raise InputError(f"the destination is a postgresql:// URL, not {dst!r:.80}")
    source = Registry(src, user=_MIGRATOR)
    try:
        dest = PostgresRegistry(dst, user=_MIGRATOR, artifacts=artifacts)
    except BaseException:
        source.close()
        raise
    try:
        return _migrate(source, dest, progress)
    finally:
        source.close()
        dest.close()


def _keys(dest: PostgresRegistry, table: str) -> list[str]:
    return list(dest.db.primary_key(table))


def _migrate(source: Registry, dest: PostgresRegistry, progress: Callable[[str], None]) -> MigrationReport:
    if sorted(source.schema_version()) != sorted(dest.schema_version()):
        raise FmcError(f"the source has schema migrations {source.schema_version()} and the destination "
                       f"{dest.schema_version()}: upgrade fmc_jupyter so that both match, then run this again")
    busy = [t for t in TABLES if t != "models"
            and dest.db.raw(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]
    if busy or dest.db.raw("SELECT 1 FROM models WHERE owner <> 'catalog' LIMIT 1").fetchone():
        raise FmcError(f"the destination {dest.path} already holds a registry ({', '.join(busy) or 'models'}); "
                       "migrate into a new, empty database (createdb) so that nothing is mixed or overwritten")
    report = MigrationReport()
    # 1. artifacts first (write-once; harmless if the copy of the rows fails later)
    for table in ("models", "datasets"):
        with_sha = ", sha256" if table == "models" else ", NULL"
        for rel, sha in source.db.execute(f"SELECT DISTINCT artifact{with_sha} FROM {table} "
                                          "WHERE artifact IS NOT NULL").fetchall():
            local = source.artifacts.local_path(rel)
            if not local.is_file():
                report.artifact_problems.append(f"{rel}: missing in the source store {source.artifacts.url}")
                continue
            if sha and sha256_file(local) != sha:
                report.artifact_problems.append(f"{rel}: the source file does not match its recorded sha256")
                continue
            if not dest.artifacts.exists(rel):
                with open(local, "rb") as fin:
                    dest.artifacts.write(rel, lambda fout, fin=fin: fout.write(fin.read()))
                report.artifacts_copied += 1
    progress(f"artifacts: {report.artifacts_copied} copied to {dest.artifacts.url}")
    # 2. every table in one transaction, ids kept
    plans: dict[str, tuple[list[str], list[str]]] = {}
    with dest.transaction() as db:
        db.raw("DELETE FROM models")  # the freshly seeded catalog: the source's rows (same ids) replace it
        for table in TABLES:
            src_cols = _columns(source, table, postgres=False)
            dst_cols = _columns(dest, table, postgres=True)
            cols = [c for c in src_cols if c in dst_cols]
            keys = _keys(dest, table)
            plans[table] = (cols, keys)
            rows = _read(source, table, cols, keys, postgres=False)
            values = rows
            if table == "models":  # parents may come later in id order: link them in a second pass
                pi = cols.index("parent_id")
                values = [tuple(None if j == pi else v for j, v in enumerate(r)) for r in rows]
            db[table].insert_all([dict(zip(cols, r)) for r in values])
            if table == "models":
                links = [(r[pi], r[cols.index("id")]) for r in rows if r[pi] is not None]
                with db.connection.cursor() as cur:
                    cur.executemany("UPDATE models SET parent_id = %s WHERE id = %s", links)
            if keys == ["id"] and table != "service_requests":
                db.raw(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"GREATEST((SELECT max(id) FROM \"{table}\"), 1), (SELECT count(*) > 0 FROM \"{table}\"))")
            progress(f"{table}: {len(rows)} rows")
    # 3. check: counts and content hashes of every table, and every artifact
    for table, (cols, keys) in plans.items():
        a = _read(source, table, cols, keys, postgres=False)
        b = _read(dest, table, cols, keys, postgres=True)
        report.tables[table] = (len(a), len(b), _table_digest(a) == _table_digest(b))
    for table in ("models", "datasets"):
        with_sha = ", sha256" if table == "models" else ", NULL"
        for rel, sha in source.db.execute(f"SELECT DISTINCT artifact{with_sha} FROM {table} "
                                          "WHERE artifact IS NOT NULL").fetchall():
            if any(p.startswith(f"{rel}:") for p in report.artifact_problems):
                continue
            expected = sha or sha256_file(source.artifacts.local_path(rel))
            if not dest.artifacts.exists(rel) or sha256_file(dest.artifacts.local_path(rel)) != expected:
                report.artifact_problems.append(f"{rel}: the copy differs from the source")
            report.artifacts_checked += 1
    return report
