"""Find My CNN: search, recommend and fine-tune pretrained image classifiers from Jupyter.

``import fmc_jupyter as fmc`` is fast: services that need Keras are imported on first use.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

# TensorFlow's C++ start-up INFO/WARNING lines (written to stderr, red in a notebook) are not fmc's output; errors
# still show, and a value the user set wins. TensorFlow reads this once, when the services first import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _drop_retracing_warning(record: logging.LogRecord) -> bool:
    """Every model fmc builds (the learning-rate finder's trials, each ranked candidate) gets its own predict
    function, which TensorFlow counts as "retracing" and warns about with advice that does not apply."""
    return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_drop_retracing_warning)  # TensorFlow's Python logger, made on import

from .errors import FmcError, InputError, ModelLoadError, NotFoundError, PermissionDeniedError, QueryError
from .registry import Registry, open_registry

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first attribute access)
_LAZY = {
    "rank": "fmc_jupyter.ranking",
    "Ranking": "fmc_jupyter.ranking",
    "finetune": "fmc_jupyter.finetuning",
    "TrainingRun": "fmc_jupyter.finetuning",
    "evaluate": "fmc_jupyter.evaluation",
    "auto": "fmc_jupyter.autopilot",
    "diff": "fmc_jupyter.modeldiff",
    "ModelDiff": "fmc_jupyter.modeldiff",
    "ui": "fmc_jupyter.widgets",
}

__all__ = [
    "open_registry", "Registry", "FmcError", "QueryError", "NotFoundError", "PermissionDeniedError",
    "InputError", "ModelLoadError", "load_ipython_extension", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'fmc_jupyter' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt side panel (``labextension/`` builds into ``fmc_jupyter/labextension``)."""
    return [{"src": "labextension", "dest": "fmc-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The REST API under ``/fmc/api/`` lives in :mod:`fmc_jupyter.server`."""
    return [{"module": "fmc_jupyter.server"}]


def load_ipython_extension(ipython) -> None:
    """``%load_ext fmc_jupyter``: registers the ``%findcnn`` magics."""
    from .magics import load_ipython_extension as _load

    _load(ipython)
