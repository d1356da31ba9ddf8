"""The artifact store: content-addressed files written atomically.

A file is written under a temporary name in its final folder, flushed and fsynced, then renamed
over the final name (``os.replace`` is atomic on POSIX), and the folder is fsynced. A crash
therefore leaves either nothing or a complete file under the final name, never half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "store_file", "sha256_file"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(dest: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Create ``dest`` from ``write(fh)`` so that it appears complete or not at all."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return dest


def store_file(src: str | os.PathLike, root: Path, kind: str) -> tuple[str, str]:
    """Copy ``src`` into ``root/kind/<sha256>.<ext>``; returns ``(relative path, sha256)``.

    Storing the same content twice is a no-op that returns the existing path.
    """
    src = Path(src)
    digest = sha256_file(src)
    suffix = "".join(src.suffixes[-1:]).lower()
    rel = f"{kind}/{digest[:2]}/{digest}{suffix}"
    dest = root / rel
    if not dest.exists():
        with open(src, "rb") as fin:
            write_atomic(dest, lambda fout: shutil.copyfileobj(fin, fout, 1 << 20))
    return rel, digest
