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


# ---------------------------------------------------------------------- dataset identity and records (issue 16)
NAMES = ("cat", "dog", "fish")


def pixels(n: int = 12, seed: int | None = None):
    """``n`` random 8x8 RGB uint8 images with labels 0, 1, 2, 0, ... (fresh images unless ``seed`` is given)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8), np.arange(n) % 3


def test_arrays_are_identified_by_hashes_and_subsets_become_slices(users: Pair):
    alice, bob = users.alice, users.bob
    x, y = pixels()
    names = np.array(NAMES)[y]
    data = alice.add_dataset(x, y, unique("pets"), NAMES)
    found, new = bob.record_arrays(x, names)                     # equal arrays: the same dataset
    assert not new and found.id == data.id and found.slice_rows is None
    rows = [7, 2, 9, 4]
    other, other_y = pixels()
    before = (len(alice.datasets()), alice.change_count())
    peek, new = bob.record_arrays(x[rows], names[rows], save=False)
    assert (peek.id, peek.slice_rows, peek.slice_id, new) == (data.id, rows, None, False)
    assert bob.record_arrays(other, other_y, save=False) == (None, False)
    assert (len(alice.datasets()), alice.change_count()) == before   # save=False writes nothing
    part, new = bob.record_arrays(x[rows], names[rows])
    assert not new and part.id == data.id and part.slice_rows == rows and part.slice_id is not None
    assert part.label == f"{data.name} (slice: 4 of 12 images)"
    assert len(alice.datasets()) == before[0]                   # nothing new registered
    assert alice.dataset_slice(part.slice_id).slice_rows == rows
    assert alice.record_slice(data, np.array(rows)).slice_id == part.slice_id   # stored once
    ints, _ = alice.record_arrays(x[[1, 3]], y[[1, 3]])         # integer labels match the class ids
    assert ints.id == data.id and ints.slice_rows == [1, 3]
    mine, new = bob.record_arrays(other, other_y, name=unique("bobs-shots"))
    assert new and mine.num_examples == 12 and mine.created_by == "bob"
    evaluation = bob.add_evaluation("MobileNetV2", data.id, accuracy=0.5, num_examples=4)
    bob.link_slice("evaluations", evaluation, part)
    board = alice.leaderboard(data.id)
    assert list(board["slice"]) == [f"4 of 12 images (slice {part.slice_id})"]


def test_refused_identity_calls_change_nothing(users: Pair):
    alice, bob = users.alice, users.bob
    x, y = pixels()
    data = alice.add_dataset(x, y, unique("refusals"), NAMES)
    part = alice.record_slice(data, [0, 1, 2])
    evaluation = bob.add_evaluation("MobileNetV2", data.id, accuracy=0.5)
    other = alice.add_dataset(*pixels(), unique("else"), NAMES)
    elsewhere = alice.add_evaluation("MobileNetV2", other.id, accuracy=0.5)
    before = alice.change_count()
    for call, error, message in [
            (lambda: alice.record_slice(data, [0, 12]), InputError, "row numbers 0..11"),
            (lambda: alice.record_slice(data, []), InputError, "non-empty"),
            (lambda: alice.record_slice(data, [1, 1]), InputError, "distinct"),
            (lambda: alice.record_slice(data, ["a"]), InputError, "row numbers"),
            (lambda: alice.record_slice(10 ** 12, [0]), NotFoundError, "no dataset"),
            (lambda: alice.dataset_slice(10 ** 12), NotFoundError, "no dataset slice"),
            (lambda: alice.dataset_slice("one"), InputError, "whole number"),
            (lambda: alice.link_slice("evaluations", evaluation, part), NotFoundError, "you have no evaluation"),
            (lambda: alice.link_slice("evaluations", 10 ** 12, part), NotFoundError, "you have no evaluation"),
            (lambda: alice.link_slice("evaluations", elsewhere, part), InputError, "not on dataset"),
            (lambda: alice.link_slice("models", elsewhere, part), InputError, "can be linked to"),
            (lambda: alice.link_slice("runs", "x", part), InputError, "whole number"),
            (lambda: alice.link_slice("runs", 1, "slice"), InputError, "dataset record"),
            (lambda: alice.record_arrays(x, y, save="yes"), InputError, "save must be True or False"),
            (lambda: alice.record_arrays(*pixels(), name="no spaces!"), InputError, "dataset name"),
            (lambda: alice.record_arrays(x[:3], y[:2]), InputError, "must match"),
            (lambda: alice.best_runs(data, limit=0), InputError, "limit"),
            (lambda: alice.datasets_with_records(runs_only="no"), InputError, "runs_only"),
            (lambda: alice.dataset_records(10 ** 12), NotFoundError, "no dataset")]:
        with pytest.raises(error, match=message):
            call()
    assert alice.change_count() == before
    assert len(alice.datasets()) == len(bob.datasets())


def test_the_service_refuses_bad_identity_calls_with_json_4xx(users: Pair):
    if users.hub is None:
        pytest.skip("HTTP answers of the registry service (remote backends)")
    x, y = pixels()
    data = users.alice.add_dataset(x, y, unique("wire"), NAMES)
    good = {"content_hash": "0" * 64, "image_hashes": ["0" * 32], "image_shape": [8, 8, 3], "labels": [0],
            "class_names": ["a"]}
    before = users.alice.change_count()
    for method, args, kwargs, message in [
            ("match_hashes", [], {**good, "content_hash": "x"}, "content_hash"),
            ("record_hashes", [], {**good, "image_hashes": ["Z" * 32]}, "image_hashes"),
            ("record_hashes", [], {**good, "labels": [5]}, "labels"),
            ("match_hashes", [], {**good, "label_ids": [1, 2]}, "label_ids"),
            ("record_hashes", [], {**good, "image_shape": "8x8"}, "image_shape"),
            ("store_signature", [data.id, {"means": [[1.0]], "spreads": [-1.0], "counts": [1]}], {}, "spreads >= 0"),
            ("datasets_near", [{"means": "x", "spreads": [], "counts": []}], {}, "signature"),
            ("link_slice_id", ["models", 1, 1], {}, "can be linked"),
            ("record_slice", [data.id, [99]], {}, "row numbers"),
            ("dataset_signature", [data.id], {}, "no operation")]:
        answer = users.service_call("alice", method, args, kwargs)
        assert answer.status_code == 400 and answer.json()["error"] == "InputError", (method, answer.text)
        assert message in answer.json()["message"], (method, answer.text)
    assert users.alice.change_count() == before
    nothing = users.service_call("alice", "match_hashes", [], good)
    assert nothing.status_code == 200 and nothing.json() == {"result": None}


def blob_signature(shift: float, dim: int = 32, seed: int = 0):
    """A signature of 3 classes x 4 images of ``dim`` features, moved by ``shift`` (numpy only, no embedder)."""
    from fmc_jupyter.similarity import signature_from_features

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) + shift
    labels = np.arange(12) % 3
    return signature_from_features(centres[labels] + 0.05 * rng.normal(size=(12, dim)), labels)


def test_similar_datasets_by_stored_signatures_nearest_first(users: Pair):
    alice, bob = users.alice, users.bob
    near, middle, far, bare = (alice.add_dataset(*pixels(), unique(n), NAMES) for n in ("near", "mid", "far", "bare"))
    ids = [near.id, middle.id, far.id, bare.id]
    for record, shift in ((near, 0.1), (middle, 1.0), (far, 3.0)):
        assert alice.store_signature(record, blob_signature(shift)) is True
    assert bob.store_signature(near, blob_signature(5.0)) is False          # never replaced
    kept = bob.dataset_signature(near.id, compute=False)
    np.testing.assert_allclose(kept.means, blob_signature(0.1).means, atol=1e-5)
    assert bob.dataset_signature(bare, compute=False) is None
    found = bob.similar_datasets(blob_signature(0.0), k=2, among=ids, compute=False)
    assert list(found.columns) == ["dataset_id", "name", "distance", "num_classes", "num_examples"]
    assert list(found["dataset_id"]) == [near.id, middle.id] and found["distance"].is_monotonic_increasing
    by_name = alice.similar_datasets(near.name, k=5, among=set(ids), compute=False)   # itself left out
    assert list(by_name["name"]) == [middle.name, far.name]
    changes = alice.change_count()
    assert alice.similar_datasets(blob_signature(0.0).to_dict(), among=[bare.id], compute=False).empty
    assert alice.change_count() == changes
    refused = [(lambda: alice.store_signature(bare, {"means": [[float("nan")] * 32] * 3, "spreads": [0.1] * 3,
                                                      "counts": [4] * 3}), "finite"),
               (lambda: alice.store_signature(bare, {**blob_signature(0).to_dict(), "embedder": "mine"}), "embedder"),
               (lambda: alice.store_signature(bare, blob_signature(0, dim=16)), "features per class"),
               (lambda: alice.store_signature(bare, {**blob_signature(0).to_dict(), "counts": [40, 4, 4]}),
                "12 images"),
               (lambda: alice.store_signature(bare, {**blob_signature(0).to_dict(), "spreads": [0.1]}), "spreads"),
               (lambda: alice.store_signature(bare, "sig"), "must be a dataset signature"),
               (lambda: alice.similar_datasets(blob_signature(0), k=0), "k must be"),
               (lambda: alice.similar_datasets(blob_signature(0), among="all", compute=False), "among"),
               (lambda: alice.similar_datasets(blob_signature(0), [0, 1], compute=False), "y must be None"),
               (lambda: alice.similar_datasets(blob_signature(0, dim=16), among=ids, compute=False),
                "cannot be compared")]
    for call, message in refused:
        with pytest.raises(InputError, match=message):
            call()
    assert alice.change_count() == changes and bob.dataset_signature(bare, compute=False) is None


def test_dataset_records_and_best_runs_show_only_what_you_may_see(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    shared = alice.add_dataset(*pixels(), unique("shared"), NAMES)
    secret = alice.add_model(model_files[0], unique("secret-net"))          # private
    run = alice.start_run(secret, shared.id, learning_rate=0.01, epochs=2, config={"unfreeze": 3})
    alice.log_epoch(run, 0, val_accuracy=0.5)
    alice.log_epoch(run, 1, val_accuracy=0.9)
    alice.finish_run(run)
    alice.add_evaluation(secret, shared.id, accuracy=0.95)
    public = bob.start_run("MobileNetV2", shared.id, learning_rate=0.001, epochs=1)
    bob.log_epoch(public, 0, val_accuracy=0.6)
    bob.finish_run(public)
    assert alice.dataset_records(shared.id) == {secret.name: pytest.approx(0.95)}
    assert bob.dataset_records(shared) == {"MobileNetV2": pytest.approx(0.6)}
    best = alice.best_runs(shared.name)
    assert list(best.columns) == ["run_id", "model", "learning_rate", "epochs", "val_accuracy", "unfreeze"]
    assert list(best["run_id"]) == [run] and best.loc[0, "unfreeze"] == 3
    assert best.loc[0, "val_accuracy"] == pytest.approx(0.9) and best.loc[0, "learning_rate"] == pytest.approx(0.01)
    assert list(bob.best_runs(shared, limit=1)["run_id"]) == [public]
    assert shared.id in alice.datasets_with_records(runs_only=True)
    assert shared.id in bob.datasets_with_records()
