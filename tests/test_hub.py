"""End to end: a real JupyterHub on 127.0.0.1, the registry as a hub service, two users with hub tokens.

Real parts: jupyterhub (PyPI) + DummyAuthenticator, configurable-http-proxy (npm, in tests/hub/node_modules),
the registry service processes, HTTP through the proxy, SQLite files on disk. One hub serves the module.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

import numpy as np
import pytest

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -e '.[test]'")
requests = pytest.importorskip("requests")

from fmc_jupyter.config import shared_data_dir  # noqa: E402
from fmc_jupyter.errors import (  # noqa: E402
    FmcError, InputError, NotFoundError, PermissionDeniedError, RegistryUnavailableError)
from fmc_jupyter.registry import RemoteRegistry, open_registry  # noqa: E402
from fmc_jupyter.registry.registry import Registry  # noqa: E402
from fmc_jupyter.registry.remote import hub_service_url  # noqa: E402
from fmc_jupyter.service.localhub import LocalHub, find_proxy_command, free_port  # noqa: E402



@pytest.fixture(scope="module", autouse=True)
def _own_cache_dir(tmp_path_factory):
    """Downloaded artifacts go to a temporary cache, not the user's."""
    old = os.environ.get("FMC_CACHE_DIR")
    os.environ["FMC_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("FMC_CACHE_DIR", None)
    else:
        os.environ["FMC_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if find_proxy_command() is None:
        pytest.skip("configurable-http-proxy is not installed: npm ci --prefix tests/hub (scripts/test.sh does it)")
    with LocalHub(tmp_path_factory.mktemp("hub"), threads=2) as running:
        running.tokens = {name: running.create_user(name) for name in ("alice", "bob")}
        yield running


@pytest.fixture(scope="module")
def alice(hub):
    with RemoteRegistry(hub.service_url(), hub.tokens["alice"]) as reg:
        yield reg


@pytest.fixture(scope="module")
def bob(hub):
    with RemoteRegistry(hub.service_url(), hub.tokens["bob"]) as reg:
        yield reg


@pytest.fixture(scope="module")
def private_model(alice):
    """A private TFLite model of alice's, uploaded through the service, and a run of hers on it."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("shared data (/work/shared/data) is absent: no model file to upload")
    record = alice.add_model(data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                             name="alice-secret-net", description="only alice may see this")
    run_id = alice.start_run(record, kind="finetune", epochs=2, optimizer="adam")
    alice.log_epoch(run_id, 0, loss=1.5, accuracy=0.4, val_accuracy=0.35)
    return record, run_id


def _call(hub, token, method, args=(), kwargs=None, headers=None, params=None):
    auth = {"Authorization": f"token {token}"} if token else {}
    return requests.post(f"{hub.service_url()}api/call/{method}", json={"args": list(args), "kwargs": kwargs or {}},
                         headers={**auth, **(headers or {})}, params=params, timeout=30)


def test_requests_without_a_valid_token_are_refused(hub):
    assert requests.get(f"{hub.service_url()}api/whoami", timeout=30).status_code == 401
    r = _call(hub, None, "search", ["name=MobileNet"])
    assert r.status_code == 401 and "token" in r.json()["message"]
    assert _call(hub, "not-a-real-token", "search").status_code == 401
    # a real token of alice that lacks access to the service
    narrow = hub.create_user("alice", scopes=["read:users:name!user=alice"])
    assert _call(hub, narrow, "search").status_code == 403
    with pytest.raises(PermissionDeniedError):
        RemoteRegistry(hub.service_url(), narrow)
    # browsers without a hub login are sent to the hub's login
    r = requests.get(hub.service_url(), allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


def test_browser_hub_login_reaches_the_service(hub):
    """The browser path (the panel's): hub login page -> OAuth -> the service's cookie names the user."""
    browser = requests.Session()
    page = browser.get(hub.service_url(), timeout=30)  # redirected through OAuth to the hub's login form
    assert "/hub/login" in page.url
    xsrf = browser.cookies.get("_xsrf", path="/hub/") or browser.cookies.get("_xsrf")
    page = browser.post(page.url, data={"username": "bob", "password": "any", "_xsrf": xsrf}, timeout=30)
    assert page.status_code == 200 and "Signed in as <b>bob</b>" in page.text
    assert browser.get(f"{hub.service_url()}api/whoami", timeout=30).json()["user"] == "bob"
    # cookie-authenticated changes need the xsrf token, so other sites cannot forge them
    r = browser.post(f"{hub.service_url()}api/call/search", json={}, timeout=30,
                     headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code in (401, 403)
    xsrf = browser.cookies.get("_xsrf", path="/services/fmc-registry/")
    assert xsrf, browser.cookies
    r = browser.post(f"{hub.service_url()}api/call/count", json={"args": ["name=alice-secret-net"]}, timeout=30,
                     headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin", "X-XSRFToken": xsrf})
    assert r.status_code == 200 and r.json() == {"result": 0}


def test_the_service_names_the_user_not_the_client(hub, alice, bob):
    assert (alice.user, bob.user) == ("alice", "bob")
    r = requests.get(f"{hub.service_url()}api/whoami", params={"user": "alice"},
                     headers={"Authorization": f"token {hub.tokens['bob']}", "X-FMC-User": "alice"}, timeout=30)
    assert r.json()["user"] == "bob"
    with pytest.raises(PermissionDeniedError, match="knows you as 'bob'"):
        _open_as(hub, "bob", user="alice")


def _open_as(hub, who, **kwargs):
    old = os.environ.get("FMC_REGISTRY_TOKEN")
    os.environ["FMC_REGISTRY_TOKEN"] = hub.tokens[who]
    try:
        return open_registry(hub.service_url(), **kwargs)
    finally:
        if old is None:
            del os.environ["FMC_REGISTRY_TOKEN"]
        else:
            os.environ["FMC_REGISTRY_TOKEN"] = old


@pytest.mark.slow
def test_private_model_and_run_stay_private(hub, alice, bob, private_model):
    record, run_id = private_model
    assert record.owner == "alice" and record.visibility == "private"
    # alice sees her own things
    assert alice.model("alice-secret-net").id == record.id
    assert alice.run(run_id).history[0]["loss"] == 1.5
    assert alice.artifact_path(record).stat().st_size > 0
    # bob sees nothing of it through the Python API ...
    assert record.id not in set(bob.search("", limit=None)["id"])
    assert bob.count("name=alice-secret-net") == 0
    for ref in (record.id, "alice-secret-net", "alice-secret-net:v1"):
        with pytest.raises(NotFoundError):
            bob.model(ref)
    with pytest.raises(NotFoundError):
        bob.run(run_id)
    assert run_id not in set(bob.runs()["id"])
    with pytest.raises(NotFoundError):
        bob.artifact_path(record)
    # ... and cannot change it
    for change in (lambda: bob.update_model(record.id, description="mine now"), lambda: bob.publish(record.id),
                   lambda: bob.delete_model(record.id), lambda: bob.log_epoch(run_id, 1, loss=0.1),
                   lambda: bob.finish_run(run_id, "failed"), lambda: bob.update_run(run_id, status="failed")):
        with pytest.raises(NotFoundError):
            change()
    # ... nor through REST, nor by sending alice's name
    token = hub.tokens["bob"]
    assert _call(hub, token, "model", [record.id]).status_code == 404
    assert _call(hub, token, "model", [record.id], headers={"X-FMC-User": "alice"}, params={"user": "alice"}
                 ).status_code == 404
    r = _call(hub, token, "model", [record.id], {"user": "alice"})
    assert r.status_code == 400 and r.json()["error"] == "InputError"
    assert _call(hub, token, "update_model", [record.id], {"description": "x"}).status_code == 404
    assert _call(hub, token, "insert_models", [[{"name": "x", "owner": "alice"}]]).status_code == 400
    r = requests.post(f"{hub.service_url()}api/models", params={"filename": ".."}, data=b"x",
                      headers={"Authorization": f"token {token}"}, timeout=30)
    assert r.status_code == 400
    assert requests.get(f"{hub.service_url()}api/models/{record.id}/artifact",
                        headers={"Authorization": f"token {token}"}, timeout=30).status_code == 404
    # nothing changed for alice
    again = alice.model(record.id)
    assert (again.description, again.visibility) == ("only alice may see this", "private")
    assert [e["epoch"] for e in alice.run(run_id).history] == [0]
    assert alice.run(run_id).status == "running"


@pytest.mark.slow
def test_public_models_are_visible_but_only_their_owner_changes_them(hub, alice, bob, private_model):
    record, run_id = private_model
    alice.publish(record.id)
    try:
        seen = bob.model("alice-secret-net")
        assert seen.id == record.id and seen.owner == "alice"
        assert record.id in set(bob.search("name=alice-secret-net")["id"])
        assert bob.artifact_path(seen).read_bytes() == alice.artifact_path(record).read_bytes()
        with pytest.raises(PermissionDeniedError, match="belongs to alice"):
            bob.update_model(record.id, description="mine now")
        with pytest.raises(PermissionDeniedError):
            bob.delete_model(record.id)
        assert _call(hub, hub.tokens["bob"], "unpublish", [record.id]).status_code == 403
        with pytest.raises(NotFoundError):  # her run produced no public model: still hers alone
            bob.run(run_id)
        bob.add_comment(record.id, "works on my x-rays too")  # comments: anyone who can see the model
        assert list(alice.comments(record.id)["author"]) == ["bob"]
    finally:
        alice.unpublish(record.id)
    with pytest.raises(NotFoundError):
        bob.model(record.id)
    with pytest.raises(NotFoundError):  # private again: its comments are hidden too
        bob.comments(record.id)


def test_runs_datasets_and_errors_round_trip(alice, bob):
    catalog = alice.model("MobileNet_0.25_224") if alice.count("name=MobileNet_0.25_224") else \
        alice.model(int(alice.search("", limit=1)["id"][0]))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(12, 8, 8, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 4)
    dataset = alice.add_dataset(x, y, "hub-tiny", ["a", "b", "c"])
    assert alice.add_dataset(x, y, "hub-tiny-again", ["a", "b", "c"]).id == dataset.id  # same content
    assert "hub-tiny" in set(bob.datasets()["name"])  # datasets are public
    loaded = bob.load_dataset("hub-tiny")
    np.testing.assert_array_equal(loaded.x, x)
    assert loaded.class_names == ("a", "b", "c")
    run_id = alice.start_run(catalog, dataset, epochs=3, optimizer_config={"lr": 0.01}, device="cpu")
    for epoch in range(3):
        alice.log_epoch(run_id, epoch, loss=1.0 / (epoch + 1), val_accuracy=0.5 + epoch / 10, note="streamed")
    alice.finish_run(run_id, outcome="discarded")
    run = alice.run(run_id)
    assert run.status == "finished" and run.optimizer_config == {"lr": 0.01} and len(run.history) == 3
    runs = alice.runs(catalog)
    assert run_id in set(runs["id"]) and runs.loc[runs["id"] == run_id, "best_val_accuracy"].item() == pytest.approx(0.7)
    assert run_id not in set(bob.runs()["id"])
    with pytest.raises(InputError, match="unknown run fields"):
        alice.start_run(catalog, owner="bob")
    with pytest.raises(Exception, match="column|field|unknown") as err:
        alice.search("nonsense_column > 3")
    assert type(err.value).__name__ == "QueryError"
    with pytest.raises(NotFoundError, match="Did you mean"):
        alice.model("MobileNet_0.25_22")


def test_open_registry_finds_the_service(hub, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.tokens["alice"])
    monkeypatch.delenv("FMC_REGISTRY_TOKEN", raising=False)
    monkeypatch.setenv("FMC_REGISTRY_URL", hub.service_url())
    with open_registry() as reg:
        assert isinstance(reg, RemoteRegistry) and reg.user == "alice"
    monkeypatch.delenv("FMC_REGISTRY_URL")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", hub.url + "/")
    assert hub_service_url() == hub.service_url()
    with open_registry("hub") as reg:
        assert reg.user == "alice" and reg.count() > 0


@pytest.mark.slow
def test_service_killed_mid_load_restarts_clean_and_clients_recover(hub, caplog):
    """Three writers stream runs + epochs to the external service; it is SIGKILLed and restarted mid-way."""
    caplog.set_level(logging.WARNING, logger="fmc_jupyter.registry.remote")
    url = hub.service_url("fmc-registry-ext")
    model_id = int(RemoteRegistry(url, hub.tokens["alice"]).search("", limit=1)["id"][0])
    acked: dict[str, list[tuple[int, int]]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(tag: str) -> None:
        reg = RemoteRegistry(url, hub.tokens["alice"], retry_for=60)
        try:
            while not stop.is_set():
                run_id = reg.start_run(model_id, device=tag, epochs=2)
                acked[tag].append((run_id, -1))
                for epoch in range(2):
                    reg.log_epoch(run_id, epoch, loss=1.0 / (epoch + 1))
                    acked[tag].append((run_id, epoch))
                reg.finish_run(run_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    tags = [f"worker-{i}" for i in range(3)]
    threads = [threading.Thread(target=writer, args=(tag,)) for tag in tags]
    for tag in tags:
        acked[tag] = []
    for t in threads:
        t.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while min(len(v) for v in acked.values()) < count and not errors and time.monotonic() < deadline:
            time.sleep(0.05)

    wait_for(6)
    before = {tag: len(v) for tag, v in acked.items()}
    hub.kill_external()  # SIGKILL: no clean shutdown
    time.sleep(1.0)
    hub.start_external()
    wait_for(max(before.values()) + 6)
    stop.set()
    for t in threads:
        t.join(60)
    assert not errors, errors

    db = hub.workdir / "registry-ext" / "registry.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Registry(db, user="alice") as reg:
        runs = reg.runs()
        for tag in tags:
            acked_runs = sorted({run_id for run_id, epoch in acked[tag] if epoch == -1})
            assert sorted(runs.loc[runs["device"] == tag, "id"]) == acked_runs  # none lost, none doubled
            for run_id, epoch in acked[tag]:
                if epoch >= 0:
                    assert epoch in [e["epoch"] for e in reg.run(run_id).history]
    messages = [r.getMessage() for r in caplog.records]
    assert any("registry unavailable, retrying" in m for m in messages), messages
    assert any("registry available again" in m for m in messages), messages


def test_an_unreachable_service_says_so_and_gives_up_after_retry_for(caplog):
    caplog.set_level(logging.WARNING, logger="fmc_jupyter.registry.remote")
    url = f"http://127.0.0.1:{free_port()}/services/fmc-registry/"  # nothing listens there
    with pytest.raises(RegistryUnavailableError, match="registry unavailable at .* gave up retrying"):
        RemoteRegistry(url, token="any", retry_for=0.5)
    assert "registry unavailable, retrying" in caplog.text


def test_where_the_hub_service_is(monkeypatch):
    env = {"JUPYTERHUB_PUBLIC_HUB_URL": "https://hub.example.org/jh/hub/", "JUPYTERHUB_BASE_URL": "/jh/"}
    assert hub_service_url(env) == "https://hub.example.org/jh/services/fmc-registry/"
    assert hub_service_url({**env, "FMC_REGISTRY_SERVICE": "team-cnn"}) == \
        "https://hub.example.org/jh/services/team-cnn/"
    assert hub_service_url({**env, "FMC_REGISTRY_URL": "http://10.0.0.5:10101/services/fmc-registry/"}) == \
        "http://10.0.0.5:10101/services/fmc-registry/"
    with pytest.raises(FmcError, match="FMC_REGISTRY_URL"):
        hub_service_url({})
    monkeypatch.delenv("FMC_REGISTRY_TOKEN", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(PermissionDeniedError, match="no JupyterHub API token"):
        open_registry("http://127.0.0.1:1/services/fmc-registry/")


# ---------------------------------------------------------------------- the side panel on the hub
@pytest.fixture(scope="module")
def panels(hub):
    """alice's and bob's real single-user servers (spawned by the hub) -> {name: base URL of their panel API}."""
    urls = {name: hub.start_server(name) + "fmc/api/" for name in ("alice", "bob")}
    yield urls
    for name in urls:
        hub.stop_server(name)


def _panel(hub, panels, who, path, token_of=None, **kwargs):
    """``GET``/``POST`` ``who``'s panel API with ``token_of``'s hub token (default: ``who``'s own)."""
    method = kwargs.pop("method", "GET")
    return requests.request(method, panels[who] + path, timeout=60,
                            headers={"Authorization": f"token {hub.tokens[token_of or who]}"}, **kwargs)


@pytest.fixture(scope="module")
def bob_private(bob, private_model):
    """A private model of bob's, uploaded through the service."""
    data = shared_data_dir()
    return bob.add_model(data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite", name="bob-private-net",
                         description="only bob may see this")


@pytest.mark.slow
def test_each_panel_is_a_window_on_the_team_registry(hub, panels, alice, bob):
    for who, reg in (("alice", alice), ("bob", bob)):
        version = _panel(hub, panels, who, "version").json()
        assert version["user"] == who
        assert version["registry"] == {"kind": "service", "location": f"{hub.url}/services/fmc-registry/"}
        page = _panel(hub, panels, who, "models", params={"limit": 5, "order": "name"}).json()
        team = reg.search("", order_by="name", limit=5)
        assert page["total"] == reg.count("") and [m["id"] for m in page["models"]] == list(team["id"])


@pytest.mark.slow
def test_a_model_added_from_python_shows_in_its_owners_panel_only(hub, panels, monkeypatch, bob_private):
    monkeypatch.setenv("FMC_REGISTRY_URL", hub.service_url())
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.tokens["alice"])  # what a kernel of alice's has
    monkeypatch.delenv("FMC_REGISTRY_TOKEN", raising=False)
    with open_registry("hub") as reg:
        added = reg.add_model(shared_data_dir() / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                              name="alice-kernel-net", description="from alice's kernel")
    assert added.visibility == "private"
    mine = _panel(hub, panels, "alice", "models", params={"q": "name=alice-kernel-net"}).json()
    assert mine["total"] == 1 and mine["models"][0]["id"] == added.id
    assert _panel(hub, panels, "alice", f"models/{added.id}").json()["description"] == "from alice's kernel"
    # bob's panel: none of alice's private models, none of bob's own hidden from him
    theirs = _panel(hub, panels, "bob", "models", params={"q": "name~alice", "limit": 1000}).json()
    assert theirs["total"] == 0 and theirs["models"] == []
    everything = {m["name"] for m in _panel(hub, panels, "bob", "models", params={"limit": 1000}).json()["models"]}
    assert "bob-private-net" in everything and not {"alice-kernel-net", "alice-secret-net"} & everything
    alice_sees = {m["name"] for m in _panel(hub, panels, "alice", "models", params={"limit": 1000}).json()["models"]}
    assert "alice-kernel-net" in alice_sees and "bob-private-net" not in alice_sees


@pytest.mark.slow
def test_private_things_are_indistinguishable_from_absent_ones_in_the_panel(hub, panels, private_model,
                                                                            bob_private):
    record, run_id = private_model
    absent_model, absent_run = 2**62, 2**62
    pairs = [(f"models/{record.id}", f"models/{absent_model}"), ("models/alice-secret-net", "models/no-such-net-x"),
             (f"models/{record.id}/versions", f"models/{absent_model}/versions"),
             (f"models/{record.id}/runs", f"models/{absent_model}/runs"),
             (f"models/{record.id}/comments", f"models/{absent_model}/comments"),
             (f"runs/{run_id}", f"runs/{absent_run}")]
    for hidden, absent in pairs:
        a, b = _panel(hub, panels, "bob", hidden), _panel(hub, panels, "bob", absent)
        assert a.status_code == b.status_code == 404, (hidden, a.text, b.text)
        assert a.json()["error"] == b.json()["error"] == "NotFoundError"
        assert "alice" not in a.json()["message"].replace("alice-secret-net", "")
    for action in ("publish", "unpublish"):
        r = _panel(hub, panels, "bob", f"models/{record.id}/{action}", method="POST", data=b"")
        assert r.status_code == 404 and r.json()["error"] == "NotFoundError"
    r = _panel(hub, panels, "bob", f"models/{record.id}/comments", method="POST", json={"text": "peek"})
    assert r.status_code == 404
    assert "peek" not in [c["text"] for c in _panel(hub, panels, "alice", f"models/{record.id}/comments").json()]
    # bob's own private model is his alone, both ways
    assert _panel(hub, panels, "bob", f"models/{bob_private.id}").json()["owner"] == "bob"
    assert _panel(hub, panels, "alice", f"models/{bob_private.id}").status_code == 404


@pytest.mark.slow
def test_a_users_token_does_not_open_another_users_panel(hub, panels):
    r = _panel(hub, panels, "bob", "models", token_of="alice", allow_redirects=False)
    assert r.status_code in (302, 403, 404) and "models" not in r.text[:200]


@pytest.mark.slow
@pytest.mark.parametrize("path, status", [("nope", 404), ("models/1/bogus", 404), ("runs/abc", 400),
                                          (f"runs/{2**64}", 400), (f"models/{2**63}", 400),
                                          ("models?offset=" + "9" * 40, 400), ("diff", 400)])
def test_bad_panel_paths_answer_json_4xx_on_the_hub(hub, panels, path, status):
    r = _panel(hub, panels, "alice", path)
    assert r.status_code == status and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] in ("NotFoundError", "InputError") and r.json()["message"]


@pytest.mark.slow
def test_the_panel_stamp_moves_when_anyone_changes_the_team_registry(hub, panels, bob):
    """Live refresh on the hub: the counter the panel polls moves with another user's write through the API."""
    before = _panel(hub, panels, "alice", "version").json()["stamp"]
    assert _panel(hub, panels, "alice", "version").json()["stamp"] == before  # reads change nothing
    catalog = bob.model(int(bob.search("", limit=1)["id"][0]))
    bob.add_comment(catalog.id, "seen from alice's panel")
    after = _panel(hub, panels, "alice", "version").json()["stamp"]
    assert int(after) > int(before)
    comments = _panel(hub, panels, "alice", f"models/{catalog.id}/comments").json()
    assert ("bob", "seen from alice's panel") in [(c["author"], c["text"]) for c in comments]


@pytest.mark.slow
def test_selfcheck_passes_on_the_live_hub_and_fails_without_the_scope(hub, panels):
    """``python -m fmc_jupyter selfcheck`` against THIS deployment: the service, alice's token, her panel."""
    import subprocess
    import sys

    def selfcheck(token: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FMC_REGISTRY", "JUPYTERHUB_"))}
        env.update(FMC_REGISTRY_URL=hub.service_url(), JUPYTERHUB_API_TOKEN=token,
                   JUPYTERHUB_SERVICE_URL=panels["alice"].removesuffix("fmc/api/"))
        return subprocess.run([sys.executable, "-m", "fmc_jupyter", "selfcheck"], capture_output=True, text=True,
                              env=env, timeout=120)

    ok = selfcheck(hub.tokens["alice"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for row in ("service reachable", "service accepts the token", "token scopes", "registry round trip",
                "panel wired to the service"):
        assert any(line.startswith(row) and " PASS " in line for line in ok.stdout.splitlines()), (row, ok.stdout)
    assert "signed in as alice" in ok.stdout and f"serves {hub.service_url()} as alice" in ok.stdout
    narrow = hub.create_user("alice", scopes=["read:users:name!user=alice", "access:servers!user=alice"])
    bad = selfcheck(narrow)
    assert bad.returncode == 1 and "lacks the scope access:services!service=fmc-registry" in bad.stdout


@pytest.mark.slow
def test_owner_qualified_names_reach_the_panel_as_one_encoded_segment(hub, panels, private_model):
    record, _ = private_model
    r = _panel(hub, panels, "alice", "models/alice%2Falice-secret-net")  # what the panel's refPath() sends
    assert r.status_code == 200 and r.json()["id"] == record.id
    hidden, absent = _panel(hub, panels, "bob", "models/alice%2Falice-secret-net"), \
        _panel(hub, panels, "bob", "models/alice%2Fno-such-net")
    assert hidden.status_code == absent.status_code == 404 and hidden.json()["error"] == "NotFoundError"


def test_the_panel_pool_acts_only_as_the_owner_of_the_server_token(hub, monkeypatch):
    """A signed-in user other than the token's owner gets PermissionDeniedError (403), never the owner's view."""
    import asyncio

    from fmc_jupyter.server.pool import RegistryPool

    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.tokens["alice"])
    monkeypatch.delenv("FMC_REGISTRY_TOKEN", raising=False)
    monkeypatch.setenv("FMC_REGISTRY_URL", hub.service_url())
    pool = RegistryPool()
    try:
        assert pool.remote and pool.describe() == {"kind": "service", "location": hub.service_url()}
        stamp = asyncio.run(pool.call("alice", pool.change_stamp))
        assert stamp.isdigit()
        with pytest.raises(PermissionDeniedError, match="as 'alice'"):
            asyncio.run(pool.call("bob", lambda reg: reg.count("")))
    finally:
        pool.close()
