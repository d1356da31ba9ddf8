"""The REST API of the server extension, through a real jupyter_server (pytest-jupyter ``jp_fetch``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tornado.httpclient
from jupyter_server.auth.identity import IdentityProvider, User

from fmc_jupyter.registry import Registry
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
        handler._token_authenticated = True  # token requests skip the XSRF cookie check, as with Jupyter's own tokens
        return User(username=TOKENS[token])


@pytest.fixture
def seeded(tmp_path):
    """A registry file with the catalog, alice's private line (v1 -> v2), bob's private model, a run and a ranking."""
    path = tmp_path / "registry" / "registry.db"
    alice = Registry(path, user="alice")
    base = {"source_kind": "keras_file", "family": "mobilenet", "domain": "medical", "params": 1_000_000,
            "top1": 0.61, "description": "<b>not bold</b>", "visibility": "private"}
    v1, = alice.insert_models([{**base, "name": "alice-net", "version": 1}])
    v2, = alice.insert_models([{**base, "name": "alice-net", "version": 2, "parent_id": v1, "top1": 0.66}])
    bob = Registry(path, user="bob")
    bob.insert_models([{**base, "name": "bob-secret-net", "version": 1}])
    run = alice.start_run(v1, optimizer="adam", learning_rate=1e-3, epochs=2)
    for epoch, acc in enumerate([0.5, 0.7]):
        alice.log_epoch(run, epoch, loss=1 - acc, accuracy=acc, val_accuracy=acc - 0.05)
    alice.finish_run(run, outcome="kept", result_model_id=v2)
    rng = np.random.default_rng(0)
    data = alice.add_dataset(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), np.array([0, 1, 0, 1]), "tiny",
                             ["cat", "dog"])
    alice.save_ranking(data, "logme", [{"model_id": v2, "rank": 1, "score": 0.9}, {"model_id": 1, "rank": 2,
                                                                                   "score": 0.5}])
    ids = {"v1": v1, "v2": v2, "run": run, "dataset": data.id}
    alice.close()
    bob.close()
    return path, ids


@pytest.fixture
def jp_server_config(seeded):
    return {"ServerApp": {"jpserver_extensions": {"fmc_jupyter.server": True}, "identity_provider_class": TwoUsers},
            "FmcServer": {"registry_path": str(seeded[0])}}


@pytest.fixture
def api(jp_fetch):
    """``await api("models", params=..., user=BOB)`` -> decoded JSON body."""

    async def call(*parts, user=ALICE, **kwargs):
        response = await jp_fetch("fmc", "api", *parts, headers=dict(user), **kwargs)
        return json.loads(response.body)

    return call


async def error_of(api, *parts, **kwargs) -> tuple[int, dict]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await api(*parts, **kwargs)
    return info.value.code, json.loads(info.value.response.body)


async def test_version_reports_user_and_a_stamp_that_changes_on_writes(api, seeded):
    before = await api("version")
    assert before["user"] == "alice" and before["version"]
    with Registry(seeded[0], user="alice") as reg:  # another process-like writer
        reg.publish("alice-net:v2")
    after = await api("version")
    assert after["stamp"] != before["stamp"]


async def test_fields_lists_the_query_language(api):
    body = await api("fields")
    names = {f["name"] for f in body["fields"]}
    assert {"params", "top1", "domain"} <= names and body["aliases"]["accuracy"] == "top1"


async def test_facets_list_visible_domains_and_families(api):
    alice, bob = await api("facets"), await api("facets", user=BOB)
    assert "medical" in alice["domain"] and "mobilenet" in alice["family"] and "natural" in bob["domain"]


async def test_models_pages_with_total_and_order(api):
    first = await api("models", params={"q": "family=mobilenet", "order": "-top1", "limit": 2})
    assert first["total"] >= 3 and len(first["models"]) == 2
    assert first["models"][0]["top1"] >= first["models"][1]["top1"]
    second = await api("models", params={"q": "family=mobilenet", "order": "-top1", "limit": 2, "offset": 2})
    assert {m["id"] for m in first["models"]}.isdisjoint(m["id"] for m in second["models"])


async def test_private_models_of_another_user_are_hidden(api, seeded):
    names_alice = {m["name"] for m in (await api("models", params={"q": "domain=medical and family=mobilenet"}))["models"]}
    names_bob = {m["name"] for m in (await api("models", params={"q": "domain=medical and family=mobilenet"}, user=BOB))["models"]}
    assert names_alice == {"alice-net"} and names_bob == {"bob-secret-net"}
    code, body = await error_of(api, "models", str(seeded[1]["v2"]), user=BOB)
    assert code == 404 and "no model" in body["message"]
    code, _ = await error_of(api, "models", "bob-secret-net")
    assert code == 404


async def test_bad_query_is_a_400_with_message_and_position(api):
    code, body = await error_of(api, "models", params={"q": "params < 5M and tpo1 > 70%"})
    assert code == 400 and body["error"] == "QueryError"
    assert "tpo1" in body["message"] and body["position"] == 16 and body["query"].startswith("params")
    code, body = await error_of(api, "models", params={"limit": "many"})
    assert code == 400 and "limit" in body["message"]


async def test_model_card_routes(api, seeded):
    ids = seeded[1]
    model = await api("models", "alice-net")
    assert model["id"] == ids["v2"] and model["ref"] == "alice-net:v2" and model["description"] == "<b>not bold</b>"
    assert (await api("models", "alice-net:v1"))["id"] == ids["v1"]
    versions = await api("models", str(ids["v2"]), "versions")
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["parent_id"] == ids["v1"]
    runs = await api("models", "alice-net", "runs")
    assert runs[0]["id"] == ids["run"] and [e["accuracy"] for e in runs[0]["history"]] == [0.5, 0.7]
    rankings = await api("models", "alice-net", "rankings")
    assert rankings[0]["dataset"] == "tiny" and rankings[0]["rank"] == 1


async def test_run_datasets_and_dataset_rankings(api, seeded):
    run = await api("runs", str(seeded[1]["run"]))
    assert run["status"] == "finished" and len(run["history"]) == 2
    datasets = await api("datasets")
    assert [d["name"] for d in datasets] == ["tiny"]
    rankings = await api("datasets", "tiny", "rankings")
    assert [r["rank"] for r in rankings] == [1, 2]
    assert (await error_of(api, "runs", str(seeded[1]["run"]), user=BOB))[0] == 404
    assert (await error_of(api, "datasets", "nope", "rankings"))[0] == 404


async def test_publish_and_unpublish_are_owner_only(api, seeded):
    published = await api("models", "alice-net", "publish", method="POST", body="")
    assert published["visibility"] == "public"
    assert (await api("models", "alice-net", user=BOB))["ref"] == "alice-net:v2"
    code, body = await error_of(api, "models", "alice-net", "unpublish", method="POST", body="", user=BOB)
    assert code == 403 and "belongs to alice" in body["message"]
    assert (await api("models", "alice-net", "unpublish", method="POST", body=""))["visibility"] == "private"
    assert (await error_of(api, "models", "alice-net", user=BOB))[0] == 404


async def test_comments_are_seen_and_added_by_whoever_sees_the_model(api, seeded):
    await api("models", "alice-net:v2", "publish", method="POST", body="")
    said = await api("models", "alice-net:v2", "comments", method="POST", body=json.dumps({"text": " <b>v2</b> wins "}))
    assert said["author"] == "alice" and said["text"] == "<b>v2</b> wins" and said["model_id"] == seeded[1]["v2"]
    seen = await api("models", "alice-net:v2", "comments", user=BOB)
    assert [(c["author"], c["text"]) for c in seen] == [("alice", "<b>v2</b> wins")] and seen[0]["created_at"]
    await api("models", "alice-net:v2", "comments", method="POST", body=json.dumps({"text": "agreed"}), user=BOB)
    both = await api("models", str(seeded[1]["v2"]), "comments")
    assert [(c["author"], c["text"]) for c in both] == [("alice", "<b>v2</b> wins"), ("bob", "agreed")]


async def test_comments_of_a_private_model_are_hidden_and_need_text(api, seeded):
    await api("models", "alice-net:v1", "comments", method="POST", body=json.dumps({"text": "only me"}))
    assert [c["text"] for c in await api("models", "alice-net:v1", "comments")] == ["only me"]
    code, body = await error_of(api, "models", "alice-net:v1", "comments", user=BOB)
    assert code == 404 and "alice-net" in body["message"]
    code, _ = await error_of(api, "models", "alice-net:v1", "comments", method="POST", body=json.dumps({"text": "hi"}),
                             user=BOB)
    assert code == 404
    for bad in ({"text": ""}, {"text": "  \n "}, {}, {"text": 3}, "not json"):
        code, body = await error_of(api, "models", "alice-net:v1", "comments", method="POST",
                                    body=bad if isinstance(bad, str) else json.dumps(bad))
        assert code == 400 and body["error"] == "InputError" and "text" in body["message"]
    assert [c["text"] for c in await api("models", "alice-net:v1", "comments")] == ["only me"]


async def test_diff_of_two_versions(api, seeded, tmp_path):
    with Registry(seeded[0], user="alice") as alice:
        alice.add_model(tiny_keras_model(tmp_path / "a.keras", 3), "diffed")
        alice.add_model(tiny_keras_model(tmp_path / "b.keras", 5), "diffed")
    body = await api("diff", params={"a": "diffed:v1", "b": "diffed:v2"}, request_timeout=300)  # a child process
    assert "head replaced" in body["summary"] and "Dense(3) -> Dense(5)" in body["summary"]
    code, error = await error_of(api, "diff", params={"a": "diffed:v1", "b": "diffed:v2"}, user=BOB)
    assert code == 404 and "diffed" in error["message"]


@pytest.mark.parametrize("route", ["version", "fields", "facets", "models", "models/1", "models/1/versions", "models/1/runs",
                                   "models/1/rankings", "models/1/comments", "runs/1", "datasets", "datasets/tiny/rankings", "diff"])
async def test_every_route_needs_credentials(jp_fetch, route):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fmc", "api", *route.split("/"), headers={"Authorization": "token wrong"})
    assert info.value.code == 403


@pytest.mark.parametrize("action", ["publish", "comments"])
async def test_posts_need_credentials(jp_fetch, action):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fmc", "api", "models", "1", action, method="POST", body='{"text": "hi"}',
                       headers={"Authorization": ""})
    assert info.value.code == 403


class TestSingleUserServer:
    """A plain ``jupyter lab`` (Jupyter's own token provider): the server's owner is the registry user."""

    @pytest.fixture
    def jp_server_config(self, seeded):
        return {"ServerApp": {"jpserver_extensions": {"fmc_jupyter.server": True}},
                "FmcServer": {"registry_path": str(seeded[0])}}

    async def test_owner_of_the_server_sees_their_private_models(self, jp_fetch, monkeypatch):
        monkeypatch.setenv("FMC_USER", "bob")
        version = json.loads((await jp_fetch("fmc", "api", "version")).body)
        models = json.loads((await jp_fetch("fmc", "api", "models", params={"q": "domain=medical and family=mobilenet"})).body)
        assert version["user"] == "bob" and [m["name"] for m in models["models"]] == ["bob-secret-net"]
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_fetch("fmc", "api", "models", headers={"Authorization": "token wrong"})
        assert info.value.code == 403


# ---------------------------------------------------------------------- one HTTP vocabulary, JSON for every path
@pytest.mark.parametrize("path", ["nope", "models/1/bogus", "runs", "runs/1/extra", "datasets/tiny", "", "fields/x/y"])
async def test_unknown_paths_answer_a_json_404(api, path):
    code, body = await error_of(api, *path.split("/")) if path else await error_of(api)
    assert code == 404 and body["error"] == "NotFoundError"
    assert "no route" in body["message"] and "docs/rest-api.md" in body["message"]


async def test_unknown_paths_need_credentials_too(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fmc", "api", "nope", headers={"Authorization": "token wrong"})
    assert info.value.code == 403 and json.loads(info.value.response.body)["error"] == "PermissionDeniedError"


async def test_a_known_path_with_the_wrong_method_is_a_json_405(api):
    code, body = await error_of(api, "models", method="DELETE")
    assert code == 405 and body["message"]
    code, body = await error_of(api, "nope", method="POST", body="{}")
    assert code == 404 and body["error"] == "NotFoundError"


@pytest.mark.parametrize("parts, params, field", [
    (("runs", "abc"), {}, "run id"),
    (("runs", "9" * 30), {}, "run id"),
    (("runs", str(2**63)), {}, "run id"),
    (("models", str(2**63)), {}, "model id"),
    (("models", "9" * 400, "versions"), {}, "model id"),
    (("models", str(2**64), "comments"), {}, "model id"),
    (("datasets", str(2**70), "rankings"), {}, "dataset"),
    (("models",), {"limit": str(2**63)}, "limit"),
    (("models",), {"offset": str(2**63)}, "offset"),
    (("models",), {"offset": "9" * 5000}, "offset"),
    (("models",), {"offset": "-5"}, "offset"),
    (("models",), {"limit": "1e3"}, "limit"),
    (("diff",), {"a": str(2**64), "b": "1"}, "model id"),
    (("diff",), {"a": "1"}, "diff?a="),
])
async def test_malformed_or_huge_numbers_are_a_400_with_a_message(api, parts, params, field):
    code, body = await error_of(api, *parts, params=params)
    assert code == 400 and body["error"] == "InputError" and field in body["message"], body


async def test_the_largest_sqlite_id_is_simply_not_found(api):
    code, body = await error_of(api, "runs", str(2**63 - 1))
    assert code == 404 and body["error"] == "NotFoundError"
    code, body = await error_of(api, "models", str(2**63 - 1))
    assert code == 404 and body["error"] == "NotFoundError"


async def test_a_model_file_that_cannot_be_loaded_is_a_422_as_in_the_service(api, seeded):
    from fmc_jupyter.httpapi import ERROR_STATUS
    from fmc_jupyter.service import wire

    with Registry(seeded[0], user="alice") as alice:
        (alice.artifacts_root / "models").mkdir(parents=True, exist_ok=True)
        (alice.artifacts_root / "models" / "broken.keras").write_bytes(b"not a zip file at all")
        alice.insert_models([{"name": "broken", "version": 1, "source_kind": "keras_file",
                              "artifact": "models/broken.keras", "visibility": "private"}])
    code, body = await error_of(api, "diff", params={"a": "broken", "b": "alice-net"})
    assert code == 422 == ERROR_STATUS["ModelLoadError"] and body["error"] == "ModelLoadError" and body["message"]
    assert wire.error_payload(__import__("fmc_jupyter").ModelLoadError("x"))[0] == code  # the service's status


async def test_registry_calls_never_block_the_server(api, seeded):
    """While the registry file is locked by another process, a search waits in a worker thread; the server
    keeps answering other requests meanwhile, and the search completes once the lock is gone."""
    import asyncio
    import threading

    from fmc_jupyter.registry.sqlite_driver import dbapi  # the registry's SQLite: in-process locks must see it

    holder = dbapi.connect(str(seeded[0]), isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE models SET description = description WHERE id = 1")
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            holder.execute("ROLLBACK")
            holder.close()

    safety = threading.Timer(60, release)  # a server that blocks on the lock would otherwise wait forever
    safety.start()
    try:
        search = asyncio.ensure_future(api("models", params={"q": "domain=medical and family=mobilenet"}))
        fields = await api("fields")  # no registry call: answered while the search waits
        await asyncio.sleep(0.2)
        assert fields["fields"] and not search.done()
    finally:
        release()
        safety.cancel()
    assert {m["name"] for m in (await search)["models"]} == {"alice-net"}


def test_the_rest_api_document_lists_every_route():
    """docs/rest-api.md names each route of ROUTES with each of its methods (and nothing the code lacks)."""
    import re
    from pathlib import Path

    from fmc_jupyter.server.handlers import ROUTES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "rest-api.md").read_text()
    documented = set(re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) /fmc/api/([^`?]*)", doc, re.M))
    expected = set()
    for pattern, handler in ROUTES:
        path = pattern.replace("(?P<ref>[^/]+)", "{ref}").replace("(?P<run_id>[^/]+)", "{id}")
        paths = [path.replace("(?P<action>publish|unpublish)", a) for a in ("publish", "unpublish")] \
            if "(?P<action>" in path else [path]
        for method in ("get", "post", "put", "patch", "delete"):
            if method in handler.__dict__:
                expected |= {(method.upper(), p) for p in paths}
    assert documented == expected
