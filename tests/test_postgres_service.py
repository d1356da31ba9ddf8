"""Two registry-service replicas on one PostgreSQL database and one shared artifact folder, behind a real JupyterHub.

Real parts: a PostgreSQL server (tests/_postgres.py), jupyterhub + configurable-http-proxy, two service processes
(``fmc-registry`` managed by the hub, ``fmc-registry-ext`` started by the test) both run with
``--registry postgresql://...`` and the same ``FMC_ARTIFACTS``. Writers go through both at once while one
replica is SIGKILLed and restarted; every acknowledged write must be present exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import numpy as np
import pytest

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -e '.[test]'")
requests = pytest.importorskip("requests")

from fmc_jupyter.errors import NotFoundError  # noqa: E402
from fmc_jupyter.registry import RemoteRegistry  # noqa: E402
from fmc_jupyter.registry.postgres import PostgresRegistry  # noqa: E402
from fmc_jupyter.service.localhub import LocalHub, find_proxy_command  # noqa: E402

REPLICAS = ("fmc-registry", "fmc-registry-ext")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, postgres_server):
    if find_proxy_command() is None:
        pytest.skip("configurable-http-proxy is not installed: npm ci --prefix tests/hub (scripts/test.sh does it)")
    url = postgres_server.url(postgres_server.create_database())
    shared = tmp_path_factory.mktemp("shared-artifacts")
    with LocalHub(tmp_path_factory.mktemp("hub"), threads=2, registry=url, artifacts=str(shared)) as hub:
        hub.tokens = {name: hub.create_user(name) for name in ("alice", "bob")}
        hub.pg_url, hub.shared = url, shared
        yield hub


def _client(hub, user: str, replica: str, **kw) -> RemoteRegistry:
    return RemoteRegistry(hub.service_url(replica), hub.tokens[user], **kw)


def test_both_replicas_serve_one_registry(replicas):
    hub = replicas
    with _client(hub, "alice", REPLICAS[0]) as a, _client(hub, "alice", REPLICAS[1]) as a2, \
            _client(hub, "bob", REPLICAS[1]) as b:
        before = a2.change_count()
        x = np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3)
        dataset = a.add_dataset(x, [0, 1, 0, 1], "two-replicas", ["cat", "dog"])
        run_id = a.start_run("MobileNetV2", dataset="two-replicas", optimizer="adam")
        assert a2.change_count() > before  # the change counter is the database's, seen by every replica
        assert a2.run(run_id).owner == "alice"  # written through one replica, read through the other
        with pytest.raises(NotFoundError):
            b.run(run_id)  # private stays private on PostgreSQL too
        loaded = b.load_dataset(dataset.id)  # the arrays, written by one replica, served by the other
        assert np.array_equal(loaded.x, x)
        assert list(hub.shared.rglob("*.npz")), "the dataset file lies in the shared artifact folder"


def test_a_retry_landing_on_the_other_replica_is_applied_once(replicas):
    hub = replicas
    request_id = uuid.uuid4().hex
    body = {"args": ["MobileNetV2"], "kwargs": {"optimizer": "sgd", "config": {"retried": request_id}}}
    answers = []
    for replica in REPLICAS:  # the first answer "got lost"; the client retries on the other replica
        r = requests.post(f"{hub.service_url(replica)}api/call/start_run", json=body, timeout=60,
                          headers={"Authorization": f"token {hub.tokens['alice']}", "X-FMC-Request-Id": request_id})
        assert r.status_code == 200, r.text
        answers.append(r.json()["result"])
    assert answers[0] == answers[1]
    with PostgresRegistry(hub.pg_url, user="alice", artifacts=hub.shared) as reg:
        rows = reg.db.execute("SELECT id FROM runs WHERE config LIKE ?", [f"%{request_id}%"]).fetchall()
    assert [r[0] for r in rows] == [answers[0]]


@pytest.mark.slow
def test_writers_through_both_replicas_survive_a_sigkill(replicas):
    hub = replicas
    writers, runs_each = 4, 12
    acknowledged: list[tuple[int, int, int]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        replica = REPLICAS[worker % 2]
        user = ("alice", "bob")[worker // 2 % 2]
        try:
            with _client(hub, user, replica, retry_for=90, timeout=60) as reg:
                for i in range(runs_each):
                    run_id = reg.start_run("MobileNetV2", optimizer="adam", config={"worker": worker, "i": i})
                    reg.log_epoch(run_id, 0, loss=1.0 / (i + 1))
                    with lock:
                        acknowledged.append((worker, i, run_id))
        except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
            errors.append(f"worker {worker}: {exc!r}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < writers * runs_each // 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    at_kill = len(acknowledged)
    hub.kill_external()  # SIGKILL mid-run: calls in flight on this replica lose their answers
    time.sleep(0.5)
    hub.start_external()
    for t in threads:
        t.join(240)
    assert errors == []
    assert 0 < at_kill < writers * runs_each  # the replica died while writes were still coming
    assert len(acknowledged) == writers * runs_each
    with PostgresRegistry(hub.pg_url, user="checker", artifacts=hub.shared) as reg:
        rows = reg.db.execute("SELECT id, config FROM runs WHERE config LIKE '%worker%'").fetchall()
        epochs = dict(reg.db.execute("SELECT run_id, count(*) FROM epochs GROUP BY run_id").fetchall())
    by_key: dict[tuple[int, int], list[int]] = {}
    for run_id, config in rows:
        cfg = json.loads(config)
        by_key.setdefault((cfg["worker"], cfg["i"]), []).append(run_id)
    # every acknowledged write is there exactly once (no doubled start_run after a retry), with its epoch
    for worker, i, run_id in acknowledged:
        assert by_key[(worker, i)] == [run_id]
        assert epochs.get(run_id) == 1
    assert len(rows) == writers * runs_each
