"""``python -m fmc_jupyter selfcheck`` on an embedded registry: file permissions and exit status.

The live-deployment half (service, token scopes, panel wiring) runs against a real JupyterHub in
tests/test_hub.py::test_selfcheck_passes_on_the_live_hub_and_fails_without_the_scope.
"""

from __future__ import annotations

import os
import subprocess
import sys

import fmc_jupyter as fmc


def _selfcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FMC_REGISTRY", "JUPYTERHUB_"))}
    return subprocess.run([sys.executable, "-m", "fmc_jupyter", "selfcheck", *args], capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=120)


def test_a_private_registry_passes_and_a_world_readable_one_fails(tmp_path):
    path = tmp_path / "team" / "registry.db"
    fmc.open_registry(path, user="alice").close()
    ok = _selfcheck("--registry", str(path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"permissions of {path}  PASS    0600" in ok.stdout and "OK: 0 of" in ok.stdout
    path.chmod(0o644)
    (tmp_path / "team").chmod(0o755)
    bad = _selfcheck("--registry", str(path))
    assert bad.returncode == 1 and "FAILED: 2 of 2" in bad.stdout
    assert f"chmod 0600 {path}" in bad.stdout and f"chmod 0700 {tmp_path / 'team'}" in bad.stdout


def test_group_access_is_a_warning_not_a_failure(tmp_path):
    path = tmp_path / "shared" / "registry.db"
    fmc.open_registry(path, user="alice").close()
    path.chmod(0o660)
    (tmp_path / "shared").chmod(0o770)
    result = _selfcheck("--registry", str(path))
    assert result.returncode == 0 and result.stdout.count("WARN") == 2 and "has access" in result.stdout


def test_on_a_hub_without_the_service_url_it_says_what_to_set(tmp_path):
    result = _selfcheck(env={"JUPYTERHUB_USER": "alice"})
    assert result.returncode == 1 and "FMC_REGISTRY_URL" in result.stdout and "Spawner.environment" in result.stdout


def test_an_unreachable_service_fails_with_advice(tmp_path):
    from fmc_jupyter.service.localhub import free_port

    url = f"http://127.0.0.1:{free_port()}/services/fmc-registry/"
    result = _selfcheck("--url", url, "--timeout", "3", env={"FMC_REGISTRY_TOKEN": "x"})
    assert result.returncode == 1 and "service reachable" in result.stdout and "is the" in result.stdout
