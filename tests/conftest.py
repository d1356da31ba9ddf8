"""Shared fixtures. Runs before Keras is imported anywhere in the test session, so it can point
Keras's own weight cache (KERAS_HOME) at a private copy of the offline weights in ../shared/data."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="fmc-tests-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["FMC_CACHE_DIR"] = str(_SESSION_TMP / "cache")
os.environ["FMC_REGISTRY"] = str(_SESSION_TMP / "default-registry" / "registry.db")
os.environ.pop("FMC_USER", None)

from fmc_jupyter.config import shared_data_dir  # noqa: E402  (after the environment is set)
from fmc_jupyter.registry import Registry  # noqa: E402

SHARED_DATA = shared_data_dir()
if SHARED_DATA is not None and "KERAS_HOME" not in os.environ:
    from fmc_jupyter.zoo.keras_home import use_weights_dir

    use_weights_dir(SHARED_DATA / "keras", _SESSION_TMP / "keras_home")

from _postgres import postgres_server, postgres_url  # noqa: E402,F401  (fixtures: a real PostgreSQL server)
from _s3 import s3_server  # noqa: E402,F401  (fixture: an S3-API server on 127.0.0.1, moto's emulator)

NO_SHARED_DATA = "offline data folder ../shared/data (or $FMC_SHARED_DATA) is absent: real weights/images unavailable"


@pytest.fixture
def shared_data() -> Path:
    """The offline data folder; skips the test when it is absent."""
    if SHARED_DATA is None:
        pytest.skip(NO_SHARED_DATA)
    return SHARED_DATA


@pytest.fixture
def registry_path(tmp_path) -> Path:
    return tmp_path / "registry" / "registry.db"


@pytest.fixture
def tmp_registry(registry_path):
    """A fresh registry file, opened as user 'alice'."""
    reg = Registry(registry_path, user="alice")
    yield reg
    reg.close()


@pytest.fixture
def bob_registry(tmp_registry):
    """The same registry file as ``tmp_registry``, opened as user 'bob'."""
    reg = Registry(tmp_registry.path, user="bob")
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def ipython():
    """One IPython shell for the module, removed afterwards so later tests see no IPython.

    IPython installs its user module as ``sys.modules["__main__"]``; the real one is put back
    (multiprocessing's spawn, used by other tests, needs it).
    """
    main_module = sys.modules["__main__"]
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()
    sys.modules["__main__"] = main_module
