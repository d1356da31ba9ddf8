"""Where things live and who is asking: registry path, cache directory, current user.

Everything is configurable through environment variables so that notebooks, tests and
JupyterHub deployments can point the same code at different places:

``FMC_REGISTRY``     path of the embedded SQLite registry file.
``FMC_CACHE_DIR``    feature cache and other re-computable files.
``FMC_USER``         the user name the embedded registry records (else ``JUPYTERHUB_USER``,
                     else the login name).
``FMC_SHARED_DATA``  folder with offline weights and datasets (see ``shared/data/README.md``).
``FMC_REGISTRY_MODE`` ``private`` (default: registry folder 0700, files 0600) or ``group`` (folder 2770,
                     files 0660: share one embedded registry file with the folder's Unix group).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

__all__ = ["default_registry_path", "cache_dir", "current_user", "shared_data_dir", "registry_modes", "REGISTRY_MODES"]


def _jupyter_data_dir() -> Path:
    try:
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir())
    except ImportError:  # pragma: no cover - jupyter_core ships with every Jupyter install
        return Path.home() / ".local" / "share" / "jupyter"


def default_registry_path() -> Path:
    """``$FMC_REGISTRY``, else ``<jupyter data dir>/fmc/registry.db``."""
    env = os.environ.get("FMC_REGISTRY")
    if env:
        return Path(env).expanduser()
    return _jupyter_data_dir() / "fmc" / "registry.db"


#: ``FMC_REGISTRY_MODE`` -> (folder mode, file mode) of the embedded registry and its artifacts
REGISTRY_MODES = {"private": (0o700, 0o600), "group": (0o2770, 0o660)}


def registry_modes() -> tuple[int, int]:
    """(folder mode, file mode) for new registry folders and files, from ``$FMC_REGISTRY_MODE``."""
    from .errors import FmcError

    name = os.environ.get("FMC_REGISTRY_MODE", "").strip().lower() or "private"
    if name not in REGISTRY_MODES:
        raise FmcError(f"FMC_REGISTRY_MODE must be one of {', '.join(REGISTRY_MODES)}, not {name!r}")
    return REGISTRY_MODES[name]


def cache_dir() -> Path:
    """``$FMC_CACHE_DIR``, else ``~/.cache/fmc_jupyter``."""
    env = os.environ.get("FMC_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fmc_jupyter"


def current_user() -> str:
    """The user name recorded as owner: ``$FMC_USER``, ``$JUPYTERHUB_USER``, else the login name.

    This is a convenience for a single-user embedded registry. It is *not* an authentication:
    on a shared hub the registry service decides who is asking (see docs/deploying-on-jupyterhub.md).
    """
    for var in ("FMC_USER", "JUPYTERHUB_USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name in some containers
        return "user"


def shared_data_dir() -> Path | None:
    """The offline data folder: ``$FMC_SHARED_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("FMC_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None
