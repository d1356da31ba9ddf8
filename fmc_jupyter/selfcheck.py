"""``python -m fmc_jupyter selfcheck``: check a live deployment and print a pass/fail table.

Run it where the thing to check lives:

- in a user's JupyterLab terminal or notebook on the hub (everything comes from the environment the hub set:
  ``$FMC_REGISTRY_URL``, ``$JUPYTERHUB_API_TOKEN``, ``$JUPYTERHUB_SERVICE_URL``): checks the service, the token,
  and that this user's panel serves the team registry;
- on the machine of the registry service, as an administrator: ``--registry /srv/fmc/registry.db`` adds the
  file-permission checks (folder ``0700``, files ``0600``);
- from anywhere with a token: ``--url https://hub.example.org/services/fmc-registry/ --server
  https://hub.example.org/user/alice/`` (token in ``$FMC_REGISTRY_TOKEN``).

Checks: where the service is; that it answers; that a hub API token is present, that the service accepts it
(scope ``access:services!service=<name>``) and which scopes it carries; a registry round trip; registry
file permissions; that the panel's server extension serves the service (not a private file). The exit status
is 1 if any check fails, else 0. Needs only ``requests``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = ["Check", "run_checks", "file_checks", "format_table", "main"]

PASS, FAIL, WARN, SKIP = "PASS", "FAIL", "WARN", "SKIP"


@dataclasses.dataclass
class Check:
    """One row of the table: what was checked, the verdict (PASS/FAIL/WARN/SKIP) and what was seen or to do."""

    name: str
    status: str
    detail: str


def _service_name(url: str) -> str:
    parts = [p for p in urlparse(url).path.split("/") if p]
    return parts[parts.index("services") + 1] if "services" in parts[:-1] else "fmc-registry"


def _get(url: str, token: str | None, timeout: float) -> Any:
    import requests

    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=timeout, allow_redirects=False)


def _service_checks(url: str, token: str | None, token_from: str, env: Mapping[str, str],
                    timeout: float) -> list[Check]:
    import requests

    checks = [Check("registry service URL", PASS, url)]
    try:
        anonymous = _get(url + "api/whoami", None, timeout)
    except requests.RequestException as exc:
        checks.append(Check("service reachable", FAIL, f"no answer from {url} ({type(exc).__name__}); is the "
                                                        "fmc-registry service running? see the hub's log"))
        return checks
    if anonymous.status_code != 401:
        checks.append(Check("service reachable", FAIL, f"{url}api/whoami answered HTTP {anonymous.status_code} "
                                                        "without a token (expected 401): is this the registry service?"))
        return checks
    checks.append(Check("service reachable", PASS, "answers and refuses requests without a token (401)"))
    if not token:
        checks.append(Check("hub API token", FAIL, "none: set FMC_REGISTRY_TOKEN (a token from the hub's Token page "
                                                    "with access:services!service=...) or run inside a hub server"))
        return checks
    checks.append(Check("hub API token", PASS, f"from {token_from}"))
    name = _service_name(url)
    me = _get(url + "api/whoami", token, timeout)
    if me.status_code == 200:
        user = me.json().get("user")
        checks.append(Check("service accepts the token", PASS, f"signed in as {user}"))
    else:
        why = {401: "the hub does not know this token (expired or revoked?)",
               403: f"the token lacks the scope access:services!service={name}: add it to the 'user' role and to "
                    "c.Spawner.server_token_scopes (docs/deploying-on-jupyterhub.md), then restart the server"}
        checks.append(Check("service accepts the token", FAIL,
                            why.get(me.status_code, f"HTTP {me.status_code}: {me.text[:200]}")))
        user = None
    hub_api = env.get("JUPYTERHUB_API_URL") or f"{urlparse(url).scheme}://{urlparse(url).netloc}/hub/api"
    try:
        model = _get(hub_api.rstrip("/") + "/user", token, timeout)
        scopes = model.json().get("scopes", []) if model.status_code == 200 else None
    except (requests.RequestException, ValueError):
        scopes = None
    if scopes is None:
        checks.append(Check("token scopes", SKIP, f"the hub API at {hub_api} did not list them"))
    else:
        enough = any(s in (f"access:services!service={name}", "access:services") for s in scopes)
        checks.append(Check("token scopes", PASS if enough else FAIL,
                            ", ".join(sorted(s for s in scopes if s.startswith("access:"))) or "no access scopes"))
    if user:
        try:
            r = requests.post(url + "api/call/count", json={"args": [], "kwargs": {}}, timeout=timeout,
                        headers={"Authorization": f"token {token}"})
            count = r.json()["result"] if r.status_code == 200 else None
        except (requests.RequestException, ValueError, KeyError):
            count = None
        checks.append(Check("registry round trip", PASS if isinstance(count, int) else FAIL,
                            f"{count} models visible to {user}" if isinstance(count, int) else
                            "the service could not answer a search; see its log"))
    return checks


def _panel_check(server: str | None, token: str | None, service_url: str | None, timeout: float) -> Check:
    import requests

    name = "panel wired to the service"
    if not server:
        return Check(name, SKIP, "not inside a user's server: give --server https://<hub>/user/<name>/")
    try:
        r = _get(server.rstrip("/") + "/fmc/api/version", token, timeout)
    except requests.RequestException as exc:
        return Check(name, FAIL, f"no answer from {server} ({type(exc).__name__})")
    if r.status_code == 404:
        return Check(name, FAIL, "the server has no /fmc/api/: enable the extension "
                                 "(jupyter server extension enable fmc_jupyter.server) and restart the server")
    if r.status_code != 200:
        return Check(name, FAIL, f"{server}fmc/api/version answered HTTP {r.status_code} (token of another user?)")
    registry = r.json().get("registry") or {}
    if registry.get("kind") != "service":
        return Check(name, FAIL, f"the panel serves {registry.get('kind', 'a')} {registry.get('location', '')}, not the "
                                 "team registry: set FMC_REGISTRY_URL in c.Spawner.environment, restart the server")
    where = registry.get("location", "")
    if service_url and where.rstrip("/") != service_url.rstrip("/"):
        return Check(name, WARN, f"the panel serves {where}, this check used {service_url}")
    return Check(name, PASS, f"serves {where} as {r.json().get('user')}")


def file_checks(target: str | os.PathLike) -> list[Check]:
    """Permissions of an embedded registry: its folder ``0700``, its files ``0600`` (no access for others;
    group access is reported as a warning: right only if you share the registry with a Unix group on purpose)."""
    path = Path(target).expanduser()
    if not path.exists():
        return [Check("registry file", FAIL, f"{path} does not exist")]
    rows = []
    artifacts = path.parent / f"{path.stem}-artifacts"
    items = [(path.parent, True), (path, False)] + [(Path(f"{path}{s}"), False) for s in ("-wal", "-shm")
                                                      if Path(f"{path}{s}").exists()]
    if artifacts.exists():
        items.append((artifacts, True))
    for item, is_dir in items:
        mode = stat.S_IMODE(item.stat().st_mode)
        want = 0o700 if is_dir else 0o600
        label = f"permissions of {item}"
        if mode & 0o007:
            rows.append(Check(label, FAIL, f"{mode:04o}: every local account can read it; chmod {want:04o} {item}"))
        elif mode & 0o070:
            rows.append(Check(label, WARN, f"{mode:04o}: group '{_group(item)}' has access (fine only if shared "
                                           f"with that group on purpose; else chmod {want:04o})"))
        else:
            rows.append(Check(label, PASS, f"{mode:04o}"))
    return rows


def _group(path: Path) -> str:
    try:
        import grp

        return grp.getgrgid(path.stat().st_gid).gr_name
    except (ImportError, KeyError):
        return str(path.stat().st_gid)


def run_checks(*, url: str | None = None, token: str | None = None, server: str | None = None,
               registry: str | None = None, env: Mapping[str, str] | None = None,
               timeout: float = 15.0) -> list[Check]:
    """Every check that applies, in order (see the module docstring); defaults come from ``env``."""
    from .errors import FmcError
    from .registry.remote import hub_service_url

    env = os.environ if env is None else env
    checks: list[Check] = []
    if url is None:
        try:
            url = hub_service_url(dict(env))
        except FmcError:
            url = None
    if url:
        url = url.rstrip("/") + "/"
        token_from = "--token" if token else next((f"${v}" for v in ("FMC_REGISTRY_TOKEN", "JUPYTERHUB_API_TOKEN")
                                                   if env.get(v)), "")
        token = token or env.get("FMC_REGISTRY_TOKEN") or env.get("JUPYTERHUB_API_TOKEN")
        checks += _service_checks(url, token, token_from, env, timeout)
    elif registry is None and env.get("JUPYTERHUB_USER"):
        checks.append(Check("registry service URL", FAIL, "on a JupyterHub but unknown: set FMC_REGISTRY_URL in the "
                                                          "hub's c.Spawner.environment, or give --url"))
    elif registry is None:  # a plain machine: the embedded default registry
        from .config import default_registry_path

        registry = str(default_registry_path())
        checks.append(Check("registry", PASS, f"embedded file {registry} (no FMC_REGISTRY_URL: not a team set-up)"))
    if registry is not None:
        checks += file_checks(registry)
    server = server or env.get("JUPYTERHUB_SERVICE_URL")
    if url or server:
        checks.append(_panel_check(server, token or env.get("JUPYTERHUB_API_TOKEN"), url, timeout))
    return checks


def format_table(checks: list[Check]) -> str:
    width = max([len(c.name) for c in checks] + [5])
    lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    lines += [f"{c.name:<{width}}  {c.status:<6}  {c.detail}" for c in checks]
    failed = sum(c.status == FAIL for c in checks)
    lines.append(f"\n{'FAILED' if failed else 'OK'}: {failed} of {len(checks)} checks failed"
                 + ("" if failed else f" ({sum(c.status == WARN for c in checks)} warnings)"))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the registry service, e.g. https://hub.example.org/services/fmc-registry/ "
                                      "(default: $FMC_REGISTRY_URL, else derived from the hub's environment)")
    parser.add_argument("--token", help="hub API token (default: $FMC_REGISTRY_TOKEN, else $JUPYTERHUB_API_TOKEN)")
    parser.add_argument("--server", help="a user's server whose panel to check, e.g. https://hub.example.org/user/"
                                         "alice/ (default: $JUPYTERHUB_SERVICE_URL inside a user's server)")
    parser.add_argument("--registry", metavar="PATH", help="registry file whose permissions to check (on the "
                                                           "service's machine, e.g. /srv/fmc/registry.db)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per HTTP request (default 15)")


def main(args: argparse.Namespace) -> int:
    checks = run_checks(url=args.url, token=args.token, server=args.server, registry=args.registry,
                        timeout=args.timeout)
    print(format_table(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0
