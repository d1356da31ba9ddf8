"""The registry: models, datasets, training runs, rankings, evaluations (SQLite + artifact store)."""

from .registry import BUSY_TIMEOUT_S, Registry, network_filesystem, open_registry
from .remote import RemoteRegistry

__all__ = ["Registry", "open_registry", "network_filesystem", "BUSY_TIMEOUT_S", "RemoteRegistry"]
