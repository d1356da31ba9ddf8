"""The registry contract: every backend in ``_backends.BACKENDS`` (embedded SQLite, the team service over HTTP,
later PostgreSQL) behaves the same through :class:`RegistryInterface`: same results, same errors, same rules."""

from __future__ import annotations

import numpy as np
import pytest

from _backends import Pair, model_files, unique, users  # noqa: F401  (fixtures)
from fmc_jupyter.errors import FmcError, InputError, NotFoundError, PermissionDeniedError
from fmc_jupyter.registry import Registry, RegistryInterface, RemoteRegistry
from fmc_jupyter.registry.postgres import PostgresRegistry


@pytest.mark.parametrize("cls", [Registry, RemoteRegistry, PostgresRegistry])
def test_every_backend_implements_the_whole_interface_explicitly(cls):
    assert issubclass(cls, RegistryInterface) and not cls.__abstractmethods__
    assert "__getattr__" not in vars(cls)  # no forwarding by method name
    for name in RegistryInterface.__abstractmethods__:
        assert getattr(cls, name) is not getattr(RegistryInterface, name), name


def test_who_and_what(users: Pair):
    assert (users.alice.user, users.bob.user) == ("alice", "bob")
    assert {1, 9, 10} <= set(users.alice.schema_version())
    assert isinstance(users.alice.change_count(), int)


def test_change_count_grows_with_every_write_and_only_then(users: Pair):
    alice, bob = users.alice, users.bob
    before = alice.change_count()
    alice.search("family=mobilenet", limit=3)
    alice.count()
    assert alice.change_count() == before  # reads change nothing
    comment = alice.add_comment("MobileNetV2", "a baseline")
    after = bob.change_count()  # every user sees every committed change
    assert after > before
    alice.delete_comment(comment)
    assert alice.change_count() > after


def test_search_count_and_their_arguments(users: Pair):
    reg = users.alice
    assert reg.count("owner=catalog") == 64 + 128  # Keras Applications + KerasHub presets
    top = reg.search("family=efficientnet", order_by="-top1", limit=3)
    assert list(top["name"]) == ["EfficientNetB7", "EfficientNetB6", "EfficientNetB5"]
    assert list(reg.search("family=efficientnet", order_by="-top1", limit=2, offset=1)["name"]) == [
        "EfficientNetB6", "EfficientNetB5"]
    assert list(reg.search("name=MobileNetV2", columns=["name", "top1"]).columns) == ["name", "top1"]
    for kwargs, message in [({"columns": ["bogus"]}, "unknown columns"), ({"columns": "name"}, "list of column"),
                            ({"limit": -1}, "limit"), ({"offset": -5}, "offset"), ({"limit": "ten"}, "limit"),
                            ({"limit": 2 ** 70}, "out of range"), ({"offset": 2 ** 63}, "out of range")]:
        with pytest.raises(InputError, match=message):
            reg.search("", **kwargs)
    with pytest.raises(FmcError, match="Did you mean 'MobileNetV2'"):
        reg.model("MobileNetV22")


def test_private_until_published_and_changed_only_by_its_owner(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    name = unique("private-net")
    record = alice.add_model(model_files[0], name, top1=81, tags=["x-ray", "small"], labels=["a", "b"],
                             description="alice's")
    assert (record.name, record.version, record.owner, record.visibility) == (name, 1, "alice", "private")
    assert record.top1 == pytest.approx(0.81) and record.tags == "x-ray,small" and record.labels == ["a", "b"]
    assert (record.line, record.full_ref) == (f"alice/{name}", f"alice/{name}:v1")
    assert alice.artifact_path(record).is_file()
    for ref in (record.id, name, f"alice/{name}", f"{name}:v1"):
        with pytest.raises(NotFoundError):
            bob.model(ref)
    assert bob.count(f"name={name}") == 0
    with pytest.raises(NotFoundError):
        bob.update_model(record.id, description="mine")
    alice.publish(record)
    seen = bob.model(name)  # bob has no line of that name and the catalog neither: alice's public one
    assert seen.id == record.id and bob.model(f"alice/{name}:v1").id == record.id
    assert bob.artifact_path(seen).read_bytes() == alice.artifact_path(record).read_bytes()
    with pytest.raises(PermissionDeniedError, match="belongs to alice"):
        bob.update_model(record.id, description="mine")
    with pytest.raises(PermissionDeniedError):
        bob.delete_model(record.id)
    assert alice.update_model(record.id, top1=0.5, labels=["c", "d"]).num_classes == 2
    alice.delete_model(record.id)
    with pytest.raises(NotFoundError):
        alice.model(record.id)


def test_lines_belong_to_their_owner_and_number_their_own_versions(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    name = unique("line")
    v1 = alice.add_model(model_files[0], name)
    v2 = alice.add_model(model_files[1], name)
    assert (v2.version, v2.parent_id) == (2, v1.id)
    assert list(alice.versions(name)["version"]) == [1, 2]
    mine = bob.add_model(model_files[2], name)  # alice's private name is not "taken" for bob
    assert (mine.line, mine.version, mine.parent_id) == (f"bob/{name}", 1, None)
    with pytest.raises(InputError, match="own model lines"):
        bob.add_model(model_files[2], f"alice/{name}")
    base = alice.model("MobileNet_0.25_224")
    derived = bob.add_model(model_files[3], parent=base)
    assert (derived.line, derived.version, derived.parent_id) == ("bob/MobileNet_0.25_224", 2, base.id)
    assert bob.model("MobileNet_0.25_224").id == derived.id  # own line first ...
    assert bob.model("MobileNet_0.25_224:v1").id == base.id  # ... then the catalog's
    assert [r.id for r in bob.ancestors(derived)] == [base.id]
    with pytest.raises(PermissionDeniedError, match="Catalog"):
        alice.update_model(base.id, description="x")


def test_runs_and_epochs(users: Pair):
    alice, bob = users.alice, users.bob
    run_id = alice.start_run("MobileNetV2", optimizer="adam", optimizer_config={"lr": 1e-3}, batch_size=32,
                             epochs=2, config={"seed": np.int64(1)})
    alice.log_epoch(run_id, 0, loss=1.0, accuracy=0.5, val_accuracy=0.25, note="first")
    alice.log_epoch(run_id, 1, loss=float("nan"), accuracy=0.75, val_accuracy=0.5)
    alice.finish_run(run_id, outcome="discarded")
    run = alice.run(run_id)
    assert run.status == "finished" and run.optimizer_config == {"lr": 1e-3} and run.config == {"seed": 1}
    assert [e["epoch"] for e in run.history] == [0, 1] and run.history[1]["loss"] is None
    assert run_id in set(alice.runs("MobileNetV2")["id"]) and run_id not in set(bob.runs()["id"])
    with pytest.raises(NotFoundError):
        bob.run(run_id)
    with pytest.raises(NotFoundError):
        bob.log_epoch(run_id, 2, loss=0.1)
    for call, message in [(lambda: alice.start_run("MobileNetV2", status="bogus"), "status"),
                          (lambda: alice.start_run("MobileNetV2", kind=None), "kind"),
                          (lambda: alice.start_run("MobileNetV2", owner="bob"), "unknown run fields"),
                          (lambda: alice.finish_run(run_id, "exploded"), "status"),
                          (lambda: alice.log_epoch(run_id, 2 ** 64, loss=1.0), "out of range"),
                          (lambda: alice.update_run(run_id, epochs=-1), "epochs"),
                          (lambda: alice.run("abc"), "whole number")]:
        with pytest.raises(InputError, match=message):
            call()


def test_aliases_and_comments(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    name = unique("aliased")
    v1 = alice.add_model(model_files[0], name, visibility="public")
    v2 = alice.add_model(model_files[1], name)
    alice.set_alias(v1, "production")
    assert bob.model(f"{name}@production").id == v1.id
    alice.set_alias(v2, "production")  # moved to a private version: bob no longer resolves it
    with pytest.raises(NotFoundError):
        bob.model(f"{name}@production")
    assert bob.aliases(name).empty and list(alice.aliases(name)["alias"]) == ["production"]
    with pytest.raises(PermissionDeniedError):
        bob.set_alias(v1, "mine")
    comment = bob.add_comment(v1.id, "works for me")
    assert list(alice.comments(v1.id)["author"]) == ["bob"]
    with pytest.raises(NotFoundError):
        alice.delete_comment(comment)
    with pytest.raises(NotFoundError):
        bob.comments(v2.id)
    alice.remove_alias(name, "production")
    assert alice.aliases(name).empty


def test_checkpoints_on_every_backend(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    base = alice.add_model(model_files[0], unique("ckpt"))
    run_id = alice.start_run(base, epochs=3)
    alice.log_epoch(run_id, 1, loss=0.9, val_accuracy=0.5)
    ckpt = alice.add_checkpoint(model_files[1], run_id, 1)
    assert (ckpt.name, ckpt.version, ckpt.parent_id, ckpt.run_id) == (base.name, 2, base.id, run_id)
    assert "checkpoint" in ckpt.tags
    table = alice.checkpoints(run_id)
    assert list(table["epoch"]) == [1] and list(table["model_id"]) == [ckpt.id]
    with pytest.raises(InputError, match="already registered"):
        alice.add_checkpoint(model_files[1], run_id, 1)
    with pytest.raises(NotFoundError):
        bob.add_checkpoint(model_files[2], run_id, 2)
    with pytest.raises(NotFoundError):
        bob.checkpoints(run_id)


def test_datasets_rankings_and_evaluations(users: Pair):
    alice, bob = users.alice, users.bob
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(6, 8, 8, 3), dtype=np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2])
    data = alice.add_dataset(x, y, unique("tiny-data"), ["a", "b", "c"])
    assert data.name in set(bob.datasets()["name"])
    np.testing.assert_array_equal(bob.load_dataset(data.name).x, x)
    ids = [int(i) for i in alice.search("family=mobilenet", order_by="params", limit=2)["id"]]
    ranking = alice.save_ranking(data.id, "logme", [{"model_id": ids[0], "rank": 1, "score": 0.5},
                                                    {"model_id": ids[1], "rank": 2, "score": 0.25}], per_class=2)
    table = alice.rankings(dataset=data.id)
    assert list(table["ranking_id"]) == [ranking, ranking] and list(table["model_id"]) == ids
    assert bob.rankings(dataset=data.id).empty  # rankings are their owner's
    alice.add_evaluation(ids[0], data.id, accuracy=75, loss=0.5, num_examples=6)  # percent -> fraction
    board = bob.leaderboard(data.id)
    assert list(board["model_id"]) == [ids[0]] and board["accuracy"][0] == pytest.approx(0.75)
    for call in (lambda: alice.add_evaluation(ids[0], data.id, accuracy="high"),
                 lambda: alice.add_evaluation(ids[0], data.id, accuracy=-0.5),
                 lambda: alice.save_ranking(data.id, "logme", [{"model_id": 2 ** 63}]),
                 lambda: alice.save_ranking(data.id, "logme", "not rows")):
        with pytest.raises(InputError):
            call()


def test_refused_calls_change_nothing(users: Pair, model_files):
    alice = users.alice
    name = unique("refused")
    before = alice.change_count()
    for call in (lambda: alice.add_model(model_files[0], name, top1="high"),
                 lambda: alice.add_model(model_files[0], name, tags=123),
                 lambda: alice.add_model(model_files[0], name, labels=5),
                 lambda: alice.add_model(model_files[0], name, top1=-0.5),
                 lambda: alice.add_model(model_files[0], name, run_id=10 ** 12),
                 lambda: alice.update_model("MobileNetV2", labels=5),
                 lambda: alice.start_run("MobileNetV2", batch_size=0),
                 lambda: alice.save_ranking(None, "m", [{"model_id": 10 ** 12}]),
                 lambda: alice.model(2 ** 64)):
        with pytest.raises(FmcError):
            call()
    assert alice.change_count() == before
    assert alice.count(f"name={name}") == 0
