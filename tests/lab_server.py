"""Start a real ``jupyter lab`` on 127.0.0.1 and drive it with Debian's Chromium through Playwright.

Shared by tests/test_browser.py and benchmarks/panel.py. Never downloads a browser: the executable is
``/usr/bin/chromium`` (``apt-get install -y chromium``; scripts/test.sh installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "REPO", "LABEXTENSION", "missing_browser_parts", "jupyter_lab", "chromium"]

REPO = Path(__file__).resolve().parents[1]
LABEXTENSION = REPO / "fmc_jupyter" / "labextension"
CHROMIUM = Path(os.environ.get("FMC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def missing_browser_parts() -> str | None:
    """Why a browser test cannot run here, or ``None``."""
    if not CHROMIUM.exists():
        return f"Debian chromium is absent at {CHROMIUM} (apt-get install -y chromium; scripts/test.sh installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright; no browser download needed)"
    if not (LABEXTENSION / "package.json").exists():
        return f"the JupyterLab extension is not built at {LABEXTENSION} (python -m pip install -e . builds it)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(workdir: Path, registry: Path, user: str = "alice", timeout: float = 90) -> Iterator[str]:
    """Run ``jupyter lab`` serving ``workdir/notebooks`` on the registry file; yields ``http://127.0.0.1:PORT/``
    and the token as ``(url, token)``. Config, data and workspaces live under ``workdir`` (nothing of the user's).
    """
    port, token = _free_port(), secrets.token_hex(16)
    for sub in ("notebooks", "config", "data", "runtime", "workspaces", "labextensions"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    link = workdir / "labextensions" / "fmc-jupyter"
    if not link.exists():
        link.symlink_to(LABEXTENSION, target_is_directory=True)  # this checkout's build wins over an installed one
    settings = workdir / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    (workdir / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"fmc_jupyter.server": True}}}))
    env = {**os.environ, "FMC_REGISTRY": str(registry), "FMC_USER": user, "PYTHONPATH": str(REPO),
           "JUPYTER_CONFIG_DIR": str(workdir / "config"), "JUPYTER_DATA_DIR": str(workdir / "data"),
           "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workdir / 'notebooks'}",
           f"--LabApp.workspaces_dir={workdir / 'workspaces'}", f"--LabApp.user_settings_dir={workdir / 'settings'}", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.extra_labextensions_path={workdir / 'labextensions'}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
           "--ServerApp.open_browser=False", "--ServerApp.allow_root=True", "--LabServerApp.collaborative=False"]
    log = open(workdir / "jupyter-lab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=workdir / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {(workdir / 'jupyter-lab.log').read_text()[-3000:]}")
            try:
                req = urllib.request.Request(f"{url}fmc/api/version", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer in {timeout}s: "
                                   f"{(workdir / 'jupyter-lab.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium driven by Playwright (sync API); yields the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
