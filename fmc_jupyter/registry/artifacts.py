"""The artifact store: content-addressed files written atomically, on a folder or any fsspec URL.

A file is written under a temporary name in its final folder, flushed and fsynced, then renamed
over the final name (``os.replace`` is atomic on POSIX), and the folder is fsynced. A crash
therefore leaves either nothing or a complete file under the final name, never half a file.
Folders are created with ``dir_mode`` and files get ``file_mode`` (private by default: 0700/0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import FmcError, InputError, NotFoundError

__all__ = ["write_atomic", "store_file", "sha256_file", "make_dirs", "content_path", "ArtifactStore",
           "LocalArtifactStore", "FsspecArtifactStore", "open_artifact_store"]


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


# ---------------------------------------------------------------------------------------------------------------
# Artifact stores: the same content-addressed, write-once layout (``<kind>/<hh>/<sha256><ext>``) on a local or shared
# folder, or on any fsspec URL. Every registry replica that shares one database must share one store.
# ---------------------------------------------------------------------------------------------------------------

#: fsspec protocols whose single-object writes appear complete or not at all (an object store's PUT / multipart
#: completion), so a write needs no temporary name; other protocols get a temporary name and a rename.
_ATOMIC_PUT_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"}
_REL = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


def _check_rel(rel: str) -> str:
    """A stored path is relative, made of plain segments, and never climbs out of the store (``..``)."""
    if not isinstance(rel, str) or not _REL.fullmatch(rel) or any(part in ("", ".", "..") for part in rel.split("/")):
        raise InputError(f"{rel!r} is not a path inside the artifact store")
    return rel


def content_path(kind: str, digest: str, suffix: str = "") -> str:
    """The store's relative path of content with sha256 ``digest``: ``kind/<first two hex>/<digest><suffix>``."""
    return _check_rel(f"{kind}/{digest[:2]}/{digest}{suffix.lower()}")


class ArtifactStore:
    """A content-addressed, write-once file store. Paths are relative (``models/ab/ab12....keras``).

    Subclasses implement :meth:`exists`, :meth:`write`, :meth:`open`, :meth:`local_path`, :meth:`delete`;
    :meth:`put_file` is the same for all: hash, then write once under the content's name.
    """

    url: str

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def write(self, rel: str, write: Callable[[BinaryIO], None]) -> str:
        """Create ``rel`` from ``write(fh)`` so that it appears complete or not at all; returns ``rel``."""
        raise NotImplementedError

    def open(self, rel: str) -> BinaryIO:
        """The stored file for reading (binary)."""
        raise NotImplementedError

    def local_path(self, rel: str, sha256: str | None = None) -> Path:
        """A local file with the stored content (the file itself, or a verified cached copy of a remote one)."""
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        """Remove ``rel`` if present (only when no record refers to it any more)."""
        raise NotImplementedError

    def put_file(self, src: str | os.PathLike, kind: str) -> tuple[str, str, bool]:
        """Copy ``src`` into the store as ``kind/<hh>/<sha256><ext>``; returns ``(relative path, sha256, created)``.

        Storing the same content twice writes nothing the second time and returns the same path (``created``
        False), like :func:`store_file`.
        """
        src = Path(src)
        digest = sha256_file(src)
        rel = content_path(kind, digest, "".join(src.suffixes[-1:]))
        if self.exists(rel):
            return rel, digest, False
        with open(src, "rb") as fin:
            self.write(rel, lambda fout: shutil.copyfileobj(fin, fout, 1 << 20))
        return rel, digest, True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class LocalArtifactStore(ArtifactStore):
    """The store in a folder on local disk or a shared filesystem (NFS, CephFS, ...).

    Safe for several hosts on NFS: a file is written under a unique temporary name in its final folder (created
    with ``O_EXCL``), fsynced, then renamed over the final name (atomic on the server), and the folder is fsynced;
    content-addressed names mean two writers of the same name write the same bytes.
    """

    def __init__(self, root: str | os.PathLike, dir_mode: int = 0o700, file_mode: int = 0o600):
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self.dir_mode, self.file_mode = dir_mode, file_mode

    def _path(self, rel: str) -> Path:
        return self.root / _check_rel(rel)

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def write(self, rel: str, write: Callable[[BinaryIO], None]) -> str:
        write_atomic(self._path(rel), write, self.dir_mode, self.file_mode)
        return rel

    def open(self, rel: str) -> BinaryIO:
        return open(self._path(rel), "rb")

    def local_path(self, rel: str, sha256: str | None = None) -> Path:
        return self._path(rel)

    def delete(self, rel: str) -> None:
        self._path(rel).unlink(missing_ok=True)


class FsspecArtifactStore(ArtifactStore):
    """The store under any fsspec URL (``s3://bucket/prefix``, ``gcs://...``, ``file:///...``).

    Writes go to an object store in one PUT (complete or absent); on other filesystems under a temporary name that
    is then moved. Reads for Keras/NumPy go through :meth:`local_path`: a copy in the local cache
    (``$FMC_CACHE_DIR/artifacts/<host>/...``), downloaded once, written atomically and checked against its sha256.
    ``storage_options`` go to fsspec (credentials, ``endpoint_url``); by default they come from fsspec's own
    configuration and the usual environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...).
    """

    def __init__(self, url: str, cache: str | os.PathLike | None = None, **storage_options: Any):
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a dependency of the postgres extra
            raise FmcError(f"artifact URL {url!r} needs fsspec: pip install 'fmc_jupyter[postgres]'") from exc
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise FmcError(f"cannot use artifact store {url!r}: {exc}. For s3:// install s3fs "
                           "(pip install 'fmc_jupyter[postgres]')") from exc
        self.url = url.rstrip("/")
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        self.atomic_put = bool(set(protocols) & _ATOMIC_PUT_PROTOCOLS)
        if cache is None:
            from ..config import cache_dir

            cache = cache_dir() / "artifacts" / re.sub(r"[^\w.-]+", "_", self.url)
        self.cache = Path(cache)

    def _path(self, rel: str) -> str:
        return f"{self.root}/{_check_rel(rel)}"

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self._path(rel)))

    def write(self, rel: str, write: Callable[[BinaryIO], None]) -> str:
        """Spool ``write(fh)`` to a local temporary file first; upload only what was written completely.

        (A file object of fsspec uploads what it holds when closed, even when closed by an exception.)
        """
        dest = self._path(rel)
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.cache, prefix=".upload.", suffix=".tmp") as spool:
            write(spool)
            spool.flush()
            if self.atomic_put:  # one PUT / completed multipart upload: the object appears whole or not at all
                self.fs.put_file(spool.name, dest)
                return rel
            parent = dest.rsplit("/", 1)[0]
            self.fs.makedirs(parent, exist_ok=True)
            tmp = f"{parent}/.{dest.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
            try:
                self.fs.put_file(spool.name, tmp)
                self.fs.mv(tmp, dest)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.rm(tmp)
                raise
        return rel

    def open(self, rel: str) -> BinaryIO:
        return self.fs.open(self._path(rel), "rb")

    def local_path(self, rel: str, sha256: str | None = None) -> Path:
        local = self.cache / _check_rel(rel)
        if local.is_file() and (sha256 is None or sha256_file(local) == sha256):
            return local
        try:
            with self.fs.open(self._path(rel), "rb") as fin:
                write_atomic(local, lambda fout: shutil.copyfileobj(fin, fout, 1 << 20))
        except FileNotFoundError:
            raise NotFoundError(f"the artifact {rel} is missing from {self.url}; the store was changed outside the "
                                "registry: restore it from a backup") from None
        if sha256 is not None and sha256_file(local) != sha256:
            local.unlink(missing_ok=True)
            raise FmcError(f"the artifact {rel} in {self.url} does not match its recorded sha256; it was changed "
                           "outside the registry: restore it from a backup")
        return local

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(rel))
        (self.cache / _check_rel(rel)).unlink(missing_ok=True)


def open_artifact_store(target: str | os.PathLike | ArtifactStore | None, default: str | os.PathLike | None = None,
                        **storage_options: Any) -> ArtifactStore:
    """The artifact store named by ``target``: a folder path, a ``file://`` URL, or any fsspec URL (``s3://...``).

    ``None`` means ``$FMC_ARTIFACTS``, else ``default`` (the folder beside an embedded registry file).
    """
    if isinstance(target, ArtifactStore):
        return target
    if target is None:
        target = os.environ.get("FMC_ARTIFACTS") or default
    if target is None:
        raise FmcError("no artifact store configured: set FMC_ARTIFACTS to a shared folder or an s3:// URL")
    text = os.fspath(target)
    if "://" not in text:
        return LocalArtifactStore(text)
    if text.startswith("file://"):
        return LocalArtifactStore(text[len("file://"):])
    return FsspecArtifactStore(text, **storage_options)
