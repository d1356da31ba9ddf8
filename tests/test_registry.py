"""The embedded registry: schema and seeding, models, versions, visibility, artifacts."""

from __future__ import annotations

import contextlib
import csv
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fmc_jupyter as fmc
from fmc_jupyter.config import default_registry_path
from fmc_jupyter.errors import InputError, ModelLoadError, NotFoundError, PermissionDeniedError
from fmc_jupyter.registry import Registry, network_filesystem
from fmc_jupyter.registry.artifacts import sha256_file, write_atomic
from fmc_jupyter.registry.schema import MIGRATIONS
from _keras_models import tiny_keras_model

ALL_MIGRATIONS = [number for number, _ in MIGRATIONS]

PACKAGE_CSV = Path(fmc.__file__).parent / "catalog" / "keras_applications.csv"
HUB_CSV = Path(fmc.__file__).parent / "catalog" / "kerashub_presets.csv"
CATALOG_SIZE = 64 + 128  # Keras Applications + KerasHub presets


def test_first_open_creates_schema_and_seeds_catalog(tmp_registry):
    assert tmp_registry.schema_version() == ALL_MIGRATIONS
    assert tmp_registry.count() == CATALOG_SIZE
    rows = list(csv.DictReader(PACKAGE_CSV.open()))
    assert len(rows) == 64 and len(list(csv.DictReader(HUB_CSV.open()))) == 128
    for name in ("MobileNetV3Small", "MobileNetV3LargeMinimalistic", "MobileNet_0.25_128", "MobileNetV2_1.4_224"):
        assert tmp_registry.model(name).source_kind == "keras_application"


def test_catalog_matches_the_published_keras_table(tmp_registry, shared_data):
    for row in csv.DictReader((shared_data / "keras_applications.csv").open()):
        record = tmp_registry.model(row["model"])
        assert record.source["constructor"] == row["model"]
        assert record.params == pytest.approx(float(row["params_millions"]) * 1e6, rel=1e-6)
        assert record.top1 == pytest.approx(float(row["top1"]) / 100)
        assert record.input_size == int(row["default_input_size"])
        assert record.visibility == "public" and record.owner == "catalog"
        assert record.pretrained_on == "imagenet" and record.license and record.preprocessing


def test_reopening_applies_no_migration_twice(registry_path):
    with Registry(registry_path, user="alice") as reg:
        first = reg.count()
    with Registry(registry_path, user="alice") as reg:
        assert reg.count() == first == CATALOG_SIZE
        assert reg.schema_version() == ALL_MIGRATIONS


def _open_and_count(path: str) -> int:
    with Registry(path, user="worker") as reg:
        return reg.count()


def test_concurrent_first_opens_create_one_schema(tmp_path):
    path = str(tmp_path / "new.db")
    with mp.get_context("spawn").Pool(4) as pool:
        counts = pool.map(_open_and_count, [path] * 8)
    assert counts == [CATALOG_SIZE] * 8


def _write_runs(args: tuple[str, str, int]) -> int:
    path, user, n = args
    with Registry(path, user=user) as reg:
        for i in range(n):
            run_id = reg.start_run("MobileNetV2", optimizer="adam", batch_size=32)
            reg.log_epoch(run_id, 0, loss=1.0, accuracy=0.5)
            reg.finish_run(run_id)
    return n


def test_concurrent_writers_lose_nothing(registry_path):
    Registry(registry_path, user="alice").close()
    with mp.get_context("spawn").Pool(4) as pool:
        done = pool.map(_write_runs, [(str(registry_path), f"u{i}", 25) for i in range(4)])
    with Registry(registry_path, user="alice") as reg:
        assert reg.db.execute("SELECT count(*) FROM runs WHERE status = 'finished'").fetchone()[0] == sum(done) == 100
        assert reg.db.execute("SELECT count(*) FROM epochs").fetchone()[0] == 100


_OPEN_COUNT_CLOSE = ("import sys; from fmc_jupyter.registry import Registry; reg = Registry(sys.argv[1], user='bob'); "
                     "print(reg.db.execute('SELECT count(*) FROM runs').fetchone()[0]); reg.close()")


def _runs_seen_by_another_process(path: Path) -> int:
    """Open the registry in a new process, count its runs and close it (that process's last connection)."""
    done = subprocess.run([sys.executable, "-c", _OPEN_COUNT_CLOSE, str(path)], capture_output=True, text=True,
                          check=True, timeout=120)
    return int(done.stdout)


def test_opening_the_registry_again_keeps_this_process_writes_visible(registry_path):
    """A second open in a process (a Jupyter server's next worker thread, a second handle in a kernel) must not
    drop the process's SQLite locks (POSIX locks die with ANY closed descriptor of the file): else another process
    closing its last connection deletes the WAL this process still writes to, and its commits are lost."""
    with Registry(registry_path, user="alice") as writer:
        writer.count()
        Registry(registry_path, user="alice").close()
        assert _runs_seen_by_another_process(registry_path) == 0
        assert Path(f"{registry_path}-wal").exists()  # still this process's, in use
        writer.start_run("MobileNetV2", optimizer="adam")
        assert _runs_seen_by_another_process(registry_path) == 1


def test_default_path_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FMC_REGISTRY", str(tmp_path / "x" / "r.db"))
    assert default_registry_path() == tmp_path / "x" / "r.db"
    with fmc.open_registry() as reg:
        assert reg.path == (tmp_path / "x" / "r.db").resolve()
    with pytest.raises(fmc.FmcError):
        fmc.open_registry(123)


def test_add_keras_model_is_private_and_stored_atomically(tmp_registry, bob_registry, tmp_path):
    path = tiny_keras_model(tmp_path / "tiny.keras", classes=3)
    record = tmp_registry.add_model(path, "tiny", domain="medical", labels=["a", "b", "c"], top1=81)
    assert (record.name, record.version, record.owner, record.visibility) == ("tiny", 1, "alice", "private")
    assert record.source_kind == "keras_file" and record.num_classes == 3 and record.input_size == 32
    assert record.params == 4 * 27 + 4 + 4 * 3 + 3 and record.top1 == pytest.approx(0.81)
    stored = tmp_registry.artifact_path(record)
    assert stored.is_file() and sha256_file(stored) == record.sha256 == sha256_file(path)
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    assert len(tmp_registry.search("domain=medical and owner=alice")) == 1
    # bob sees nothing of it, whichever way he asks (the catalog's medical model, MedSigLIP, is public)
    assert list(bob_registry.search("domain=medical")["name"]) == ["medsiglip_900m_448"]
    assert len(bob_registry.search("tiny and owner=alice")) == 0
    with pytest.raises(NotFoundError):
        bob_registry.model(record.id)
    with pytest.raises(NotFoundError):
        bob_registry.model("tiny")
    tmp_registry.publish("tiny")
    assert bob_registry.model("tiny").id == record.id
    with pytest.raises(PermissionDeniedError):
        bob_registry.unpublish("tiny")
    with pytest.raises(PermissionDeniedError):
        bob_registry.delete_model("tiny")
    with pytest.raises(PermissionDeniedError, match="Catalog entries"):
        tmp_registry.delete_model("MobileNetV2")


def test_model_with_code_is_refused(tmp_registry, tmp_path):
    path = tiny_keras_model(tmp_path / "evil.keras", lambda_layer=True)
    before = tmp_registry.count()
    with pytest.raises(ModelLoadError, match="refused"):
        tmp_registry.add_model(path, "evil")
    assert tmp_registry.count() == before
    assert not (tmp_registry.artifacts_root / "models").exists()


def test_versions_link_to_their_parent(tmp_registry, bob_registry, tmp_path):
    v1 = tmp_registry.add_model(tiny_keras_model(tmp_path / "a.keras"), "line")
    v2 = tmp_registry.add_model(tiny_keras_model(tmp_path / "b.keras", classes=4), "line")
    assert (v2.version, v2.parent_id) == (2, v1.id)
    assert tmp_registry.model("line").id == v2.id
    assert tmp_registry.model("line:v1").id == v1.id
    assert list(tmp_registry.versions("line")["version"]) == [1, 2]
    # alice's private name is no oracle: bob's "line" is his own line bob/line, numbered on its own
    bob_line = bob_registry.add_model(tmp_path / "a.keras", "line")
    assert (bob_line.line, bob_line.version, bob_line.parent_id) == ("bob/line", 1, None)
    assert bob_registry.model("line").id == bob_line.id and tmp_registry.model("line").id == v2.id
    assert list(bob_registry.versions("line")["version"]) == [1]
    # a version derived from a catalog model joins the user's own line of that name, continuing its number
    v = bob_registry.add_model(tmp_path / "a.keras", parent="MobileNetV2")
    assert (v.name, v.version, v.owner, v.line, v.full_ref) == ("MobileNetV2", 2, "bob", "bob/MobileNetV2",
                                                                "bob/MobileNetV2:v2")
    assert bob_registry.model("MobileNetV2").id == v.id  # own line first
    assert bob_registry.model("MobileNetV2:v1").owner == "catalog"  # then the catalog's
    assert tmp_registry.model("MobileNetV2").version == 1  # alice does not see bob's private version
    w = tmp_registry.add_model(tmp_path / "a.keras", parent="MobileNetV2")
    assert (w.line, w.version) == ("alice/MobileNetV2", 2)  # no gap: bob's hidden v2 counts for nothing


def test_delete_model_deletes_its_runs_not_datasets(tmp_registry, tmp_path):
    record = tmp_registry.add_model(tiny_keras_model(tmp_path / "a.keras"), "gone")
    data = tmp_registry.add_dataset(np.zeros((4, 8, 8, 3), np.uint8), [0, 1, 0, 1], "d")
    run_id = tmp_registry.start_run(record.id, data.id, optimizer="adam")
    tmp_registry.log_epoch(run_id, 0, loss=0.5)
    tmp_registry.delete_model(record.id)
    assert tmp_registry.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert tmp_registry.db.execute("SELECT count(*) FROM epochs").fetchone()[0] == 0
    assert tmp_registry.dataset("d").id == data.id
    assert not tmp_registry.artifacts_root.joinpath(record.artifact).exists()


def test_add_user_h5_and_tflite_models(tmp_registry, shared_data, tmp_path):
    import keras

    weights = shared_data / "models" / "mobilenet025_catvsdog.h5"
    with pytest.raises(ModelLoadError, match="only weights"):
        tmp_registry.add_model(weights, "catvsdog")
    # what a user does with a Keras-2 weights file: rebuild the architecture, load, save whole, register
    model = keras.applications.MobileNet(alpha=0.25, classes=2, weights=None, input_shape=(224, 224, 3))
    model.load_weights(weights)
    model.save(tmp_path / "catvsdog.h5")
    h5 = tmp_registry.add_model(tmp_path / "catvsdog.h5", "catvsdog", labels=["cat", "dog"])
    assert h5.source_kind == "keras_file" and h5.num_classes == 2 and h5.input_size == 224 and h5.params > 200_000
    tfl = tmp_registry.add_model(shared_data / "models" / "tflite" / "mobilenet_v2_1.0_224_inat_bird_quant.tflite",
                                 "birds", domain="birds")
    assert tfl.source_kind == "tflite_file" and tfl.input_size == 224 and tfl.num_classes == 965
    assert tfl.source["input_dtype"] == "uint8"
    assert list(tmp_registry.search("domain=birds")["name"]) == ["birds"]


def test_bad_model_inputs(tmp_registry, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tmp_registry.add_model(tmp_path / "missing.keras")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelLoadError, match="unsupported"):
        tmp_registry.add_model(tmp_path / "notes.txt")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a Keras archive"):
        tmp_registry.add_model(tmp_path / "broken.keras")
    with pytest.raises(NotFoundError, match="Did you mean 'MobileNetV2'"):
        tmp_registry.model("MobileNetV22")
    with pytest.raises(InputError):
        tmp_registry.model(None)


def test_runs_record_every_epoch_and_stay_private(tmp_registry, bob_registry):
    run_id = tmp_registry.start_run("MobileNetV2", optimizer="adam", optimizer_config={"lr": 1e-3}, batch_size=32)
    for epoch in range(3):
        tmp_registry.log_epoch(run_id, epoch, loss=1.0 / (epoch + 1), accuracy=0.3 * epoch, val_accuracy=0.2 * epoch)
    tmp_registry.finish_run(run_id, "interrupted", error="KeyboardInterrupt")
    run = tmp_registry.run(run_id)
    assert run.status == "interrupted" and run.optimizer_config == {"lr": 1e-3} and run.duration_s >= 0
    assert [e["epoch"] for e in run.history] == [0, 1, 2]
    assert tmp_registry.runs("MobileNetV2")["best_val_accuracy"].iloc[0] == pytest.approx(0.4)
    assert len(bob_registry.runs()) == 0
    with pytest.raises(NotFoundError):
        bob_registry.run(run_id)
    with pytest.raises(NotFoundError):
        bob_registry.log_epoch(run_id, 9, loss=0.0)
    with pytest.raises(InputError):
        tmp_registry.finish_run(run_id, "exploded")


def test_network_filesystem_detection():
    mounts = "server:/export /home nfs4 rw 0 0\n/dev/vda / ext4 rw 0 0\nsshfs#x /mnt/s fuse.sshfs rw 0 0\n"
    assert network_filesystem(Path("/home/alice/reg.db"), mounts) == "nfs4"
    assert network_filesystem(Path("/mnt/s/reg.db"), mounts) == "fuse.sshfs"
    assert network_filesystem(Path("/tmp/reg.db"), mounts) is None


def test_write_atomic_leaves_nothing_on_failure(tmp_path):
    def explode(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "final.bin", explode)
    assert list(tmp_path.iterdir()) == []
    write_atomic(tmp_path / "final.bin", lambda fh: fh.write(b"whole"))
    assert (tmp_path / "final.bin").read_bytes() == b"whole" and len(list(tmp_path.iterdir())) == 1


def test_search_orders_limits_and_pages(tmp_registry):
    top = tmp_registry.search("family=efficientnet", order_by="-top1", limit=3)
    assert list(top["name"]) == ["EfficientNetB7", "EfficientNetB6", "EfficientNetB5"]
    page2 = tmp_registry.search("family=efficientnet", order_by="-top1", limit=3, offset=3)
    assert list(page2["name"])[0] == "EfficientNetB4"
    assert tmp_registry.count("params<5M and top1>=70%") == len(tmp_registry.search("params<5M and top1>=70%", limit=None))
    hits = tmp_registry.search("domain=natural and params<5M and (top1>=75% or family=mobilenet)", limit=None)
    assert len(hits) and all(hits["params"] < 5e6)
    assert all((hits["top1"] >= 0.75) | (hits["family"] == "mobilenet"))


def test_registry_on_network_filesystem_warns(monkeypatch, tmp_path):
    import fmc_jupyter.registry.registry as module

    monkeypatch.setattr(module, "network_filesystem", lambda path: "nfs4")
    with pytest.warns(fmc.errors.FmcWarning, match="network filesystem"):
        Registry(tmp_path / "r.db", user="alice").close()


def force_search_plan(reg, monkeypatch, plan: str) -> None:
    """Make ``reg.search`` take one plan: ``filter`` (filters' indexes, then a sort) or ``order`` (walk the ORDER
    BY index with no budget; ``order in a transaction``: the same, asking the full-text index for each word instead
    of the connection's listing of its matches), on either backend."""
    import fmc_jupyter.registry.postgres as pg_module
    import fmc_jupyter.registry.registry as module

    if plan == "filter":
        monkeypatch.setattr(type(reg), "_broad_words", lambda self, query, listed=None: None)
    else:
        monkeypatch.setattr(type(reg), "_broad_words", lambda self, query, listed=None: True)
        monkeypatch.setattr(module, "_ORDER_SCAN_BUDGET_TEXT", 10**9)
        monkeypatch.setattr(module, "_ORDER_SCAN_BUDGET", 10**9)
        monkeypatch.setattr(pg_module, "ORDER_SCAN_BUDGET_MS", 10**6)


SHAPES = [("hay and params<1M", None), ("needle", None), ("family=mobilenet", "params"),
          ("input=224px and top1>=50%", "-params"), ("input=224px and top1>=50% and size<=0.5MB", "-top1"),
          ("domain=medical or params<20K", "-size"), ("not family=resnet and hay", "cpu_ms"), ("", "-top1"),
          ("family=mobilenet and top1>=90%", None), ("synthetic", "input")]


def test_listed_words_follow_every_change_to_the_models(tmp_path, monkeypatch):
    """The order-driven walk reads a word's matches from the connection's listing (registry/word_hits.py): a model
    added, renamed or deleted here or through another connection is found (or gone) at the next search."""
    path = tmp_path / "words.db"
    reg, other = Registry(path, user="alice"), Registry(path, user="alice")
    reg.insert_models([{"name": f"m-{i}", "source_kind": "keras_file", "top1": i / 100, "description": "hay",
                        "owner": "alice", "visibility": "public"} for i in range(50)])
    force_search_plan(reg, monkeypatch, "order")
    assert len(reg.search("hay", limit=100)) == 50
    assert reg.search("needle").empty
    assert reg._word_hits.counts  # listed
    other.update_model(reg.search("hay", limit=1)["id"][0], description="needle")
    assert list(reg.search("needle")["description"]) == ["needle"]
    assert len(reg.search("hay", limit=100)) == 49
    reg.insert_models([{"name": "needle-2", "source_kind": "keras_file", "top1": 0.99, "owner": "alice",
                        "visibility": "public"}])
    assert list(reg.search("needle")["name"]) == ["needle-2", "m-49"]
    other.delete_model("needle-2")
    assert list(reg.search("needle")["name"]) == ["m-49"]
    other.close()
    reg.close()


def test_a_walk_that_ran_past_its_budget_is_not_tried_again_for_a_while(tmp_path, monkeypatch):
    import fmc_jupyter.registry.registry as module

    reg = Registry(tmp_path / "walks.db", user="alice")
    reg.insert_models([{"name": f"m-{i}", "source_kind": "keras_file", "top1": i / 3000, "params": i,
                        "owner": "alice", "visibility": "public"} for i in range(3000)])
    monkeypatch.setattr(module, "_ORDER_SCAN_BUDGET", 1)      # 1,000 VM steps: too few to walk far
    walks = []
    within = Registry._within_budget
    monkeypatch.setattr(Registry, "_within_budget", lambda self, call, budget: walks.append(1) or
                        within(self, call, budget))
    expected = reg.search("params<3", order_by="-top1")["name"].tolist()
    assert expected == ["m-2", "m-1", "m-0"] and len(walks) == 1          # walked, ran out, the filters answered
    assert reg.search("params<3", order_by="-top1")["name"].tolist() == expected and len(walks) == 1
    reg.search("params<3", order_by="top1")
    assert len(walks) == 2                                                  # another order: walked again
    monkeypatch.setattr(Registry, "_LOST_WALK_S", 0.0)
    reg.search("params<3", order_by="-top1")
    assert len(walks) == 3                                                  # a minute later: tried again
    reg.close()


def test_both_search_plans_give_the_same_answers(tmp_registry, monkeypatch):
    rows = [{"name": f"synthetic-{i}", "family": ["mobilenet", "resnet"][i % 2], "source_kind": "keras_file",
             "top1": (i % 997) / 1000, "params": i * 1000, "size_mb": (i % 13) / 10, "input_size": [224, 96][i % 3 > 0],
             "domain": ["natural", "medical"][i % 5 == 0], "cpu_ms": float(i % 7),
             "description": "needle" if i == 1234 else "hay", "visibility": "public"} for i in range(3000)]
    tmp_registry.insert_models(rows)
    answers = {}
    for plan in ("filter", "order", "order in a transaction"):
        with monkeypatch.context() as patch, \
                tmp_registry.transaction() if plan.endswith("transaction") else contextlib.nullcontext():
            force_search_plan(tmp_registry, patch, plan)
            assert list(tmp_registry.search("needle")["name"]) == ["synthetic-1234"]
            top = tmp_registry.search("hay and params<1M", limit=5)
            assert list(top["top1"]) == [0.996, 0.995, 0.994, 0.993, 0.992]
            assert list(tmp_registry.search("hay", order_by="params", limit=3, offset=2)["name"]) == [
                "synthetic-2", "synthetic-3", "synthetic-4"]
            answers[plan] = {(q, o): [list(tmp_registry.search(q, order_by=o, limit=7, offset=page * 7)["id"])
                                      for page in range(3)] for q, o in SHAPES}
    assert answers["filter"] == answers["order"] == answers["order in a transaction"]
    for pages in answers["filter"].values():  # ties (equal sizes, equal latencies) never repeat a row across pages
        ids = [i for page in pages for i in page]
        assert len(ids) == len(set(ids))
    assert list(tmp_registry.search("", limit=7)["id"]) == list(tmp_registry.search("", "-top1,name", limit=7)["id"])
