"""The team-service tests of tests/test_hub.py, run again with the service on PostgreSQL (the remote backend over
PostgreSQL): the same hub, users, single-user servers (each user's side panel) and assertions, but both service
processes serve one PostgreSQL database with a shared artifact folder. Tests that inspect the SQLite file or need
no service are left out."""

from __future__ import annotations

import pytest

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -e '.[test]'")

import test_hub  # noqa: E402
from fmc_jupyter.service.localhub import LocalHub, find_proxy_command  # noqa: E402
from test_hub import _own_cache_dir, alice, bob, bob_private, panels, private_model  # noqa: E402,F401  (fixtures)

_LEFT_OUT = {"test_service_killed_mid_load_restarts_clean_and_clients_recover",  # counts rows in the SQLite file
             "test_an_unreachable_service_says_so_and_gives_up_after_retry_for", "test_where_the_hub_service_is"}

for _name in dir(test_hub):
    if _name.startswith("test_") and _name not in _LEFT_OUT and callable(getattr(test_hub, _name)):
        globals()[_name] = getattr(test_hub, _name)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, postgres_server):
    if find_proxy_command() is None:
        pytest.skip("configurable-http-proxy is not installed: npm ci --prefix tests/hub (scripts/test.sh does it)")
    url = postgres_server.url(postgres_server.create_database())
    shared = tmp_path_factory.mktemp("pg-hub-artifacts")
    with LocalHub(tmp_path_factory.mktemp("pg-hub"), threads=2, registry=url, artifacts=str(shared)) as running:
        running.tokens = {name: running.create_user(name) for name in ("alice", "bob")}
        yield running
