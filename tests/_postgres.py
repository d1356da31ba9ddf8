"""A real, throw-away PostgreSQL server for the tests: Debian's ``postgresql`` package, run from a temp dir.

``initdb`` creates a fresh cluster in a temporary folder and ``pg_ctl`` starts it on a free loopback port (and a
Unix socket in the same folder); stopping removes everything. PostgreSQL refuses to run as root, so when the tests
run as root (CI, fresh machines) the server runs as the ``postgres`` system user the Debian package creates.

Access rules of the cluster (pg_hba.conf): the superuser ``fmc`` logs in over the Unix socket without a password
(fixtures use it to create databases and roles); every TCP login on 127.0.0.1 needs its password (scram-sha-256),
so a wrong password really fails the way it does on a deployed server.

``scripts/test.sh`` installs the package on a fresh Debian machine; :func:`find_bindir` says what is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["PostgresServer", "find_bindir", "PostgresMissing"]

SUPERUSER = "fmc"
PASSWORD = "fmc-test-password"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The folder holding ``initdb``/``pg_ctl`` of the newest installed PostgreSQL (``$FMC_PG_BINDIR`` first)."""
    candidates = [os.environ.get("FMC_PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(os.path.realpath(which)).parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresMissing("PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's 'postgresql' "
                          "package (scripts/test.sh does) or set FMC_PG_BINDIR")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL cluster. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.bindir = find_bindir()
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="fmc-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self._as_postgres = os.geteuid() == 0
        self.started = False

    # -- running commands as the right user ------------------------------------------------------------------
    def _demote(self):
        if not self._as_postgres:
            return None
        pw = pwd.getpwnam("postgres")

        def demote() -> None:  # runs in the child before exec
            os.setgid(pw.pw_gid)
            os.initgroups("postgres", pw.pw_gid)
            os.setuid(pw.pw_uid)

        return demote

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PGTZ": "UTC"}
        proc = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                              preexec_fn=self._demote(), env=env, cwd=self.root, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        pwfile.unlink()
        options = (f"-c listen_addresses={self.host} -p {self.port} -c unix_socket_directories={self.socket_dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            finally:
                self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- URLs and databases --------------------------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = PASSWORD) -> str:
        """``postgresql://user:password@127.0.0.1:port/database`` (a TCP login that checks the password)."""
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def admin_connect(self, database: str = "postgres"):
        """A psycopg connection as the superuser over the Unix socket, in autocommit mode."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=database,
                               autocommit=True)

    def create_database(self, prefix: str = "fmc_test") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def sql(self, statement: str, database: str = "postgres", params: tuple = ()) -> list[tuple]:
        """Run one statement as the superuser; returns its rows (empty for statements without rows)."""
        with self.admin_connect(database) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []


# ---------------------------------------------------------------------------------------------------------------
# pytest fixtures (imported by conftest.py)
# ---------------------------------------------------------------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole test session, stopped and deleted at the end.

    Missing server binaries skip the PostgreSQL tests on a developer's machine and fail them under ``CI=true``:
    CI must run them (scripts/test.sh installs the package).
    """
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's server: its ``postgresql://`` URL (password login over TCP)."""
    return postgres_server.url(postgres_server.create_database())
