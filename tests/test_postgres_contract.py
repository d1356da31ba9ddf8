"""The embedded registry's behaviour tests, run again on the PostgreSQL backend.

Every test of tests/test_registry.py and tests/test_lineage.py that goes through the ``tmp_registry`` /
``bob_registry`` fixtures runs here against a fresh PostgreSQL database (the fixtures below override the SQLite
ones); the tests about the SQLite file itself (paths, WAL, network filesystems, its query plans) are left out.
"""

from __future__ import annotations

import pytest

from fmc_jupyter.registry.postgres import PostgresRegistry

import test_lineage
import test_registry

_SQLITE_ONLY = {
    "test_reopening_applies_no_migration_twice", "test_concurrent_first_opens_create_one_schema",
    "test_concurrent_writers_lose_nothing", "test_default_path_follows_environment", "test_network_filesystem_detection",
    "test_write_atomic_leaves_nothing_on_failure", "test_registry_on_network_filesystem_warns",
    "test_migration_7_applied_once",
}
from test_lineage import line, model_files  # noqa: E402,F401  (fixtures of the lineage tests)

for _module in (test_registry, test_lineage):
    for _name in dir(_module):
        if _name.startswith("test_") and _name not in _SQLITE_ONLY and callable(getattr(_module, _name)):
            globals()[f"{_name}"] = getattr(_module, _name)


@pytest.fixture
def tmp_registry(postgres_url, tmp_path):
    """A fresh PostgreSQL registry opened as 'alice', artifacts in a folder."""
    reg = PostgresRegistry(postgres_url, user="alice", artifacts=tmp_path / "artifacts")
    yield reg
    reg.close()


@pytest.fixture
def bob_registry(tmp_registry):
    reg = PostgresRegistry(tmp_registry.url, user="bob", artifacts=tmp_registry.artifacts)
    yield reg
    reg.close()
