"""Jupyter server extension: the REST API under ``/fmc/api/`` that the JupyterLab panel talks to.

Enabled by ``etc/jupyter/jupyter_server_config.d/fmc_jupyter.json`` (installed with the package), or by hand
with ``jupyter server extension enable fmc_jupyter.server``. Which registry it serves is what
:func:`fmc_jupyter.open_registry` opens for ``c.FmcServer.registry`` (a file path, ``"hub"`` or an
``http(s)://`` URL of the team's registry service; ``c.FmcServer.registry_path`` is the older name): by
default ``$FMC_REGISTRY_URL`` when set (on a JupyterHub, the team's registry service, as the server's owner),
else the embedded file (``$FMC_REGISTRY``, else the Jupyter data dir).
"""

from __future__ import annotations

from typing import Any

from .handlers import setup_handlers
from .pool import RegistryPool

__all__ = ["RegistryPool", "setup_handlers", "_jupyter_server_extension_points", "_load_jupyter_server_extension",
           "_unload_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "fmc_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Open nothing yet: registries are opened per user on their first request (see :class:`RegistryPool`)."""
    config = serverapp.config.get("FmcServer", {})
    pool = RegistryPool(config.get("registry") or config.get("registry_path") or None,
                        threads=int(config.get("threads") or 4))
    setup_handlers(serverapp.web_app, pool)
    where = pool.describe()
    serverapp.log.info("Find My CNN: REST API under %sfmc/api/ serving the registry %s %s",
                       serverapp.web_app.settings.get("base_url", "/"), where["kind"], where["location"])


def _unload_jupyter_server_extension(serverapp: Any) -> None:
    """Close the registries and stop the worker threads when the server stops."""
    pool = serverapp.web_app.settings.get("fmc_registry_pool")
    if pool is not None:
        pool.close()
