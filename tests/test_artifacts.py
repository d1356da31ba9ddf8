"""The artifact store: content-addressed and write-once, on a folder and on an S3-API server (moto, an emulator)."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from fmc_jupyter.errors import FmcError, InputError, NotFoundError
from fmc_jupyter.registry.artifacts import (FsspecArtifactStore, LocalArtifactStore, content_path,
                                            open_artifact_store, sha256_file)


def _file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _stores(tmp_path, s3):
    bucket = s3.make_bucket(f"fmc-{uuid.uuid4().hex[:8]}")
    return {
        "folder": LocalArtifactStore(tmp_path / "store"),
        # fsspec's local filesystem takes the temporary-name-then-move path every non-object store gets
        "fsspec-file": FsspecArtifactStore(f"file://{tmp_path / 'fsstore'}", cache=tmp_path / "cache-file"),
        "s3": FsspecArtifactStore(f"s3://{bucket}/team/artifacts", cache=tmp_path / "cache-s3", **s3.options),
    }


@pytest.mark.parametrize("kind", ["folder", "fsspec-file", "s3"])
def test_put_file_is_content_addressed_and_write_once(tmp_path, s3_server, kind):
    store = _stores(tmp_path, s3_server)[kind]
    data = os.urandom(3000)
    src = _file(tmp_path, "model.KERAS", data)
    rel, digest, created = store.put_file(src, "models")
    assert created and digest == hashlib.sha256(data).hexdigest()
    assert rel == f"models/{digest[:2]}/{digest}.keras" == content_path("models", digest, ".KERAS")
    assert store.exists(rel)
    with store.open(rel) as fh:
        assert fh.read() == data
    local = store.local_path(rel, sha256=digest)
    assert local.read_bytes() == data and sha256_file(local) == digest
    # the same content again: same path, nothing rewritten
    again = _file(tmp_path, "copy.keras", data)
    assert store.put_file(again, "models") == (rel, digest, False)
    # other content: another path
    other_rel, other_digest, _ = store.put_file(_file(tmp_path, "b.keras", b"other"), "models")
    assert other_rel != rel and other_digest != digest
    store.delete(rel)
    assert not store.exists(rel) and store.exists(other_rel)


@pytest.mark.parametrize("kind", ["folder", "fsspec-file", "s3"])
def test_a_failed_write_leaves_nothing(tmp_path, s3_server, kind):
    store = _stores(tmp_path, s3_server)[kind]
    rel = content_path("datasets", "ab" * 32, ".npz")

    def explode(fh):
        fh.write(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write(rel, explode)
    assert not store.exists(rel)
    if kind == "folder":  # no temporary file is left behind in the folder either
        assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    store.write(rel, lambda fh: fh.write(b"whole"))
    with store.open(rel) as fh:
        assert fh.read() == b"whole"


@pytest.mark.parametrize("rel", ["../escape.bin", "/etc/passwd", "models/../../x", "models//x", "", "a/./b", 7])
def test_paths_outside_the_store_are_refused(tmp_path, rel):
    store = LocalArtifactStore(tmp_path / "store")
    with pytest.raises(InputError, match="not a path inside the artifact store"):
        store.write(rel, lambda fh: fh.write(b"x"))
    assert not (tmp_path / "escape.bin").exists()


def test_remote_copy_is_checked_against_its_sha256(tmp_path, s3_server):
    store = _stores(tmp_path, s3_server)["s3"]
    rel, digest, _ = store.put_file(_file(tmp_path, "m.tflite", b"genuine bytes"), "models")
    # someone overwrites the object behind the registry's back
    with store.fs.open(store._path(rel), "wb") as fh:
        fh.write(b"tampered bytes")
    with pytest.raises(FmcError, match="does not match its recorded sha256"):
        store.local_path(rel, sha256=digest)
    assert not (tmp_path / "cache-s3" / rel).exists()  # the bad copy is not kept
    with pytest.raises(NotFoundError, match="missing from"):
        store.local_path(content_path("models", "cd" * 32, ".keras"))


def test_configuration_chooses_the_store(tmp_path, s3_server, monkeypatch):
    monkeypatch.delenv("FMC_ARTIFACTS", raising=False)
    assert isinstance(open_artifact_store(None, default=tmp_path / "beside-db"), LocalArtifactStore)
    assert open_artifact_store(f"file://{tmp_path}/shared").root == (tmp_path / "shared").resolve()
    with pytest.raises(FmcError, match="FMC_ARTIFACTS"):
        open_artifact_store(None)
    bucket = s3_server.make_bucket(f"fmc-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("FMC_ARTIFACTS", f"s3://{bucket}/prefix")
    for key, value in s3_server.env().items():  # the standard AWS variables reach the emulator
        monkeypatch.setenv(key, value)
    store = open_artifact_store(None, default=tmp_path / "ignored")
    assert isinstance(store, FsspecArtifactStore) and store.url == f"s3://{bucket}/prefix"
    rel, _, _ = store.put_file(_file(tmp_path, "x.npz", b"numbers"), "datasets")
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.key,
                          aws_secret_access_key=s3_server.secret, region_name="us-east-1")
    assert client.get_object(Bucket=bucket, Key=f"prefix/{rel}")["Body"].read() == b"numbers"
    with pytest.raises(FmcError, match="cannot use artifact store"):
        open_artifact_store("nosuchprotocol://bucket/x")
