"""Model sources as plug-ins: one module per way a model reaches this machine, behind one interface.

=====================  ======================  ==========================================================
``source_kind``         module                  what it is
=====================  ======================  ==========================================================
``keras_application``   :mod:`.keras_application`  a ``keras.applications`` constructor (ImageNet weights)
``keras_file``          :mod:`.keras_file`      a stored ``.keras`` / ``.h5`` file
``tflite_file``         :mod:`.tflite`          a stored ``.tflite`` file (inference only)
``kerashub_preset``     :mod:`.kerashub`        a KerasHub preset (catalog name, ``hf://`` or ``kaggle://``
                                                handle, or a local preset directory)
=====================  ======================  ==========================================================

Services never switch on ``source_kind``: they ask ``source_of(record)`` (see :class:`.base.ModelSource`).
"""

from __future__ import annotations

from .base import (MODEL_FILE_SUFFIXES, SOURCES, ModelSource, WeightsStatus, get_source, register_source,
                   source_for_path, source_of)

__all__ = ["ModelSource", "WeightsStatus", "get_source", "source_of", "source_for_path", "register_source",
           "SOURCES", "MODEL_FILE_SUFFIXES", "inspect_target"]

_BUILTIN = ("keras_application", "keras_file", "tflite", "kerashub")


def _load_builtin_sources() -> None:
    """Import the built-in source modules (each registers itself); cheap after the first call."""
    if len(SOURCES) >= len(_BUILTIN):
        return
    import importlib

    for name in _BUILTIN:
        importlib.import_module(f"{__name__}.{name}")


def inspect_target(target) -> dict:
    """Catalog facts of a model file path or a ``hf://`` / ``kaggle://`` handle, by the source that reads it."""
    from .kerashub import is_handle

    if isinstance(target, str) and is_handle(target):
        return get_source("kerashub_preset").inspect(target)
    return source_for_path(target).inspect(target)


_load_builtin_sources()
