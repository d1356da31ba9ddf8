"""Which SQLite the embedded registry uses, chosen so that the import order of TensorFlow does not matter.

The root cause this module fixes: TensorFlow's shared libraries carry their own SQLite (3.50 at the time of
writing, built without FTS5) and export its ``sqlite3_*`` symbols process-wide, and ``import tensorflow``
itself imports Python's ``sqlite3``. When TensorFlow is imported first, the dynamic linker binds
``_sqlite3`` (and any SQLite extension module loaded later) to TensorFlow's copy, so every connection in the
process lacks the FTS5 module: a new registry fails with "no such module: fts5" and word searches fail on an
existing one. Imported the other way round, ``_sqlite3`` is bound to the system SQLite first and stays so.

The fix, whatever the order:

1. Python's ``sqlite3`` is used whenever it has FTS5 (no TensorFlow, or ``fmc_jupyter`` imported first): the
   system SQLite, whose query planner the search benchmarks were tuned on;
2. else ``pysqlite3`` (the ``pysqlite3-binary`` wheel, a dependency on Linux x86-64), loaded with
   ``RTLD_DEEPBIND`` so that its statically linked SQLite (with FTS5) resolves its own symbols before the
   process-wide ones. It is loaded that way as soon as this module is imported, before :mod:`sqlite_utils`
   (which imports ``pysqlite3`` itself when installed) can load it bound to TensorFlow's copy;
3. else opening a registry raises :class:`~fmc_jupyter.errors.FmcError` saying what to do.

``FMC_SQLITE=pysqlite3`` or ``=stdlib`` forces one of them.

:data:`dbapi` is the chosen DB-API module: catch ``dbapi.OperationalError`` etc., not ``sqlite3``'s.
"""

from __future__ import annotations

import importlib
import os
import sqlite3 as _stdlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["dbapi", "connect", "has_fts5", "ENGINE"]


def has_fts5(module: ModuleType) -> bool:
    """Whether connections of DB-API ``module`` offer the FTS5 full-text module."""
    try:
        conn = module.connect(":memory:")
    except Exception:  # noqa: BLE001 - a broken module has no FTS5 either
        return False
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fmc_probe USING fts5(x)")
        return True
    except module.Error:
        return False
    finally:
        conn.close()


def _deepbind_import(name: str) -> ModuleType | None:
    """Import ``name`` with ``RTLD_DEEPBIND`` (its own symbols first); ``None`` if it is not installed."""
    if name in sys.modules:
        return sys.modules[name]
    flags = sys.getdlopenflags()
    deep = getattr(os, "RTLD_DEEPBIND", 0)
    try:
        sys.setdlopenflags(os.RTLD_NOW | deep if deep else flags)
        return importlib.import_module(name)
    except ImportError:
        return None
    finally:
        sys.setdlopenflags(flags)


def _choose() -> tuple[ModuleType, str]:
    wanted = os.environ.get("FMC_SQLITE", "").strip().lower()
    bundled = _deepbind_import("pysqlite3.dbapi2") if wanted != "stdlib" else None
    if wanted != "pysqlite3" and (bundled is None or wanted == "stdlib" or has_fts5(_stdlib)):
        return _stdlib, "sqlite3"
    if bundled is not None and has_fts5(bundled):
        return bundled, "pysqlite3"
    return _stdlib, "sqlite3"


dbapi, ENGINE = _choose()


_FTS5: list[bool] = []


def connect(path: str | os.PathLike, timeout: float) -> Any:
    """A connection to ``path`` in autocommit mode (transactions are explicit), usable from any thread."""
    if not _FTS5:
        _FTS5.append(has_fts5(dbapi))
    if not _FTS5[0]:
        from ..errors import FmcError

        raise FmcError(
            "this process's SQLite has no FTS5 full-text search: TensorFlow was imported before fmc_jupyter and "
            "its own SQLite replaced Python's. Install pysqlite3-binary (pip install pysqlite3-binary; "
            "fmc_jupyter then works in any import order), or import fmc_jupyter before tensorflow.")
    return dbapi.connect(str(Path(path)), timeout=timeout, isolation_level=None, check_same_thread=False)
