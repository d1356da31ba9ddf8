"""The panel's registries: opened with ``open_registry(target)``, used only from worker threads.

On a plain Jupyter server the target is the embedded registry file; on a JupyterHub whose spawner sets
``$FMC_REGISTRY_URL`` (docs/deploying-on-jupyterhub.md) it is the team's registry service, reached with
the server's hub API token (``$JUPYTERHUB_API_TOKEN``, the server owner's). Registry calls block (SQLite,
or a ``requests`` call to the service), so every one runs in :attr:`RegistryPool.executor`, never on the
server's event loop; each worker thread keeps its own open registry per user, so no connection or HTTP
session is shared between threads.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..config import default_registry_path
from ..errors import FmcError, PermissionDeniedError
from ..registry import open_registry
from ..registry.backends import scheme_of

__all__ = ["RegistryPool", "is_service_target"]

T = TypeVar("T")


def is_service_target(target: str | os.PathLike | None, environ: dict[str, str] | None = None) -> bool:
    """Whether ``open_registry(target)`` opens the team's registry service (``"hub"``, ``http(s)://``)."""
    env = os.environ if environ is None else environ
    if target is None:
        return bool(env.get("FMC_REGISTRY_URL"))
    return scheme_of(target) in ("hub", "http", "https")


class RegistryPool:
    """The registries the panel's REST API reads and writes, and the threads that call them.

    ``target``: what :func:`fmc_jupyter.open_registry` opens: ``None`` (``$FMC_REGISTRY_URL`` if set, else
    the embedded default file ``$FMC_REGISTRY`` / the Jupyter data dir), a file path, ``"hub"`` or an
    ``http(s)://`` URL of the registry service, or any other target ``open_registry`` knows
    (``postgresql://``). ``threads``: worker threads for registry calls.
    """

    def __init__(self, target: str | os.PathLike | None = None, threads: int = 4):
        self.remote = is_service_target(target)
        if target is None and not self.remote:
            target = default_registry_path()
        self.target = target
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fmc-panel")
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def describe(self) -> dict[str, str]:
        """``{"kind": "service" | "file" | <URL scheme>, "location": <URL or path>}``: what the panel serves."""
        if self.remote:
            from ..registry.remote import hub_service_url

            try:
                location = hub_service_url() if self.target in (None, "hub") else str(self.target)
            except FmcError as exc:
                location = f"(unknown: {exc})"
            return {"kind": "service", "location": location}
        scheme = scheme_of(self.target)
        if scheme == "path":
            return {"kind": "file", "location": str(Path(self.target).expanduser())}
        return {"kind": scheme, "location": re.sub(r"//[^@/]*@", "//", str(self.target))}  # never a password

    def _open(self, user: str) -> Any:
        if not self.remote:
            return open_registry(self.target, user=user)
        registry = open_registry(self.target)  # the user is whoever the service says the token belongs to
        if registry.user != user:
            registry.close()
            raise PermissionDeniedError(
                f"this Jupyter server reaches the team registry as '{registry.user}' (its owner's hub token), "
                f"not as '{user}': open the Find My CNN panel in your own server")
        return registry

    def get(self, user: str) -> Any:
        """This thread's registry for ``user`` (opened on first use). Call it only from :attr:`executor`."""
        registries = getattr(self._local, "registries", None)
        if registries is None:
            registries = self._local.registries = {}
        registry = registries.get(user)
        if registry is None:
            registry = registries[user] = self._open(user)
            with self._lock:
                self._opened.append(registry)
        return registry

    async def call(self, user: str, work: Callable[[Any], T]) -> T:
        """``work(registry)`` in a worker thread, with ``user``'s registry; awaits its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: work(self.get(user)))

    @staticmethod
    def change_stamp(registry: Any) -> str:
        """The registry's counter of committed changes, as text (moves whenever any process or user commits)."""
        return str(int(registry.change_count()))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        with self._lock:
            for registry in self._opened:
                try:
                    registry.close()
                except Exception:  # noqa: BLE001 - closing at shutdown: nothing left to tell
                    pass
            self._opened.clear()
