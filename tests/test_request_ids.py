"""A retried write applies once: the service records each request id in the SAME transaction as its change.

Embedded: ``Registry.one_transaction(before_commit=...)`` (what the service wraps every write in) commits the change
and the record together or neither, for uploads, dataset stores and deletes too. Remote: the same request id sent
twice (a client retrying after a lost answer) gets the recorded answer and changes nothing more.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from _backends import _open_pair, model_files, unique  # noqa: F401  (fixtures)
from fmc_jupyter.registry import Registry
from fmc_jupyter.service import wire

TABLES = ["models", "datasets", "runs", "epochs", "comments", "checkpoints", "service_requests"]


def state(reg: Registry) -> tuple:
    counts = tuple(reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    files = sorted(p.name for p in reg.artifacts_root.rglob("*") if p.is_file()) if reg.artifacts_root.exists() else []
    return counts, reg.change_count(), files


class Crash(Exception):
    """Stands for the process dying between the change and its commit."""


@pytest.mark.parametrize("backend", ["embedded", "postgresql"])
@pytest.mark.parametrize("write", ["add_model", "add_dataset", "delete_model", "add_checkpoint", "start_run"])
def test_change_and_request_record_commit_together_or_not_at_all(tmp_path, model_files, write, backend, request):
    if backend == "postgresql":
        from fmc_jupyter.registry.postgres import PostgresRegistry

        server = request.getfixturevalue("postgres_server")
        reg = PostgresRegistry(server.url(server.create_database()), user="alice", artifacts=tmp_path / "artifacts")
    else:
        reg = Registry(tmp_path / "registry.db", user="alice")
    keep = reg.add_model(model_files[0], "kept")
    run_id = reg.start_run(keep)
    calls = {
        "add_model": lambda: reg.add_model(model_files[1], "uploaded"),
        "add_dataset": lambda: reg.add_dataset(np.ones((2, 4, 4, 3), np.uint8), [0, 1], "ones"),
        "delete_model": lambda: reg.delete_model(keep),
        "add_checkpoint": lambda: reg.add_checkpoint(model_files[2], run_id, 1),
        "start_run": lambda: reg.start_run(keep),
    }
    before = state(reg)

    def crash() -> None:
        raise Crash

    with pytest.raises(Crash):
        with reg.one_transaction(before_commit=crash):
            calls[write]()
    assert state(reg) == before  # nothing landed, no file added or removed
    request_id = uuid.uuid4().hex
    with reg.one_transaction(before_commit=lambda: reg.record_request(request_id, write, '{"result": 1}')):
        calls[write]()
    assert reg.request_answer(request_id) == '{"result": 1}'
    assert state(reg) != before
    reg.close()


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    yield from _open_pair("remote", tmp_path_factory)


def _post(pair, route, token_user, request_id, **kwargs):
    import requests

    headers = {"Authorization": f"token {pair.tokens[token_user]}", "X-FMC-Request-Id": request_id,
               **kwargs.pop("headers", {})}
    return requests.post(f"{pair.hub.service_url()}{route}", headers=headers, timeout=120, **kwargs)


def test_a_retried_upload_checkpoint_and_delete_apply_once(remote, model_files):
    alice = remote.alice
    name = unique("retried")
    body = model_files[0].read_bytes()
    args = {"X-FMC-Args": wire.dumps({"name": name}), "Content-Type": "application/octet-stream"}
    rid = uuid.uuid4().hex
    first = _post(remote, "api/models?filename=m.keras", "alice", rid, data=body, headers=args)
    again = _post(remote, "api/models?filename=m.keras", "alice", rid, data=body, headers=args)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert list(alice.versions(name)["version"]) == [1]
    model_id = first.json()["result"]["fields"]["id"]

    run_id = alice.start_run(model_id)
    rid = uuid.uuid4().hex
    ckpt = {"X-FMC-Args": wire.dumps({"run_id": run_id, "epoch": 1}), "Content-Type": "application/octet-stream"}
    a = _post(remote, "api/checkpoints?filename=c.keras", "alice", rid, data=model_files[1].read_bytes(), headers=ckpt)
    b = _post(remote, "api/checkpoints?filename=c.keras", "alice", rid, data=model_files[1].read_bytes(), headers=ckpt)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert list(alice.checkpoints(run_id)["epoch"]) == [1]

    rid = uuid.uuid4().hex
    delete = {"Content-Type": "application/json"}
    call = wire.dumps({"args": [model_id], "kwargs": {}})
    first = _post(remote, "api/call/delete_model", "alice", rid, data=call, headers=delete)
    again = _post(remote, "api/call/delete_model", "alice", rid, data=call, headers=delete)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    # someone else cannot replay alice's request id
    stolen = _post(remote, "api/call/delete_model", "bob", rid, data=call, headers=delete)
    assert stolen.status_code == 400 and stolen.json()["error"] == "InputError"
