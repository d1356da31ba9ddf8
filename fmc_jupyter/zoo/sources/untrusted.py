"""Opening model files nobody vouched for without letting them hurt the caller.

A model file from a user (``reg.add_model``, an upload to the team service) is checked in two steps:

1. **In this process, reading only headers** (:func:`precheck`): the file exists and is a regular file, it
   is not empty, it starts with the signature of its format (zip ``PK\\x03\\x04`` for ``.keras``, the HDF5
   signature for ``.h5``, the FlatBuffer identifier ``TFL3`` at byte 4 for ``.tflite``); a ``.keras`` zip
   may not inflate past its own size plus :func:`inflate_cap_bytes` (a zip bomb is refused before a byte is
   inflated; Python's ``zipfile`` never inflates a member past its declared size), and its ``config.json``
   may not name Python code (a ``Lambda`` layer, or a function or class outside Keras such as ``os.system``).
2. **In a child process** (:func:`run_isolated`): the real load (Keras with ``safe_mode=True``, or the
   TFLite interpreter) runs in a spawned worker with an address-space limit (``RLIMIT_AS``,
   :func:`memory_cap_bytes`) and a wall-clock limit (:func:`time_cap_seconds`). A crash (a truncated TFLite
   file segfaults the interpreter), a memory blow-up or a hang kills only the worker; the caller gets a
   :class:`~fmc_jupyter.errors.ModelLoadError` saying what happened, and the next call starts a new worker.
   The worker is kept between calls (importing Keras takes seconds) and ended at exit.

Limits are read from the environment on each call: ``FMC_MAX_INFLATE_MB`` (default 256),
``FMC_INSPECT_MEMORY_MB`` (default 6144), ``FMC_INSPECT_TIMEOUT_S`` (default 300).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from ...errors import InputError, ModelLoadError

__all__ = ["precheck", "run_isolated", "inflate_cap_bytes", "memory_cap_bytes", "time_cap_seconds",
           "refuse_code_in_config", "shutdown_worker"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
TFLITE_IDENTIFIER = b"TFL3"
#: module prefixes a safe Keras config may name (layers, initializers, activations, ...)
_SAFE_MODULES = ("keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras")
_MAX_CONFIG_BYTES = 64 * 1024 * 1024


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text.strip() else default
    except ValueError:
        raise InputError(f"{name}={text!r} is not a number; unset it or give a number") from None
    if not value > 0:
        raise InputError(f"{name}={text!r} must be positive")
    return value


def inflate_cap_bytes() -> int:
    """How many bytes a ``.keras`` archive may inflate beyond its own size (``FMC_MAX_INFLATE_MB``, default 256)."""
    return int(_env_number("FMC_MAX_INFLATE_MB", 256) * 1024 * 1024)


def memory_cap_bytes() -> int:
    """Address-space limit of the inspecting worker (``FMC_INSPECT_MEMORY_MB``, default 6144)."""
    return int(_env_number("FMC_INSPECT_MEMORY_MB", 6144) * 1024 * 1024)


def time_cap_seconds() -> float:
    """Wall-clock limit of one inspection (``FMC_INSPECT_TIMEOUT_S``, default 300)."""
    return _env_number("FMC_INSPECT_TIMEOUT_S", 300)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


# ---------------------------------------------------------------------------------------------- step 1: headers
def precheck(path: str | Path, fmt: str) -> Path:
    """Refuse what is visibly not a model of format ``fmt`` (``keras`` zip, ``h5``, ``tflite``) from its headers."""
    path = Path(path).expanduser()
    name = path.name
    if not path.exists():
        raise InputError(f"model file {path} does not exist")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file; give the path of a model file")
    size = path.stat().st_size
    if size == 0:
        raise ModelLoadError(f"{name} is empty (0 bytes): not a model; check the upload or re-save the model")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if fmt == "keras":
        if head[:4] != ZIP_SIGNATURE:
            raise ModelLoadError(f"{name} is not a Keras archive: a .keras file is a zip, and this one does not start "
                                 "with a zip header (random bytes, or another format renamed?). Re-save the model "
                                 "with model.save('model.keras')")
        check_archive(path)
    elif fmt == "h5":
        if head[:8] != HDF5_SIGNATURE:
            raise ModelLoadError(f"{name} is not an HDF5 file (no HDF5 signature at its start); save the model with "
                                 "model.save('model.keras') and register that")
    elif fmt == "tflite":
        if size < 8 or head[4:8] != TFLITE_IDENTIFIER:
            raise ModelLoadError(f"{name} is not a TFLite model: a .tflite file is a FlatBuffer with the identifier "
                                 f"'TFL3' at byte 4, and this one has {head[4:8]!r}. Convert the model with "
                                 "tf.lite.TFLiteConverter")
    return path


def check_archive(path: Path) -> dict[str, Any]:
    """Check a ``.keras`` zip's directory (sizes only) and its ``config.json``; returns the parsed config."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            cap = inflate_cap_bytes()
            on_disk = path.stat().st_size
            if total > on_disk + cap:
                raise ModelLoadError(
                    f"refused: {name} would inflate to {_mb(total)}, more than its {_mb(on_disk)} on disk plus the "
                    f"cap of {_mb(cap)} (a zip bomb?). If you trust the file, raise the cap with the environment "
                    f"variable FMC_MAX_INFLATE_MB (e.g. FMC_MAX_INFLATE_MB={int(total / 1024 / 1024) + 1})")
            names = {i.filename: i for i in infos}
            if "config.json" not in names:
                raise ModelLoadError(f"{name} is a zip but not a Keras archive (no config.json); re-save the model "
                                     "with model.save('model.keras')")
            if names["config.json"].file_size > _MAX_CONFIG_BYTES:
                raise ModelLoadError(f"refused: the config.json of {name} is {_mb(names['config.json'].file_size)}, "
                                     f"more than {_mb(_MAX_CONFIG_BYTES)}")
            config = json.loads(zf.read("config.json"))
    except zipfile.BadZipFile as exc:
        raise ModelLoadError(f"{name} is not a readable Keras archive (a damaged or truncated zip: {exc}); "
                             "re-save the model with model.save('model.keras')") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{name}: its config.json is not valid JSON ({str(exc)[:120]}); re-save the model") from None
    refuse_code_in_config(config, name)
    return config


def refuse_code_in_config(config: Any, name: str) -> None:
    """Refuse a Keras config that carries Python code: a ``Lambda`` layer, or a callable/class outside Keras."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        cls, module = node.get("class_name"), node.get("module")
        if cls == "Lambda":
            raise ModelLoadError(
                f"refused: {name} contains Python code (Lambda layer '{(node.get('config') or {}).get('name', '?')}'); "
                "loading it would run that code. Rebuild the model without Lambda layers (a custom layer class, or "
                "plain Keras layers), or convert it to TFLite")
        if isinstance(module, str) and module and module.split(".")[0] not in _SAFE_MODULES and cls:
            raise ModelLoadError(
                f"refused: {name} refers to Python code outside Keras ({module}.{cls}); loading it would import and "
                "run it. Only models made of Keras (and KerasHub) objects can be registered")
        if cls in ("__lambda__", "__function__") and module not in _SAFE_MODULES:
            raise ModelLoadError(f"refused: {name} contains Python code (a serialised {cls.strip('_')}); loading it "
                                 "would run that code. Rebuild the model from Keras layers only")
        stack.extend(node.values())


# ---------------------------------------------------------------------------------------------- step 2: a worker
_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_POOL_LIMIT: int | None = None


def _limit_worker(memory: int) -> None:  # runs in the worker before any task
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _pool() -> ProcessPoolExecutor:
    global _POOL, _POOL_LIMIT
    memory = memory_cap_bytes()
    if _POOL is None or _POOL_LIMIT != memory:
        shutdown_worker()
        import multiprocessing
        import sys

        main = sys.modules.get("__main__")
        if main is not None and not hasattr(main, "__spec__"):
            # IPython's stand-in __main__ (a test shell, some kernels) lacks __spec__, which spawn reads to
            # decide how to re-import the parent's main module; None means "nothing to re-import"
            main.__spec__ = None

        _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_limit_worker, initargs=(memory,))
        _POOL_LIMIT = memory
    return _POOL


def shutdown_worker() -> None:
    """End the inspecting worker (it is started again on the next call)."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown_worker)


def run_isolated(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """``fn(*args)`` in the limited worker; ``what`` names the file in error messages.

    ``fn`` must be a module-level function returning plain data; a :class:`~fmc_jupyter.errors.FmcError` it
    raises comes back as itself, a crash, the memory limit or the time limit as :class:`ModelLoadError`.
    """
    import concurrent.futures

    import sys

    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):  # IPython's shell module: spawn reads __main__.__spec__
        main.__spec__ = None
    with _LOCK:
        pool = _pool()
        future = pool.submit(fn, *args)
        try:
            return future.result(timeout=time_cap_seconds())
        except concurrent.futures.TimeoutError:
            shutdown_worker()
            raise ModelLoadError(f"refused: inspecting {what} took longer than {time_cap_seconds():g} s and was "
                                 "stopped; if the model is just large, raise FMC_INSPECT_TIMEOUT_S") from None
        except BrokenProcessPool:
            code = _exit_code(pool)
            shutdown_worker()
            why = _signal_name(code)
            raise ModelLoadError(f"refused: {what} crashed the model reader ({why}); the file is corrupt or "
                                 "truncated. Re-export the model and register it again") from None
        except MemoryError:
            shutdown_worker()
            raise ModelLoadError(f"refused: reading {what} needed more than the {_mb(memory_cap_bytes())} "
                                 "inspection limit; if you trust the file, raise FMC_INSPECT_MEMORY_MB") from None


def _exit_code(pool: ProcessPoolExecutor) -> int | None:
    for proc in list(getattr(pool, "_processes", {}).values()):
        proc.join(timeout=5)
        if proc.exitcode is not None:
            return proc.exitcode
    return None


def _signal_name(code: int | None) -> str:
    import signal

    if code is None:
        return "the reader process died"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
