"""The registry service's connection pool: one open registry per worker thread, lent to one request at a time."""

from __future__ import annotations

import json

import pytest

from fmc_jupyter.errors import NotFoundError, PermissionDeniedError
from fmc_jupyter.registry import Registry
from fmc_jupyter.service.app import RegistryService


@pytest.fixture
def service(tmp_path):
    svc = RegistryService(tmp_path / "registry.db", threads=1)
    yield svc
    svc.close()


def call(svc: RegistryService, user: str, method: str, *args, run=None, **kwargs):
    return json.loads(svc.pool.submit(svc.call, user, method, list(args), kwargs, None, run).result())["result"]


def test_one_connection_serves_every_user_and_each_call_sees_only_its_users_models(service):
    add = lambda reg: reg.insert_models([{"name": "secret", "owner": reg.user, "visibility": "private",  # noqa: E731
                                          "source_kind": "keras_file"}])
    call(service, "alice", "insert_models", run=add)
    assert len(service._open) == 1
    (reg,) = service._open
    assert call(service, "alice", "count", "name=secret") == 1
    assert call(service, "bob", "count", "name=secret") == 0
    with pytest.raises(NotFoundError):
        service.pool.submit(service.call, "bob", "model", ["alice/secret"], {}, None).result()
    with pytest.raises(PermissionDeniedError):  # a refused call leaves the connection fit to lend again
        service.pool.submit(service.call, "alice", "update_model", ["MobileNetV2"], {"description": "x"},
                            None).result()
    assert call(service, "alice", "count", "name=secret") == 1
    assert service._open == {reg} and reg.user == "alice"  # the same connection, lent again (not reopened)


def test_a_failure_that_may_break_the_connection_retires_it(service):
    call(service, "alice", "count")
    (first,) = service._open

    def broken(reg: Registry):
        raise OSError("the disk went away")

    with pytest.raises(OSError):
        service.pool.submit(service.call, "alice", "count", [], {}, None, broken).result()
    assert first not in service._open
    assert call(service, "alice", "count") > 0  # a fresh connection answers
    assert len(service._open) == 1 and first not in service._open
