"""The registry service: one JupyterHub-managed process that owns a team's registry (see ``app.py``).

Run it with ``python -m fmc_jupyter.service --db /srv/fmc/registry.db`` from ``jupyterhub_config.py``
(docs/deploying-on-jupyterhub.md). Clients use :class:`fmc_jupyter.registry.remote.RemoteRegistry`
(``fmc.open_registry("hub")``). Importing this package stays cheap: tornado and JupyterHub are imported
only by ``app``.
"""

__all__ = ["main"]


def main(argv=None) -> None:
    """Start the service (see :func:`fmc_jupyter.service.app.main`)."""
    from .app import main as _main

    _main(argv)
