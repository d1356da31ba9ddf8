"""Registry backends for the contract and privacy suites: the same two users on each backend.

``BACKENDS`` lists what the suites run against. A new backend (PostgreSQL, issue 12) is one more entry in
``BACKENDS`` and one more branch in :func:`_open_pair` that yields alice's and bob's registries on ONE
shared registry; every contract and privacy test then runs against it too.

- ``embedded``: two :class:`Registry` objects on one SQLite file (real files, real SQLite);
- ``remote``: a real JupyterHub (``LocalHub``) with the registry service, alice and bob as hub users with
  their own API tokens, reached through :class:`RemoteRegistry` over HTTP.
- ``postgresql``: two :class:`PostgresRegistry` objects on one database of the tests' real PostgreSQL server
  (tests/_postgres.py), artifacts in one folder;
- ``remote-postgresql``: the ``remote`` set-up with both service processes on one PostgreSQL database and one
  shared artifact folder (two replicas; alice and bob each talk to one of them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from fmc_jupyter.registry import Registry, RegistryInterface

BACKENDS = ["embedded", "remote", "postgresql", "remote-postgresql"]


@dataclass
class Pair:
    """alice and bob on one registry of backend ``kind``; ``hub`` is the LocalHub of the remote backend."""

    kind: str
    alice: RegistryInterface
    bob: RegistryInterface
    hub: Any = None
    tokens: dict = field(default_factory=dict)

    def service_call(self, user: str, method: str, args: list | None = None, kwargs: dict | None = None):
        """The raw HTTP answer of the service to ``user`` calling ``method`` (remote backend only)."""
        import requests

        return requests.post(f"{self.hub.service_url()}api/call/{method}",
                             json={"args": args or [], "kwargs": kwargs or {}},
                             headers={"Authorization": f"token {self.tokens[user]}"}, timeout=60)


def unique(prefix: str) -> str:
    """A fresh name, so tests sharing one module-wide registry never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _open_pair(kind: str, tmp_path_factory, request=None):
    if kind == "embedded":
        path = tmp_path_factory.mktemp("embedded") / "registry.db"
        with Registry(path, user="alice") as alice, Registry(path, user="bob") as bob:
            yield Pair(kind, alice, bob)
        return
    if kind == "postgresql":
        from fmc_jupyter.registry.postgres import PostgresRegistry

        server = request.getfixturevalue("postgres_server")
        url, folder = server.url(server.create_database()), tmp_path_factory.mktemp("pg-artifacts")
        with PostgresRegistry(url, user="alice", artifacts=folder) as alice, \
                PostgresRegistry(url, user="bob", artifacts=folder) as bob:
            yield Pair(kind, alice, bob)
        return
    if kind in ("remote", "remote-postgresql"):
        pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -e '.[test]'")
        from fmc_jupyter.registry import RemoteRegistry
        from fmc_jupyter.service.localhub import LocalHub, find_proxy_command

        if find_proxy_command() is None:
            pytest.skip("configurable-http-proxy is not installed: npm ci --prefix tests/hub (scripts/test.sh does)")
        options, bob_service = {}, "fmc-registry"
        if kind == "remote-postgresql":
            server = request.getfixturevalue("postgres_server")
            options = {"registry": server.url(server.create_database()),
                       "artifacts": str(tmp_path_factory.mktemp("pg-shared-artifacts"))}
            bob_service = "fmc-registry-ext"  # the other replica
        with LocalHub(tmp_path_factory.mktemp("hub"), threads=2, **options) as hub:
            tokens = {name: hub.create_user(name) for name in ("alice", "bob")}
            with RemoteRegistry(hub.service_url(), tokens["alice"]) as alice, \
                    RemoteRegistry(hub.service_url(bob_service), tokens["bob"]) as bob:
                yield Pair(kind, alice, bob, hub, tokens)
        return
    raise ValueError(f"unknown backend {kind}")


@pytest.fixture(scope="module", params=BACKENDS)
def users(request, tmp_path_factory) -> Pair:
    """alice and bob on one registry of each backend in :data:`BACKENDS`."""
    yield from _open_pair(request.param, tmp_path_factory, request)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Four small real Keras classifier files with different contents."""
    pytest.importorskip("keras")
    from _keras_models import tiny_keras_model

    folder = tmp_path_factory.mktemp("contract-models")
    return [tiny_keras_model(folder / f"tiny{i}.keras", classes=2 + i % 2) for i in range(4)]
