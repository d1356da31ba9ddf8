"""``python -m fmc_jupyter migrate-registry SRC DST``: an embedded registry copied into PostgreSQL and checked."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fmc_jupyter.errors import FmcError
from fmc_jupyter.registry import Registry
from fmc_jupyter.registry.postgres import PostgresRegistry
from fmc_jupyter.registry.postgres_migrate import migrate_registry


@pytest.fixture
def source(tmp_path):
    """A registry file with a little of everything: models (a line with a parent and a stored file), a dataset,
    runs with epochs, a ranking, an evaluation, an alias and a comment, by alice (private) and bob (public)."""
    reg = Registry(tmp_path / "src" / "registry.db", user="alice")
    blob = tmp_path / "weights.keras"
    blob.write_bytes(os.urandom(2048))
    rel, digest, _ = reg.artifacts.put_file(blob, "models")
    base = {"source_kind": "keras_file", "family": "tiny", "domain": "medical", "params": 1234, "top1": 0.5}
    v1, v2 = reg.insert_models([{**base, "name": "xray-net", "version": 1, "artifact": rel, "sha256": digest},
                                {**base, "name": "xray-net", "version": 2, "description": "second 100% try"}])
    reg.db.execute("UPDATE models SET parent_id = ? WHERE id = ?", [v1, v2])
    x = np.arange(6 * 4 * 4 * 3, dtype=np.uint8).reshape(6, 4, 4, 3)
    dataset = reg.add_dataset(x, [0, 1, 2, 0, 1, 2], "scans", ["a", "b", "c"])
    run_id = reg.start_run(v2, dataset="scans", optimizer="adam", config={"seed": 1})
    for epoch in range(3):
        reg.log_epoch(run_id, epoch, loss=1.0 / (epoch + 1), val_accuracy=0.3 + epoch / 10)
    reg.finish_run(run_id, metrics={"val_accuracy": 0.5})
    reg.save_ranking("scans", "logme", [{"model_id": v1, "rank": 1, "score": 0.7, "scores": {"logme": 0.7}},
                                        {"model_id": v2, "rank": 2, "score": 0.6}], per_class=2, seed=0)
    reg.add_evaluation(v2, "scans", accuracy=0.66, loss=0.9, num_examples=6)
    reg.set_alias(v2, "production")
    reg.add_comment(v1, "baseline ✓")
    bob = Registry(reg.path, user="bob")
    bob.insert_models([{**base, "name": "bob-net", "visibility": "public"}])
    bob.close()
    yield reg
    reg.close()


def test_migrate_copies_everything_and_checks_it(source, postgres_url, tmp_path):
    shared = tmp_path / "shared-artifacts"
    proc = subprocess.run([sys.executable, "-m", "fmc_jupyter", "migrate-registry", str(source.path), postgres_url,
                           "--artifacts", str(shared)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "counts and hashes match" in proc.stdout
    assert "fmc-test-password" not in proc.stdout + proc.stderr
    with PostgresRegistry(postgres_url, user="alice", artifacts=shared) as pg:
        for method, args in [("search", ("",)), ("runs", ()), ("datasets", ()), ("rankings", ()),
                             ("versions", ("xray-net",)), ("aliases", ("xray-net",)), ("comments", ("xray-net:v1",))]:
            a, b = getattr(source, method)(*args), getattr(pg, method)(*args)
            pd.testing.assert_frame_equal(b, a, check_dtype=False, obj=method)
        assert pg.model("xray-net@production").version == 2
        assert pg.model("xray-net:v2").parent_id == pg.model("xray-net:v1").id
        assert pg.search("medical 100%", limit=None).empty and len(pg.search("second", limit=None)) == 1
        v1 = pg.model("xray-net:v1")
        assert pg.artifact_path(v1).read_bytes() == source.artifact_path(source.model("xray-net:v1")).read_bytes()
        assert np.array_equal(pg.load_dataset("scans").x, source.load_dataset("scans").x)
        new_run = pg.start_run("xray-net")  # ids go on after the copied ones
        assert new_run > source.runs()["id"].max()
        assert pg.change_count() > 0


def test_migrate_refuses_a_database_in_use_and_changes_nothing(source, postgres_url, tmp_path):
    migrate_registry(source.path, postgres_url, artifacts=tmp_path / "a", progress=lambda _: None)
    with PostgresRegistry(postgres_url, user="alice", artifacts=tmp_path / "a") as pg:
        before = (len(pg.search("", limit=None)), pg.change_count())
        with pytest.raises(FmcError, match="already holds a registry.*new, empty database"):
            migrate_registry(source.path, postgres_url, artifacts=tmp_path / "a", progress=lambda _: None)
        assert (len(pg.search("", limit=None)), pg.change_count()) == before
    with pytest.raises(FmcError, match="postgresql:// URL"):
        migrate_registry(source.path, str(tmp_path / "other.db"))


def test_a_difference_fails_the_check():
    from fmc_jupyter.registry.postgres_migrate import MigrationReport, _table_digest

    assert _table_digest([(1, "a", 0.5)]) == _table_digest([(1.0, "a", 0.5)])  # SQLite/PostgreSQL number types
    assert _table_digest([(1, "a", 0.5)]) != _table_digest([(1, "a", 0.25)])
    bad = MigrationReport(tables={"models": (3, 3, False)})
    assert not bad.ok and "DIFFERENT" in "\n".join(bad.lines()) and "FAILED" in bad.lines()[-1]
    assert not MigrationReport(tables={"runs": (3, 2, True)}).ok
    assert not MigrationReport(artifact_problems=["models/ab/x: the copy differs"]).ok
