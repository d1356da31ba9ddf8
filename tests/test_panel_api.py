"""The REST routes of the panel's views (model page, diff view, datasets, quick filters), through a real
jupyter_server (pytest-jupyter ``jp_fetch``) on a real registry file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tornado.httpclient
from jupyter_server.auth.identity import IdentityProvider, User

from fmc_jupyter.registry import Registry
from fmc_jupyter.modeldiff import fold_layers
from fmc_jupyter.server.diff_worker import shutdown
from _keras_models import tiny_keras_model

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TOKENS = {"alice-secret": "alice", "bob-secret": "bob"}
ALICE = {"Authorization": "token alice-secret"}
BOB = {"Authorization": "token bob-secret"}


class TwoUsers(IdentityProvider):
    """A hub-like identity provider: each token names one user (as JupyterHub's does)."""

    def get_user(self, handler):
        token = handler.request.headers.get("Authorization", "").removeprefix("token ").strip()
        if token not in TOKENS:
            return None
        handler._token_authenticated = True
        return User(username=TOKENS[token])


@pytest.fixture
def seeded(tmp_path):
    """alice's private line v1 -> v2 (made by a run with an HTML report), a dataset with an evaluation of v2,
    a public model of bob's."""
    path = tmp_path / "registry" / "registry.db"
    report = tmp_path / "run-report.html"
    report.write_text("<html><body>report of the run</body></html>")
    base = {"source_kind": "keras_file", "family": "mobilenet", "domain": "medical", "params": 1_000_000,
            "top1": 0.61, "visibility": "private", "license": "mit", "task": "classification"}
    with Registry(path, user="alice") as alice:
        v1, = alice.insert_models([{**base, "name": "alice-net", "version": 1}])
        v2, = alice.insert_models([{**base, "name": "alice-net", "version": 2, "parent_id": v1, "top1": 0.66}])
        rng = np.random.default_rng(0)
        data = alice.add_dataset(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), np.array([0, 1, 0, 1]),
                                 "tiny", ["cat", "dog"])
        run = alice.start_run(v1, data, optimizer="adam", learning_rate=1e-3, epochs=2)
        for epoch, acc in enumerate([0.5, 0.7]):
            alice.log_epoch(run, epoch, loss=1 - acc, accuracy=acc, val_accuracy=acc - 0.05)
        alice.finish_run(run, outcome="kept", result_model_id=v2, metrics={"report": str(report)})
        bare = alice.start_run(v1, optimizer="sgd", epochs=1)
        alice.finish_run(bare, outcome="discarded")
        alice.add_evaluation(v2, data, accuracy=0.75)
    with Registry(path, user="bob") as bob:
        pub, = bob.insert_models([{**base, "name": "bob-net", "version": 1, "visibility": "public",
                                   "license": "apache-2.0"}])
        bob.add_evaluation(pub, "tiny", accuracy=0.5)
    return path, {"v1": v1, "v2": v2, "run": run, "bare": bare, "bob": pub}


@pytest.fixture
def jp_server_config(seeded):
    return {"ServerApp": {"jpserver_extensions": {"fmc_jupyter.server": True}, "identity_provider_class": TwoUsers},
            "FmcServer": {"registry_path": str(seeded[0])}}


@pytest.fixture
def api(jp_fetch):
    async def call(*parts, user=ALICE, raw=False, **kwargs):
        response = await jp_fetch("fmc", "api", *parts, headers=dict(user), **kwargs)
        return response if raw else json.loads(response.body)

    return call


async def error_of(api, *parts, **kwargs) -> tuple[int, dict]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await api(*parts, **kwargs)
    return info.value.code, json.loads(info.value.response.body)


async def test_facet_counts_follow_the_query_and_privacy(api):
    alice = await api("facets", "counts", params={"q": "domain=medical and family=mobilenet"})
    assert alice["total"] == 3
    assert dict(alice["owner"]) == {"alice": 2, "bob": 1} and dict(alice["task"]) == {"classification": 3}
    assert alice["family"][0] == ["mobilenet", 3] and dict(alice["source"]) == {"keras_file": 3}
    bob = await api("facets", "counts", params={"q": "domain=medical and family=mobilenet"}, user=BOB)
    assert bob["total"] == 1 and dict(bob["owner"]) == {"bob": 1}  # alice's private models are not counted
    code, body = await error_of(api, "facets", "counts", params={"q": "tpoo1>1"})
    assert code == 400 and body["error"] == "QueryError"


async def test_model_page_says_which_run_made_each_version(api, seeded):
    from fmc_jupyter.server import diff_worker

    ids = seeded[1]
    shutdown()
    page = await api("models", "alice-net:v1", "page")
    assert diff_worker._warming is not None  # two versions: the diff's child process starts loading Keras now
    shutdown()
    assert page["model"]["ref"] == "alice-net:v1"
    made = {v["version"]: v["made_by_run"] for v in page["versions"]}
    assert made == {1: None, 2: ids["run"]}
    runs = {r["id"]: r for r in page["runs"]}
    assert runs[ids["run"]]["dataset"] == "tiny" and runs[ids["run"]]["report"] is True
    assert [e["epoch"] for e in runs[ids["run"]]["history"]] == [0, 1]
    assert runs[ids["bare"]]["report"] is False and runs[ids["bare"]]["dataset"] is None
    code, _ = await error_of(api, "models", "alice-net:v1", "page", user=BOB)
    assert code == 404  # private: as if it did not exist


async def test_run_report_is_served_only_when_written_and_visible(api, seeded):
    ids = seeded[1]
    response = await api("runs", str(ids["run"]), "report", raw=True)
    assert response.headers["Content-Type"].startswith("text/html") and b"report of the run" in response.body
    assert "sandbox" in response.headers["Content-Security-Policy"]  # its scripts never run as the Jupyter origin
    code, body = await error_of(api, "runs", str(ids["bare"]), "report")
    assert code == 404 and "run.report()" in body["message"]
    code, _ = await error_of(api, "runs", str(ids["run"]), "report", user=BOB)
    assert code == 404


async def test_owner_edits_description_and_tags_others_cannot(api, seeded):
    body = json.dumps({"description": "chest X-rays", "tags": "xray, medical"})
    record = await api("models", "alice-net:v2", "page", method="PATCH", body=body)
    assert record["description"] == "chest X-rays" and record["tags"].replace(" ", "") == "xray,medical"
    before = await api("models", "bob-net", user=BOB)
    code, _ = await error_of(api, "models", "bob-net", "page", method="PATCH", body=body)
    assert code in (403, 404)
    for bad in ("not json", json.dumps({"owner": "me"}), json.dumps({"description": 3}), "{}"):
        code, error = await error_of(api, "models", "alice-net:v2", "page", method="PATCH", body=bad)
        assert code == 400 and "description" in error["message"]
    assert await api("models", "bob-net", user=BOB) == before  # refused calls change nothing
    with Registry(seeded[0], user="alice") as reg:
        assert reg.model("alice-net:v2").description == "chest X-rays"


async def test_leaderboard_of_a_dataset_best_first_and_private_hidden(api):
    alice = await api("datasets", "tiny", "leaderboard")
    assert [(r["name"], r["accuracy"]) for r in alice] == [("alice-net", 0.75), ("bob-net", 0.5)]
    bob = await api("datasets", "tiny", "leaderboard", user=BOB)
    assert [r["name"] for r in bob] == ["bob-net"]
    code, body = await error_of(api, "datasets", "nope", "leaderboard")
    assert code == 404 and "no dataset" in body["message"]


@pytest.mark.slow
async def test_diff_view_runs_in_a_child_process_and_folds(api, seeded, tmp_path):
    import sys

    with Registry(seeded[0], user="alice") as alice:
        alice.add_model(tiny_keras_model(tmp_path / "a.keras", 3), "diffed")
        alice.add_model(tiny_keras_model(tmp_path / "b.keras", 5), "diffed")
    had_keras = "keras" in sys.modules
    try:
        body = await api("diff", "view", params={"a": "diffed:v1", "b": "diffed:v2"}, request_timeout=300)
    finally:
        shutdown()
    assert "Dense(3) -> Dense(5)" in body["summary"]
    assert body["metadata"]["a"]["ref"] == "diffed:v1" and body["metadata"]["b"]["ref"] == "diffed:v2"
    assert len(body["folded"]) <= len(body["layers"])
    assert had_keras or "tensorflow" not in sys.modules  # the diff did not load TensorFlow here
    code, error = await error_of(api, "diff", "view", params={"a": "diffed:v1", "b": "diffed:v2"}, user=BOB)
    assert code == 404 and "diffed" in error["message"]


def test_fold_layers_collapses_runs_of_identical_layers_only():
    rows = ([{"position": i, "status": "frozen", "weights_changed": False} for i in range(5)]
            + [{"position": 5, "status": "changed", "weights_changed": False}]
            + [{"position": 6, "status": "same"}, {"position": 7, "status": "same"}]
            + [{"position": i, "status": "same"} for i in range(8, 8)]
            + [{"position": 8, "status": "weights", "weights_changed": True}])
    folded = fold_layers(rows)
    assert folded[0] == {"status": "folded", "folded_status": "frozen", "count": 5, "first": 0, "last": 4}
    assert [r["status"] for r in folded[1:]] == ["changed", "same", "same", "weights"]  # a pair stays unfolded
    assert fold_layers([]) == []


@pytest.mark.parametrize("route", ["facets/counts", "models/1/page", "runs/1/report", "datasets/tiny/leaderboard",
                                   "diff/view"])
async def test_every_panel_route_needs_credentials(jp_fetch, route):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fmc", "api", *route.split("/"), headers={"Authorization": "token wrong"})
    assert info.value.code == 403
