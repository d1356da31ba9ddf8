"""Pointing Keras's own weight loader at offline files.

Keras reads ``KERAS_HOME`` once, when it is imported, and looks for weights under
``$KERAS_HOME/models/<file name>`` before downloading. :func:`use_weights_dir` copies a folder laid
out that way (e.g. ``shared/data/keras``) into a private, writable directory and sets ``KERAS_HOME``,
so ``keras.applications.MobileNet(weights="imagenet")`` loads offline through Keras's own code.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import FmcError

__all__ = ["use_weights_dir"]


def use_weights_dir(keras_dir: str | os.PathLike, home: str | os.PathLike | None = None) -> Path:
    """Copy ``keras_dir`` (holding ``models/*.h5``) into ``home`` (default: a new temp dir); set ``KERAS_HOME``.

    Must run before Keras is imported; afterwards it only works if ``KERAS_HOME`` already points there.
    """
    keras_dir = Path(keras_dir)
    if not (keras_dir / "models").is_dir():
        raise FmcError(f"{keras_dir} has no models/ folder of Keras weight files")
    if "keras" in sys.modules:
        current = os.environ.get("KERAS_HOME")
        if current and (Path(current) / "models").is_dir():
            for f in (keras_dir / "models").iterdir():
                if not (Path(current) / "models" / f.name).exists():
                    shutil.copy2(f, Path(current) / "models" / f.name)
            return Path(current)
        raise FmcError("Keras is already imported, so KERAS_HOME can no longer change; call use_weights_dir "
                       "before anything imports Keras (e.g. first thing in the notebook), or set KERAS_HOME yourself")
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="fmc-keras-home-"))
    shutil.copytree(keras_dir, home, dirs_exist_ok=True)
    os.environ["KERAS_HOME"] = str(home)
    return home
