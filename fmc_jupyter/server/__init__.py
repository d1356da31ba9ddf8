"""Jupyter server extension: the REST API under ``/fmc/api/`` that the JupyterLab panel talks to.

Enabled by ``etc/jupyter/jupyter_server_config.d/fmc_jupyter.json`` (installed with the package), or by hand
with ``jupyter server extension enable fmc_jupyter.server``. The registry file is
``c.FmcServer.registry_path`` if configured, else the default (``$FMC_REGISTRY``, else the Jupyter data dir).
"""

from __future__ import annotations

from typing import Any

from .handlers import setup_handlers
from .pool import RegistryPool

__all__ = ["RegistryPool", "setup_handlers", "_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "fmc_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Open nothing yet: registries are opened per user on their first request (see :class:`RegistryPool`)."""
    path = serverapp.config.get("FmcServer", {}).get("registry_path") or None
    setup_handlers(serverapp.web_app, RegistryPool(path))
    serverapp.log.info("Find My CNN: REST API under %sfmc/api/", serverapp.web_app.settings.get("base_url", "/"))
