"""Let ``fmc.finetune(...)`` work even after ``import fmc_jupyter.finetune``.

The package exposes ``fmc.finetune`` (a function) lazily through ``__getattr__``; but importing the
submodule ``fmc_jupyter.finetune`` makes Python set the package attribute ``finetune`` to the *module*,
which then shadows the lazy function. Making the service module callable (forwarding to its function)
keeps ``fmc.finetune(...)``, ``fmc.evaluate(...)`` and ``fmc.auto(...)`` working in every import order.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

__all__ = ["make_module_callable"]


def make_module_callable(module_name: str, function_name: str) -> None:
    """Make ``sys.modules[module_name](...)`` call its ``function_name``."""
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            fn: Callable = getattr(self, function_name)
            return fn(*args, **kwargs)

    module.__class__ = CallableModule
