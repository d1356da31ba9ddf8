"""The artifact store: content-addressed files written atomically.

A file is written under a temporary name in its final folder, flushed and fsynced, then renamed
over the final name (``os.replace`` is atomic on POSIX), and the folder is fsynced. A crash
therefore leaves either nothing or a complete file under the final name, never half a file.
Folders are created with ``dir_mode`` and files get ``file_mode`` (private by default: 0700/0600).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "store_file", "sha256_file", "make_dirs"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def make_dirs(folder: Path, dir_mode: int = 0o700) -> None:
    """Create ``folder`` and its missing parents with exactly ``dir_mode`` (whatever the umask)."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    for p in missing:
        os.chmod(p, dir_mode)


def write_atomic(dest: str | os.PathLike, write: Callable[[BinaryIO], None], dir_mode: int = 0o700,
                 file_mode: int = 0o600) -> Path:
    """Create ``dest`` from ``write(fh)`` so that it appears complete or not at all."""
    dest = Path(dest)
    make_dirs(dest.parent, dir_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.fchmod(fd, file_mode)
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


def store_file(src: str | os.PathLike, root: Path, kind: str, dir_mode: int = 0o700,
               file_mode: int = 0o600) -> tuple[str, str, bool]:
    """Copy ``src`` into ``root/kind/<sha256>.<ext>``; returns ``(relative path, sha256, created)``.

    Storing the same content twice is a no-op that returns the existing path (``created`` False).
    """
    src = Path(src)
    digest = sha256_file(src)
    suffix = "".join(src.suffixes[-1:]).lower()
    rel = f"{kind}/{digest[:2]}/{digest}{suffix}"
    dest = root / rel
    if dest.exists():
        return rel, digest, False
    with open(src, "rb") as fin:
        write_atomic(dest, lambda fout: shutil.copyfileobj(fin, fout, 1 << 20), dir_mode, file_mode)
    return rel, digest, True
