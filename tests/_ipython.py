"""The ``%findcnn`` magics of a real IPython shell (the ``ipython`` fixture of conftest.py), pointed at a registry."""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import InteractiveShell

__all__ = ["load_magics"]


def load_magics(shell: InteractiveShell, registry: Any) -> InteractiveShell:
    """``shell`` with a fresh namespace, the extension loaded and its magics pointed at ``registry``."""
    shell.reset(new_session=False)
    shell.extension_manager.load_extension("fmc_jupyter")
    shell.magics_manager.registry["FindCnnMagics"].registry = registry
    return shell
