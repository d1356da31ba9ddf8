"""The panel's diff, computed in a child process so TensorFlow never loads into the Jupyter server.

:func:`diff_in_child` runs :func:`diff_as_dict` in a one-worker ``spawn`` process pool (a fresh interpreter:
no state of the server is copied into it, and whatever Keras imports stays there). The worker lives on for the
next diff; :func:`shutdown` ends it with the server.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..modeldiff import fold_layers

__all__ = ["diff_as_dict", "diff_in_child", "warm", "shutdown"]

_pool: ProcessPoolExecutor | None = None
_warming: Any = None  # the Future of the warm-up imports, once started
_lock = threading.Lock()


def diff_as_dict(path: str | None, user: str, a: str, b: str) -> dict[str, Any]:
    """``modeldiff.diff(a, b).to_dict()`` on the registry file ``path`` as ``user`` (``None``: the team's
    registry service of ``$FMC_REGISTRY_URL``, as the owner of the server's hub token), plus ``folded``: the
    layer rows folded by :func:`fold_layers`. Runs in the child process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ..modeldiff import diff
    from ..registry import open_registry

    with (open_registry(path, user=user) if path is not None else open_registry()) as registry:
        result = diff(a, b, registry=registry).to_dict()
    result["folded"] = fold_layers(result["layers"])
    return result


def _import_readers() -> bool:
    """In the child: import what a diff needs (the layer readers compute output shapes with Keras)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras  # noqa: F401
    except ImportError:
        return False
    from .. import modeldiff  # noqa: F401
    return True


def warm() -> None:
    """Start the child process and its imports now (a model page with two or more versions is open: a diff is
    likely), so the first diff does not wait for Keras to load. Returns at once; does nothing if it is warm."""
    global _warming
    with _lock:
        if _warming is not None:
            return
        _warming = _executor_locked().submit(_import_readers)


def _executor_locked() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _executor() -> ProcessPoolExecutor:
    with _lock:
        return _executor_locked()


async def diff_in_child(path: str | None, user: str, a: str, b: str) -> dict[str, Any]:
    """:func:`diff_as_dict` in the child process (started on first use, restarted if it died)."""
    global _pool, _warming
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), diff_as_dict, path, user, a, b)
    except BrokenProcessPool:
        with _lock:
            _pool, _warming = None, None
        return await loop.run_in_executor(_executor(), diff_as_dict, path, user, a, b)


def shutdown() -> None:
    """End the worker process (if one was started)."""
    global _pool, _warming
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool, _warming = None, None
