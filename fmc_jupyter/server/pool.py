"""One open :class:`Registry` per Jupyter user, all on the same registry file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..config import default_registry_path
from ..registry import Registry

__all__ = ["RegistryPool"]


class RegistryPool:
    """Opens the registry file once per user name and keeps it open for the life of the server.

    ``path`` ``None`` means the default registry (``$FMC_REGISTRY``, else the Jupyter data dir).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path).expanduser() if path else default_registry_path()
        self._open: dict[str, Registry] = {}
        self._lock = threading.Lock()

    def get(self, user: str) -> Registry:
        with self._lock:
            reg = self._open.get(user)
            if reg is None:
                reg = self._open[user] = Registry(self.path, user=user)
            return reg

    def change_stamp(self) -> str:
        """Cheap token that changes whenever any process commits to the registry (file and WAL stats)."""
        parts = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{self.path}{suffix}")
                parts.append(f"{st.st_mtime_ns:x}.{st.st_size:x}")
            except FileNotFoundError:
                parts.append("0")
        return "-".join(parts)

    def close(self) -> None:
        with self._lock:
            for reg in self._open.values():
                reg.close()
            self._open.clear()
