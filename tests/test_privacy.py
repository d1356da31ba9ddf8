"""Private means private, on every backend: what you may not see is indistinguishable from what does not exist.

One regression test per leak found on a team hub (issue 11), each run through the Python API of every backend
in ``_backends.BACKENDS`` (embedded, and the registry service over HTTP); the HTTP answers are compared too.
"""

from __future__ import annotations

import re

import pytest

from _backends import Pair, model_files, unique, users  # noqa: F401  (fixtures)
from fmc_jupyter.errors import FmcError, NotFoundError, PermissionDeniedError

MISSING = 10 ** 12  # an id nothing has


def refusal(call, *secrets: str) -> tuple[str, str]:
    """(error class, message with ``secrets`` and numbers blanked) of a call that must fail."""
    with pytest.raises(FmcError) as err:
        call()
    text = str(err.value)
    for secret in sorted((s for s in secrets if isinstance(s, str)), key=len, reverse=True):
        text = text.replace(secret, "<x>")
    return type(err.value).__name__, re.sub(r"\d+", "N", re.sub(r"-[0-9a-f]{8}\b", "-U", text))


def same_refusal(hidden, missing, *secrets: str) -> None:
    a, b = refusal(hidden, *secrets), refusal(missing, *secrets)
    assert a == b and a[0] == "NotFoundError", (a, b)


def test_another_users_private_run_cannot_be_named_by_a_new_model(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    run_id = bob.start_run("MobileNetV2", config={"secret": "bob's recipe"}, epochs=1)
    bob.log_epoch(run_id, 0, val_accuracy=0.9)
    before = alice.change_count()
    same_refusal(lambda: alice.add_model(model_files[0], unique("x"), run_id=run_id),
                 lambda: alice.add_model(model_files[0], unique("x"), run_id=MISSING), run_id, MISSING)
    assert alice.change_count() == before
    # and a public model that names its run never shows the run's facts to those who cannot see the run
    mine = alice.add_model(model_files[0], unique("mine"), visibility="public")
    assert bob.model(mine.id).run_id is None


def test_a_version_on_a_shared_line_copies_nothing_of_hidden_versions(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    base = alice.model("MobileNet_0.50_224")
    hidden = bob.add_model(model_files[1], parent=base, pretrained_on="bob-secret-data", license="bob-license")
    assert hidden.version == 2
    mine = alice.add_model(model_files[0], parent=base)
    assert (mine.version, mine.parent_id) == (2, base.id)  # no gap: bob's hidden v2 is not counted
    assert (mine.pretrained_on, mine.license) == (base.pretrained_on, base.license)
    assert list(alice.versions(mine)["version"]) == [2]
    assert set(alice.versions(mine)["owner"]) == {"alice"}


def test_a_private_name_is_no_oracle(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    secret = unique("secret-net")
    hidden = bob.add_model(model_files[1], secret)
    unused = unique("unused-net")
    taken_for_bob = alice.add_model(model_files[0], secret)  # succeeds exactly like an unused name
    free = alice.add_model(model_files[0], unused)
    assert (taken_for_bob.version, taken_for_bob.parent_id) == (free.version, free.parent_id) == (1, None)
    assert alice.model(secret).id == taken_for_bob.id != hidden.id
    nothing = unique("nothing")
    same_refusal(lambda: alice.model(f"bob/{secret}"), lambda: alice.model(f"bob/{nothing}"), secret, nothing)


def test_aliases_of_others_are_no_oracle(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    name = unique("team-line")
    v1 = alice.add_model(model_files[0], name, visibility="public")
    v2 = alice.add_model(model_files[1], name)  # private
    alice.set_alias(v2, "candidate")
    same_refusal(lambda: bob.remove_alias(f"alice/{name}", "candidate"),
                 lambda: bob.remove_alias(f"alice/{name}", "nosuchalias"), "candidate", "nosuchalias")
    same_refusal(lambda: bob.model(f"alice/{name}@candidate"), lambda: bob.model(f"alice/{name}@nosuchalias"),
                 "candidate", "nosuchalias")
    assert bob.aliases(f"alice/{name}").empty
    with pytest.raises(PermissionDeniedError):  # bob sees v1 but it is not his to alias
        bob.set_alias(v1, "candidate")
    assert alice.model(f"{name}@candidate").id == v2.id


def test_rankings_refuse_hidden_and_missing_models_alike(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    hidden = alice.add_model(model_files[0], unique("ranked"))
    before = bob.change_count()
    same_refusal(lambda: bob.save_ranking(None, "logme", [{"model_id": hidden.id, "rank": 1}]),
                 lambda: bob.save_ranking(None, "logme", [{"model_id": MISSING, "rank": 1}]), hidden.id, MISSING)
    assert bob.change_count() == before
    if users.hub is not None:  # the same HTTP answer too
        a = users.service_call("bob", "save_ranking", [None, "m", [{"model_id": hidden.id}]])
        b = users.service_call("bob", "save_ranking", [None, "m", [{"model_id": MISSING}]])
        assert a.status_code == b.status_code == 404
        assert a.json()["error"] == b.json()["error"] == "NotFoundError"


def test_public_results_of_private_bases_keep_the_base_and_run_private(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    base = alice.add_model(model_files[0], unique("private-base"))
    run_id = alice.start_run(base, config={"secret": "alice's recipe"}, epochs=1)
    alice.log_epoch(run_id, 0, val_accuracy=0.8)
    child = alice.add_model(model_files[1], unique("public-child"), parent=base, fork=True, run_id=run_id,
                            visibility="public")
    alice.update_run(run_id, outcome="kept_both", result_model_id=child.id)
    seen = bob.model(child.id)
    assert (seen.parent_id, seen.run_id) == (None, None)
    assert run_id not in set(bob.runs()["id"]) and base.name not in set(bob.runs()["model"].dropna())
    same_refusal(lambda: bob.run(run_id), lambda: bob.run(MISSING), run_id, MISSING)
    table = bob.versions(child.id)
    assert table[["parent_id", "parent_version", "run_id", "run_status", "metrics", "val_accuracy"]].isna().all().all()
    assert bob.ancestors(child.id) == []
    alice.publish(base)  # base and result both public: the run that links them is visible
    assert bob.run(run_id).config == {"secret": "alice's recipe"}
    assert bob.model(child.id).parent_id == base.id


def test_a_run_result_must_be_your_own_model(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    run_id = alice.start_run("MobileNetV2")
    hidden = bob.add_model(model_files[2], unique("bobs"))
    shown = bob.add_model(model_files[3], unique("bobs-public"), visibility="public")
    same_refusal(lambda: alice.update_run(run_id, result_model_id=hidden.id),
                 lambda: alice.update_run(run_id, result_model_id=MISSING), hidden.id, MISSING)
    with pytest.raises(PermissionDeniedError):
        alice.update_run(run_id, result_model_id=shown.id)
    assert alice.run(run_id).result_model_id is None


def test_comments_versions_and_checkpoints_of_hidden_models(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    hidden = alice.add_model(model_files[0], unique("quiet"))
    run_id = alice.start_run(hidden)
    alice.add_checkpoint(model_files[1], run_id, 0)
    for call in (lambda ref: bob.comments(ref), lambda ref: bob.add_comment(ref, "hi"),
                 lambda ref: bob.versions(ref), lambda ref: bob.aliases(ref), lambda ref: bob.ancestors(ref),
                 lambda ref: bob.start_run(ref), lambda ref: bob.add_evaluation(ref, None, accuracy=0.5),
                 lambda ref: bob.publish(ref), lambda ref: bob.delete_model(ref)):
        same_refusal(lambda: call(hidden.id), lambda: call(MISSING), hidden.id, MISSING)
    same_refusal(lambda: bob.checkpoints(run_id), lambda: bob.checkpoints(MISSING), run_id, MISSING)
    if users.hub is not None:
        a, b = users.service_call("bob", "model", [hidden.id]), users.service_call("bob", "model", [MISSING])
        assert a.status_code == b.status_code == 404
        assert re.sub(r"\d+", "N", a.text) == re.sub(r"\d+", "N", b.text)
        import requests

        for ref in (hidden.id, MISSING):
            r = requests.get(f"{users.hub.service_url()}api/models/{ref}/artifact",
                             headers={"Authorization": f"token {users.tokens['bob']}"}, timeout=60)
            assert r.status_code == 404


def test_search_never_shows_hidden_parents(users: Pair, model_files):
    alice, bob = users.alice, users.bob
    base = alice.add_model(model_files[0], unique("hidden-parent"))
    child = alice.add_model(model_files[1], unique("open-child"), parent=base, fork=True, visibility="public")
    row = bob.search(f"name={child.name}", limit=None)
    assert list(row["id"]) == [child.id] and row["parent_id"].isna().all()
    assert alice.search(f"name={child.name}")["parent_id"].tolist() == [base.id]


def test_records_of_private_models_are_no_oracle(users: Pair, model_files):
    """Runs and evaluations of alice's private model never reach bob through dataset records, best runs, the
    datasets the records vote draws on, or slice links: a dataset with only hidden records looks like one with none."""
    import numpy as np

    from fmc_jupyter.similarity import signature_from_features

    alice, bob = users.alice, users.bob
    rng = np.random.default_rng(7)
    datasets = [alice.add_dataset(rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8), np.arange(6) % 2,
                                  unique(name), ["a", "b"]) for name in ("alice-only", "no-records")]
    hidden_on, empty = datasets
    for record in datasets:
        alice.store_signature(record, signature_from_features(rng.normal(size=(6, 16)), np.arange(6) % 2))
    secret = alice.add_model(model_files[0], unique("secret"))
    run = alice.start_run(secret, hidden_on.id, learning_rate=0.0123, epochs=7, config={"unfreeze": 2})
    alice.log_epoch(run, 0, val_accuracy=0.97)
    alice.finish_run(run)
    alice.add_evaluation(secret, hidden_on.id, accuracy=0.99)
    child = alice.add_model(model_files[1], unique("open-child"), parent=secret, fork=True, run_id=run,
                            visibility="public")
    alice.update_run(run, result_model_id=child.id)        # a public result of a private base: the run stays hidden
    part = alice.record_slice(hidden_on, [0, 1])
    assert alice.dataset_records(hidden_on) == {secret.name: pytest.approx(0.99)}
    assert list(alice.best_runs(hidden_on)["run_id"]) == [run]
    for runs_only in (False, True):
        assert hidden_on.id in alice.datasets_with_records(runs_only)
        assert hidden_on.id not in bob.datasets_with_records(runs_only)
    assert bob.dataset_records(hidden_on) == bob.dataset_records(empty) == {}
    hidden_runs, no_runs = bob.best_runs(hidden_on), bob.best_runs(empty)
    assert hidden_runs.empty and list(hidden_runs.columns) == list(no_runs.columns)
    query = signature_from_features(rng.normal(size=(6, 16)), np.arange(6) % 2)
    assert bob.similar_datasets(query, among=bob.datasets_with_records(), compute=False).empty
    assert set(alice.similar_datasets(query, among=alice.datasets_with_records(), compute=False)["dataset_id"]) >= {
        hidden_on.id}
    same_refusal(lambda: bob.link_slice("runs", run, part), lambda: bob.link_slice("runs", MISSING, part),
                 run, MISSING)
    assert alice.run(run).history[0]["val_accuracy"] == pytest.approx(0.97)
    if users.hub is not None:  # the same HTTP answers too
        for method in ("dataset_records", "best_runs"):
            a, b = users.service_call("bob", method, [hidden_on.id]), users.service_call("bob", method, [empty.id])
            assert a.status_code == b.status_code == 200 and a.json() == b.json(), method
        listed = users.service_call("bob", "datasets_with_records", [False])
        assert listed.status_code == 200 and hidden_on.id not in listed.json()["result"]
        a = users.service_call("bob", "link_slice_id", ["runs", run, part.slice_id])
        b = users.service_call("bob", "link_slice_id", ["runs", MISSING, part.slice_id])
        assert a.status_code == b.status_code == 404
        assert re.sub(r"\d+", "N", a.text) == re.sub(r"\d+", "N", b.text)
