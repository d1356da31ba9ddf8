"""Values entering the registry are typed and range-checked in one place (registry/fields.py); bad paths, file
modes, the backend table of open_registry, the schema upgrade to owner namespaces, and TensorFlow's import order.

Every refusal is an FmcError subclass saying what was wrong, and leaves the registry (row counts, change counter)
and the artifact store exactly as they were.
"""

from __future__ import annotations

import inspect
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fmc_jupyter as fmc
from fmc_jupyter.errors import FmcError, InputError
from fmc_jupyter.registry import BACKENDS, Registry, open_registry
from fmc_jupyter.registry import fields

TABLES = ["models", "datasets", "runs", "epochs", "rankings", "ranking_scores", "evaluations", "aliases",
          "comments", "checkpoints"]


def snapshot(reg: Registry) -> tuple:
    """Row counts of every table, the change counter and the artifact tree."""
    counts = tuple(reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    files = tuple(sorted(str(p.relative_to(reg.artifacts_root)) for p in reg.artifacts_root.rglob("*"))) \
        if reg.artifacts_root.exists() else ()
    return counts, reg.change_count(), files


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    with Registry(tmp_path_factory.mktemp("fields") / "registry.db", user="alice") as registry:
        run_id = registry.start_run("MobileNetV2")
        registry.tiny_run = run_id
        yield registry


def test_the_checks_themselves():
    assert fields.integer("42", "id") == 42 and fields.integer(np.int64(7), "id") == 7
    for bad in (True, 1.5, "1e3", None, [1], 2 ** 63, -(2 ** 63) - 1):
        with pytest.raises(InputError):
            fields.integer(bad, "id")
    assert fields.fraction(81, "top1") == pytest.approx(0.81) and fields.fraction(0.5, "top1") == 0.5
    for bad in ("high", -0.5, 101, float("nan"), True):
        with pytest.raises(InputError):
            fields.fraction(bad, "top1")
    assert fields.tags(["a", " b "]) == "a,b" and fields.tags("x, y") == "x,y"
    with pytest.raises(InputError):
        fields.tags(123)
    with pytest.raises(InputError):
        fields.string_list("abc", "labels")
    assert fields.json_value({"a": np.float32(0.5), "b": np.arange(2), "c": float("inf")}, "m") == \
        {"a": 0.5, "b": [0, 1], "c": None}
    with pytest.raises(InputError, match="JSON"):
        fields.json_value({"f": object()}, "config")
    with pytest.raises(InputError, match="Unicode"):
        fields.text("\ud800", "description")


BAD_CALLS = [  # (call, message fragment)
    (lambda r: r.search(columns=["bogus"]), "unknown columns"),
    (lambda r: r.search(columns="name"), "list of column names"),
    (lambda r: r.search(limit=2.5), "whole number"),
    (lambda r: r.search(limit=-1), "at least 0"),
    (lambda r: r.search(offset=-5), "at least 0"),
    (lambda r: r.search(offset=2 ** 63), "out of range"),
    (lambda r: r.search(123), "query is text"),
    (lambda r: r.model(2 ** 63), "out of range"),
    (lambda r: r.model("MobileNetV2:v99999999999999999999999"), "out of range"),
    (lambda r: r.run("abc"), "whole number"),
    (lambda r: r.run(2 ** 64), "out of range"),
    (lambda r: r.dataset(2 ** 64), "out of range"),
    (lambda r: r.start_run("MobileNetV2", status="bogus"), "status"),
    (lambda r: r.start_run("MobileNetV2", kind=None), "kind"),
    (lambda r: r.start_run("MobileNetV2", kind="bogus"), "kind"),
    (lambda r: r.start_run("MobileNetV2", learning_rate="fast"), "number"),
    (lambda r: r.start_run("MobileNetV2", config=[1, 2]), "dict"),
    (lambda r: r.log_epoch(r.tiny_run, -1, loss=1.0), "at least 0"),
    (lambda r: r.log_epoch(r.tiny_run, 0, loss="low"), "number"),
    (lambda r: r.update_run(r.tiny_run, outcome="maybe"), "outcome"),
    (lambda r: r.update_run(r.tiny_run, result_model_id=2 ** 63), "out of range"),
    (lambda r: r.finish_run(r.tiny_run, "finished", duration_s=-3), "at least 0"),
    (lambda r: r.update_model(999_999, labels=5), "list of strings"),
    (lambda r: r.update_model("MobileNetV2", top1="high"), "accuracy"),
    (lambda r: r.update_model("MobileNetV2", owner="me"), "cannot change"),
    (lambda r: r.save_ranking(None, "m", [{"model_id": 1, "score": "good"}]), "number"),
    (lambda r: r.save_ranking(None, "m", [{"model_id": 1}, {"model_id": 1}]), "once"),
    (lambda r: r.save_ranking(None, "m", [{"model_id": 10 ** 12}]), "no model"),
    (lambda r: r.save_ranking(None, "m", [{"rank": 1}]), "model_id"),
    (lambda r: r.add_evaluation("MobileNetV2", None, accuracy="high"), "accuracy"),
    (lambda r: r.add_evaluation("MobileNetV2", None, accuracy=0.5, num_examples=-1), "at least 0"),
    (lambda r: r.add_comment("MobileNetV2", 5), "text"),
    (lambda r: r.set_alias("MobileNetV2", 5), "alias"),
    (lambda r: r.delete_comment("x"), "whole number"),
    (lambda r: r.add_model(123), "path"),
    (lambda r: r.add_dataset(np.zeros((2, 4, 4, 3)), [0, 1], "d", description=5), "description"),
]


@pytest.mark.parametrize("call,message", BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))])
def test_bad_values_are_clear_errors_and_change_nothing(reg, call, message):
    before = snapshot(reg)
    with pytest.raises(FmcError, match=message):
        call(reg)
    assert snapshot(reg) == before


def test_bad_model_fields_leave_no_file_behind(reg, tmp_path):
    pytest.importorskip("keras")
    from _keras_models import tiny_keras_model

    path = tiny_keras_model(tmp_path / "t.keras", classes=2)
    before = snapshot(reg)
    for kwargs in ({"top1": "high"}, {"top1": -0.5}, {"tags": 123}, {"labels": 5}, {"labels": ["a", 5]},
                   {"visibility": "everyone"}, {"facts": {"params": -1}}, {"run_id": 10 ** 9}, {"parent": 2 ** 63}):
        with pytest.raises(FmcError):
            reg.add_model(path, "checked", **kwargs)
    assert snapshot(reg) == before
    record = reg.add_model(path, "checked", top1=0.9, tags=("a", "b"), labels=["x", "y"])
    assert (record.top1, record.tags, record.labels) == (0.9, "a,b", ["x", "y"])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=3),
                    max_leaves=6)
REFS = st.sampled_from([1, 2, "MobileNetV2", "MobileNetV2:v1", "alice/x", "bob/y@prod", 2 ** 63, -1, 0]) | JSON
WRITES = ["add_model", "add_checkpoint", "publish", "unpublish", "update_model", "delete_model", "set_alias",
          "remove_alias", "add_comment", "delete_comment", "start_run", "log_epoch", "update_run", "finish_run",
          "save_ranking", "add_evaluation", "add_dataset"]
KEYWORDS = ["name", "parent", "visibility", "top1", "tags", "labels", "run_id", "facts", "description", "kind",
            "status", "epochs", "batch_size", "config", "metrics", "result_model_id", "outcome", "accuracy", "loss",
            "per_class", "seed", "loss", "val_accuracy", "epoch", "class_names", "owner", "fork"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(WRITES), args=st.lists(REFS, max_size=3),
       kwargs=st.dictionaries(st.sampled_from(KEYWORDS) | st.text(max_size=8), JSON, max_size=3))
def test_write_methods_raise_only_fmc_errors_and_refusals_change_nothing(reg, method, args, kwargs):
    fn = getattr(reg, method)
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return  # not a call Python can make; the service answers it with an InputError before calling
    before = snapshot(reg)
    try:
        fn(*args, **kwargs)
    except FmcError:
        assert snapshot(reg) == before
    # anything else (TypeError, OverflowError, sqlite3 errors, ...) fails the test


@pytest.mark.parametrize("make,message", [
    (lambda tmp: (tmp / "plain.txt").write_text("x") and tmp / "plain.txt" / "registry.db", "is a file"),
    (lambda tmp: (tmp / "notes.db").write_text("not a database") and tmp / "notes.db", "not an SQLite"),
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: (tmp / "junk.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 200) and tmp / "junk.db",
     "not a Find My CNN registry"),
], ids=["under-a-file", "text-file", "directory", "corrupt-sqlite"])
def test_bad_registry_paths_are_clear_errors(tmp_path, make, message):
    target = make(tmp_path)
    with pytest.raises(FmcError, match=message):
        open_registry(target, user="alice")


def test_open_registry_picks_the_backend_from_the_target(tmp_path, monkeypatch):
    monkeypatch.delenv("FMC_REGISTRY_URL", raising=False)
    with open_registry(f"sqlite:///{tmp_path}/a.db", user="alice") as reg:
        assert isinstance(reg, Registry) and reg.path == (tmp_path / "a.db").resolve()
    with open_registry(tmp_path / "b.db", user="alice") as reg, open_registry(path=str(tmp_path / "b.db")) as old:
        assert reg.path == old.path
    with pytest.raises(FmcError, match="cannot reach PostgreSQL"):  # the scheme table picks the PostgreSQL backend
        open_registry("postgresql://nobody@127.0.0.1:1/fmc")
    with pytest.raises(FmcError, match="no registry backend for 'ftp://'"):
        open_registry("ftp://example.org/x")
    with pytest.raises(FmcError):
        open_registry(123)
    assert {"path", "sqlite", "hub", "http", "https", "postgresql"} <= set(BACKENDS)
    monkeypatch.setitem(BACKENDS, "memo", lambda target, user: ("picked", target, user))
    assert open_registry("memo://x", user="u") == ("picked", "memo://x", "u")  # one entry adds a backend


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode,dirs,files", [("private", 0o700, 0o600), ("group", 0o2770, 0o660)])
def test_registry_files_are_private_unless_shared_with_a_group(tmp_path, monkeypatch, mode, dirs, files):
    monkeypatch.setenv("FMC_REGISTRY_MODE", mode)
    old = os.umask(0o022)
    try:
        path = tmp_path / "team" / "registry.db"
        with Registry(path, user="alice") as reg:
            reg.add_dataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 1], "zeros")
            assert _mode(path.parent) == dirs
            for f in [path, Path(f"{path}-wal"), Path(f"{path}-shm")]:
                assert _mode(f) == files, f
            stored = list(reg.artifacts_root.rglob("*"))
            assert stored and all(_mode(p) == (dirs if p.is_dir() else files) for p in stored)
    finally:
        os.umask(old)
    monkeypatch.setenv("FMC_REGISTRY_MODE", "everyone")
    with pytest.raises(FmcError, match="FMC_REGISTRY_MODE"):
        Registry(tmp_path / "other.db", user="alice")


def test_an_old_registry_is_upgraded_to_owner_namespaces(tmp_path, monkeypatch):
    """A file made before migration 9 (lines keyed by name alone) keeps its ids, versions and aliases."""
    import fmc_jupyter.registry.registry as module
    from fmc_jupyter.registry.schema import MIGRATIONS

    path = tmp_path / "old.db"
    monkeypatch.setattr(module, "MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 8])
    with Registry(path, user="bob") as old:
        conn = old.db.conn
        conn.execute("INSERT INTO models (name, version, source_kind, owner, visibility, pretrained_on) "
                     "VALUES ('MobileNetV2', 2, 'keras_file', 'bob', 'private', 'bob-data')")
        bob_v2 = conn.execute("SELECT max(id) FROM models").fetchone()[0]
        conn.execute("INSERT INTO aliases (name, alias, model_id, set_by) VALUES ('MobileNetV2', 'prod', ?, 'bob')",
                     [bob_v2])
        conn.execute("INSERT INTO runs (model_id, owner) VALUES (?, 'bob')", [bob_v2])
    monkeypatch.undo()
    with Registry(path, user="bob") as bob, Registry(path, user="alice") as alice:
        assert {9, 10} <= set(bob.schema_version())
        record = bob.model("MobileNetV2")
        assert (record.id, record.line, record.version) == (bob_v2, "bob/MobileNetV2", 2)
        assert bob.model("MobileNetV2@prod").id == bob_v2 and len(bob.runs()) == 1
        assert alice.model("MobileNetV2").owner == "catalog" and alice.count() == 64 + 128
        assert list(bob.search("MobileNetV2 and owner=bob")["id"]) == [bob_v2]  # full-text index intact
        mine = alice.db.execute("PRAGMA foreign_key_check").fetchall()
        assert mine == [] and alice.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("first", ["tensorflow", "fmc_jupyter"])
def test_word_search_works_whatever_the_import_order(tmp_path, first):
    pytest.importorskip("tensorflow")
    second = "fmc_jupyter" if first == "tensorflow" else "tensorflow"
    script = (f"import {first}, {second}\n"
              "from fmc_jupyter.registry import Registry\n"
              f"reg = Registry({str(tmp_path / 'r.db')!r}, user='alice')\n"
              "print(sorted(reg.search('mobilenet', limit=None)['name'])[:2], reg.count('efficientnet'))\n")
    env = {**os.environ, "PYTHONPATH": str(Path(fmc.__file__).parents[1]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "['MobileNet', 'MobileNetV2']" in out.stdout and out.stdout.split()[-1] == "31", out.stdout  # 15 + 16 KerasHub
