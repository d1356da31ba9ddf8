"""A throwaway JupyterHub on 127.0.0.1 with the registry service: for tests, benchmarks and trying it out.

Real parts only: ``jupyterhub`` (PyPI) with its ``DummyAuthenticator``, ``configurable-http-proxy`` (npm,
installed locally by ``npm ci --prefix tests/hub``), and the registry service twice over:

- ``fmc-registry``: a hub-managed service (the hub starts it and restarts it if it dies), as on a
  single-host hub;
- ``fmc-registry-ext``: an external service on its own registry file that *this* object starts and can
  kill (:meth:`LocalHub.kill_external`) and restart, as on a multi-node hub where it runs elsewhere.

Users' single-user servers are real ``jupyterhub.singleuser`` processes spawned by JupyterHub's
``SimpleLocalProcessSpawner`` (as this account, homes under ``workdir/home/``) when
:meth:`LocalHub.start_server` asks; their Find My CNN panel API serves the ``fmc-registry`` service.

Users are created and given API tokens through the hub's REST API, by an admin service token.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["LocalHub", "find_proxy_command", "free_port"]

_REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_proxy_command() -> str | None:
    """``$FMC_CHP``, else the project-local ``tests/hub/node_modules/.bin/configurable-http-proxy``."""
    candidates = [os.environ.get("FMC_CHP", ""), str(_REPO / "tests" / "hub" / "node_modules" / ".bin" /
                                                      "configurable-http-proxy")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


_CONFIG = """
import os
import sys
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{workdir}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = "{workdir}/proxy.pid"
c.JupyterHub.services = [
    {{"name": "fmc-registry", "url": "http://127.0.0.1:{service_port}",
      "command": [sys.executable, "-m", "fmc_jupyter.service", "--registry", {registry!r}],
      "environment": {{"PYTHONPATH": {pythonpath!r}, "FMC_SERVICE_THREADS": "{threads}", **{extra_env!r}}},
      "oauth_no_confirm": True}},
    {{"name": "fmc-registry-ext", "url": "http://127.0.0.1:{ext_port}", "api_token": {ext_token!r},
      "oauth_client_id": "service-fmc-registry-ext",
      "oauth_redirect_uri": "http://127.0.0.1:{port}/services/fmc-registry-ext/oauth_callback"}},
    {{"name": "fmc-test-admin", "api_token": {admin_token!r}}},
]
c.JupyterHub.load_roles = [
    # every user may use the registry services; their tokens (and kernels' tokens) carry the scope
    {{"name": "user", "scopes": ["self", "access:services!service=fmc-registry",
                                "access:services!service=fmc-registry-ext"]}},
    {{"name": "fmc-test-admin", "scopes": ["admin:users", "tokens", "list:users", "admin:servers"],
      "services": ["fmc-test-admin"]}},
]
# real single-user servers, spawned as local processes of this account (no system users needed), with the
# Find My CNN server extension; FMC_REGISTRY_URL makes their panel a window on the team registry service
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{workdir}/home/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--ServerApp.jpserver_extensions=fmc_jupyter.server=True"] + (
    ["--allow-root"] if os.geteuid() == 0 else [])  # containers often run as root
c.Spawner.environment = {{"PYTHONPATH": {pythonpath!r},
                         "FMC_REGISTRY_URL": "http://127.0.0.1:{port}/services/{panel_service}/"}}
c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user",
                                 "access:services!service=fmc-registry", "access:services!service=fmc-registry-ext"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
"""


class LocalHub:
    """A JupyterHub + proxy + registry services under ``workdir``; use as a context manager."""

    def __init__(self, workdir: str | os.PathLike, *, threads: int = 4, proxy_command: str | None = None,
                 registry: str | None = None, artifacts: str | None = None, panel_service: str = "fmc-registry"):
        """``registry``: one registry both services serve (``postgresql://...``: two replicas of one registry;
        then ``artifacts``, their shared ``FMC_ARTIFACTS``); default: each its own SQLite file under ``workdir``.
        ``panel_service``: the service whose URL users' servers get as ``FMC_REGISTRY_URL``."""
        self.panel_service = panel_service
        self.workdir = Path(workdir).resolve()
        self.registry, self.artifacts = registry, artifacts
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.chp = proxy_command or find_proxy_command()
        if not self.chp:
            raise FileNotFoundError("configurable-http-proxy is not installed: run `npm ci --prefix tests/hub` "
                                    "(scripts/test.sh does) or set FMC_CHP")
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.service_port, self.ext_port = free_port(), free_port()
        self.admin_token, self.ext_token = secrets.token_hex(32), secrets.token_hex(32)
        self.threads = threads
        self.url = f"http://127.0.0.1:{self.port}"
        self.hub: subprocess.Popen | None = None
        self.external: subprocess.Popen | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 90.0) -> "LocalHub":
        import requests

        config = self.workdir / "jupyterhub_config.py"
        config.write_text(_CONFIG.format(
            port=self.port, hub_port=self.hub_port, proxy_api_port=self.proxy_api_port, workdir=self.workdir,
            chp=self.chp, service_port=self.service_port, ext_port=self.ext_port, ext_token=self.ext_token,
            admin_token=self.admin_token, pythonpath=str(_REPO), threads=self.threads,
            registry=self.registry or f"{self.workdir}/registry/registry.db", extra_env=self._extra_env(),
            panel_service=self.panel_service))
        self.start_external()  # first: the hub waits for external services it cannot reach
        env = {**os.environ, "PYTHONPATH": str(_REPO)}
        env.pop("JUPYTERHUB_API_TOKEN", None)
        with open(self.workdir / "jupyterhub.log", "ab") as log:
            self.hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=self.workdir,
                                        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.hub.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.hub.returncode}); see {self.workdir}/jupyterhub.log:\n"
                                   + self.log_tail())
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok and self._service_up("fmc-registry"):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyterhub did not come up in {timeout:.0f} s:\n" + self.log_tail())
            time.sleep(0.3)
        return self

    def _service_up(self, name: str, base: str | None = None) -> bool:
        import requests

        try:  # any answer from the service itself (401 without a token) means it is listening
            r = requests.get(f"{base or self.url}/services/{name}/api/whoami", timeout=2)
            return r.status_code == 401
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "jupyterhub.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """Stop the external service, the hub (which stops its managed service) and the proxy."""
        self.kill_external(signal.SIGTERM)
        if self.hub and self.hub.poll() is None:
            self.hub.send_signal(signal.SIGTERM)
            try:
                self.hub.wait(20)
            except subprocess.TimeoutExpired:
                self.hub.kill()
                self.hub.wait(5)
        proxy_pid = self.workdir / "proxy.pid"
        if proxy_pid.exists():  # the hub normally stops its proxy; make sure
            try:
                os.kill(int(proxy_pid.read_text().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError, PermissionError):
                pass

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ users and tokens
    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        import requests

        r = requests.request(method, f"{self.url}/hub/api/{path}", data=None if body is None else json.dumps(body),
                             headers={"Authorization": f"token {token or self.admin_token}"}, timeout=30)
        r.raise_for_status()
        return r.json() if r.content else None

    def create_user(self, name: str, scopes: list[str] | None = None) -> str:
        """Create hub user ``name`` (if new) and return a fresh API token of theirs (``scopes``: default all)."""
        try:
            self.api("POST", f"users/{name}")
        except Exception as exc:  # noqa: BLE001 - 409: exists already
            if "409" not in str(exc):
                raise
        body: dict[str, Any] = {"note": "fmc test"}
        if scopes is not None:
            body["scopes"] = scopes
        return self.api("POST", f"users/{name}/tokens", body)["token"]

    def _extra_env(self) -> dict[str, str]:
        return {"FMC_ARTIFACTS": self.artifacts} if self.artifacts else {}

    def service_url(self, name: str = "fmc-registry") -> str:
        return f"{self.url}/services/{name}/"

    # ------------------------------------------------------------------ single-user servers
    def start_server(self, name: str, timeout: float = 180.0) -> str:
        """Spawn user ``name``'s single-user server (a real ``jupyterhub.singleuser`` process); its URL.

        The server runs the Find My CNN server extension with ``FMC_REGISTRY_URL`` pointing at the
        ``fmc-registry`` service, as docs/deploying-on-jupyterhub.md sets it up.
        """
        import requests

        try:
            self.api("POST", f"users/{name}/server")
        except requests.HTTPError as exc:  # 400: already running
            if exc.response is None or exc.response.status_code != 400:
                raise
        deadline = time.monotonic() + timeout
        while True:
            server = (self.api("GET", f"users/{name}").get("servers") or {}).get("", {})
            if server.get("ready"):
                return f"{self.url}/user/{name}/"
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server of {name} did not start in {timeout:.0f} s:\n" + self.log_tail())
            time.sleep(0.5)

    def stop_server(self, name: str, timeout: float = 60.0) -> None:
        """Stop user ``name``'s single-user server (if running) and wait until it is gone."""
        try:
            self.api("DELETE", f"users/{name}/server")
        except Exception:  # noqa: BLE001 - not running
            return
        deadline = time.monotonic() + timeout
        while (self.api("GET", f"users/{name}").get("servers") or {}) and time.monotonic() < deadline:
            time.sleep(0.5)

    # ------------------------------------------------------------------ the external service
    def start_external(self, timeout: float = 60.0) -> subprocess.Popen:
        """Start (or restart) ``fmc-registry-ext`` on ``workdir/registry-ext/registry.db``; wait until it listens.

        It needs no hub to start; it asks the hub who is calling when requests come.
        """
        if self.external and self.external.poll() is None:
            return self.external
        prefix = "/services/fmc-registry-ext/"
        env = {**os.environ, "PYTHONPATH": str(_REPO), "JUPYTERHUB_API_TOKEN": self.ext_token,
               "JUPYTERHUB_API_URL": f"http://127.0.0.1:{self.hub_port}/hub/api",
               "JUPYTERHUB_SERVICE_NAME": "fmc-registry-ext", "JUPYTERHUB_SERVICE_PREFIX": prefix,
               "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{self.ext_port}",
               "JUPYTERHUB_CLIENT_ID": "service-fmc-registry-ext", "JUPYTERHUB_BASE_URL": "/",
               "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
               "FMC_SERVICE_THREADS": str(self.threads), **self._extra_env()}
        target = self.registry or str(self.workdir / "registry-ext" / "registry.db")
        with open(self.workdir / "service-ext.log", "ab") as log:
            self.external = subprocess.Popen(
                [sys.executable, "-m", "fmc_jupyter.service", "--registry", target],
                cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._service_up("fmc-registry-ext", f"http://127.0.0.1:{self.ext_port}"):
            if self.external.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the external registry service did not start; see "
                                   f"{self.workdir}/service-ext.log")
            time.sleep(0.2)
        return self.external

    def kill_external(self, sig: int = signal.SIGKILL) -> None:
        """Kill the external service process (SIGKILL by default: no chance to clean up)."""
        if self.external and self.external.poll() is None:
            self.external.send_signal(sig)
            try:
                self.external.wait(15)
            except subprocess.TimeoutExpired:
                self.external.kill()
                self.external.wait(5)
