"""A real S3-API server on 127.0.0.1 for the tests: moto's server mode, in its own process.

moto is an emulator of the S3 API (not AWS itself): it speaks the same HTTP protocol, so s3fs/botocore talk to it
exactly as they would to S3, MinIO or Ceph, which is what the artifact store's tests need.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

__all__ = ["s3_server", "S3Server"]


class S3Server:
    """``python -m moto.server`` on a free loopback port; ``options`` are the s3fs storage options to reach it."""

    key, secret = "fmc-test-key", "fmc-test-secret"

    def __init__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "S3Server":
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("moto's S3 server exited at start")
                time.sleep(0.1)
        raise RuntimeError("moto's S3 server did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    @property
    def options(self) -> dict:
        return {"key": self.key, "secret": self.secret, "client_kwargs": {"endpoint_url": self.endpoint,
                                                                          "region_name": "us-east-1"}}

    def env(self) -> dict[str, str]:
        """The standard AWS environment variables that point botocore (and so s3fs) at this server."""
        return {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret, "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def make_bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.key, aws_secret_access_key=self.secret,
                     region_name="us-east-1").create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server():
    pytest.importorskip("moto.server", reason="moto[server] (test extra) provides the S3-API emulator")
    server = S3Server().start()
    yield server
    server.stop()
