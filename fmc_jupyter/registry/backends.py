"""``open_registry(target)``: the one way every skin and service gets a registry, whatever the backend.

The backend is picked from the target through :data:`BACKENDS`, a table ``scheme -> factory(target, user)``
(mlflow's store registry pattern). A new backend is one new module plus one entry here:

========================  =====================================================================
target                    backend
========================  =====================================================================
``None``                  ``$FMC_REGISTRY_URL`` if set, else the embedded file ``$FMC_REGISTRY`` or
                          ``<jupyter data dir>/fmc/registry.db``
a path, ``sqlite:///p``   embedded SQLite (:class:`~fmc_jupyter.registry.registry.Registry`)
``"hub"``, ``http(s)://`` the team's registry service (:class:`~fmc_jupyter.registry.remote.RemoteRegistry`)
``postgresql://...``      a PostgreSQL server (:class:`~fmc_jupyter.registry.postgres.PostgresRegistry`;
                          artifacts in ``$FMC_ARTIFACTS``)
========================  =====================================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..config import default_registry_path
from ..errors import FmcError
from .interface import RegistryInterface

__all__ = ["open_registry", "BACKENDS", "scheme_of"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _embedded(target: str | os.PathLike, user: str | None) -> RegistryInterface:
    from .registry import Registry

    if isinstance(target, str) and target.lower().startswith(("sqlite:", "file:")):
        parsed = urlparse(target)
        if parsed.netloc not in ("", "localhost"):
            raise FmcError(f"{target!r}: an SQLite registry is a local file; write sqlite:///absolute/path.db")
        path = unquote(parsed.path)
        if not path:
            raise FmcError(f"{target!r} names no file; write sqlite:///absolute/path/registry.db")
        target = path
    return Registry(target, user=user)


def _remote(target: str, user: str | None) -> RegistryInterface:
    from .remote import open_remote_registry

    return open_remote_registry(None if target == "hub" else target, user=user)


def _postgresql(target: str, user: str | None) -> RegistryInterface:
    from .postgres import PostgresRegistry

    return PostgresRegistry(target, user=user)


#: scheme -> factory(target, user). ``"path"``: a plain file path; ``"hub"``: the word hub.
BACKENDS: dict[str, Callable[[Any, str | None], RegistryInterface]] = {
    "path": _embedded,
    "sqlite": _embedded,
    "file": _embedded,
    "hub": _remote,
    "http": _remote,
    "https": _remote,
    "postgresql": _postgresql,
    "postgres": _postgresql,
}


def scheme_of(target: Any) -> str:
    """The :data:`BACKENDS` key of ``target`` (``"path"`` for file paths)."""
    if isinstance(target, os.PathLike):
        return "path"
    if not isinstance(target, str):
        raise FmcError(f"open_registry takes a file path, 'hub' or a URL, not {type(target).__name__} {target!r:.60}")
    if target.strip().lower() == "hub":
        return "hub"
    m = _SCHEME.match(target.strip())
    if m:
        return m.group(1).lower()
    if re.match(r"^(sqlite|file):", target.strip(), re.I):
        return target.split(":", 1)[0].lower()
    return "path"


def open_registry(target: str | os.PathLike | None = None, user: str | None = None, *,
                  path: str | os.PathLike | None = None) -> RegistryInterface:
    """Open the registry ``target`` (creating and seeding an embedded one on first use); see the module table.

    ``user``: who reads and writes in an embedded registry (default :func:`config.current_user`); a remote
    registry's user is the one the hub signed in (a different ``user`` is refused). ``path=`` is the old
    name of ``target``.
    """
    if path is not None:
        if target is not None:
            raise FmcError("give open_registry one target, not both target and path=")
        target = path
    if target is None:
        target = os.environ.get("FMC_REGISTRY_URL") or default_registry_path()
    if isinstance(target, str) and not target.strip():
        raise FmcError("open_registry got an empty target; give a file path, 'hub' or a URL")
    scheme = scheme_of(target)
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = sorted(k for k in BACKENDS if k != "path")
        raise FmcError(f"no registry backend for '{scheme}://' targets; use a file path or one of "
                       f"{', '.join(k + '://' if k != 'hub' else k for k in known)}")
    return factory(Path(target) if isinstance(target, os.PathLike) else target, user)
