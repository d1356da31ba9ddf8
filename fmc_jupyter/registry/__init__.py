"""The registry: models, datasets, training runs, rankings, evaluations.

:class:`RegistryInterface` declares every operation; :func:`open_registry` picks the backend (embedded SQLite
:class:`Registry`, the team service's :class:`RemoteRegistry`, ...) from its target; :mod:`.access` decides who
sees what; :mod:`.fields` checks every value entering it.
"""

from .backends import BACKENDS, open_registry
from .interface import RegistryInterface
from .registry import BUSY_TIMEOUT_S, Registry, network_filesystem
from .remote import RemoteRegistry

__all__ = ["RegistryInterface", "Registry", "RemoteRegistry", "open_registry", "BACKENDS", "network_filesystem",
           "BUSY_TIMEOUT_S"]
