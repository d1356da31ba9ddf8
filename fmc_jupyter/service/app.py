"""The registry service: one process that owns the registry file and artifact store, behind JupyterHub.

Every request is authenticated with JupyterHub (:class:`jupyterhub.services.auth.HubOAuth`): an API
token in an ``Authorization: token <token>`` header (kernels: ``$JUPYTERHUB_API_TOKEN``) or the
browser's hub login (OAuth cookie). The user a call acts for is the one JupyterHub names; nothing a
client sends can change it. Each call runs in a small thread pool on that thread's open registry
(``Registry(path)`` on the one file, or ``PostgresRegistry(url)`` when several replicas share a PostgreSQL
database; see :class:`RegistryService`), acting as the hub user, so SQLite's WAL + ``BEGIN IMMEDIATE`` (PostgreSQL: an advisory write lock) does the locking. The service runs no SQL of its
own: who may see what is decided by the registry's one authorization layer (:mod:`..registry.access`).

Routes (under ``$JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/services/fmc-registry/``)::

    GET  api/whoami                      {"user": name}
    POST api/call/<method>               {"args": [...], "kwargs": {...}} -> {"result": ...}   (wire.REMOTE_METHODS)
    POST api/models?filename=f.keras     body: the model file; X-FMC-Args: JSON kwargs of add_model
    POST api/checkpoints?filename=f.keras  body: the model file; X-FMC-Args: run_id, epoch + kwargs of add_checkpoint
    GET  api/models/<id>/artifact        the stored model file (if you can see the model)
    POST api/datasets                    body: npz with x, y[, class_names]; X-FMC-Args: name, description, source
    GET  api/datasets/<ref>/arrays       npz with x, y, class_names
    GET  ""                              a page saying who you are signed in as (browser login check)
    GET  oauth_callback                  JupyterHub OAuth callback

Dataset identity and records (``match_hashes``, ``record_hashes``, ``store_signature``, ``datasets_near``, ...):
the kernel sends image hashes and dataset signatures it computed, never images (unless it registers new ones
through ``api/datasets``); the service matches and compares them and never extracts features, so no request
imports TensorFlow or Keras (``tests/test_service_records.py``).

A change sent with an ``X-FMC-Request-Id`` header is recorded with its answer (migration 8) in the same
transaction as the change itself, for every kind of write (uploads and deletes included: their files are
written before and removed after that transaction), so a client that retries after losing the answer gets it
again instead of a second change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import inspect
import io
import logging
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import httpserver, ioloop, web

from ..errors import FmcError, InputError, RegistryUnavailableError
from ..registry.backends import scheme_of
from ..registry.registry import Registry
from ..registry.sqlite_driver import dbapi as sqlite3
from . import wire

__all__ = ["make_app", "main", "call_registry", "UPLOAD_METHODS"]

log = logging.getLogger("fmc_jupyter.service")
MAX_BODY_BYTES = int(os.environ.get("FMC_SERVICE_MAX_BODY", str(2 << 30)))
_FILENAME = re.compile(r"^[\w+-][\w.+-]{0,200}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


#: writes that reach the service through their own upload routes, not api/call
UPLOAD_METHODS = frozenset({"add_model", "add_checkpoint", "add_dataset"})


def open_backend(target: str | Path, user: str) -> Registry:
    """The registry the service serves, as ``user``: the embedded file, or a PostgreSQL database (a URL).

    Never the HTTP client of another service: the service is where the registry's data lives.
    """
    if isinstance(target, str) and scheme_of(target) in ("postgresql", "postgres"):
        from ..registry.postgres import PostgresRegistry

        return PostgresRegistry(target, user=user)
    return Registry(target, user=user)


def call_registry(reg: Registry, method: str, args: list, kwargs: dict, request_id: str | None,
                  run: Callable[[Registry], Any] | None = None) -> str:
    """Run one registry call on ``reg`` (acting for the caller) and return the JSON answer text.

    A write (:data:`wire.WRITE_METHODS` and the uploads) runs in ONE transaction together with the record of
    ``request_id`` and its answer; a retry of a recorded request gets the recorded answer and changes nothing.
    """
    if run is None:
        if method not in wire.REMOTE_METHODS:
            raise InputError(f"the registry service has no operation '{method}'")
        fn = getattr(reg, method)
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise InputError(f"bad arguments for {method}: {exc}") from None
        run = lambda r: getattr(r, method)(*args, **kwargs)  # noqa: E731
    if method not in wire.WRITE_METHODS and method not in UPLOAD_METHODS:  # reads: nothing to remember
        return wire.dumps({"result": wire.encode_value(run(reg))})
    if request_id:
        prior = reg.request_answer(request_id)
        if prior is not None:
            log.info("replayed the recorded answer to request %s of %s (a retry after a lost answer)",
                     request_id, reg.user)
            return prior
    answer: list[str] = []

    def record() -> None:
        if request_id:
            reg.record_request(request_id, method, answer[0])

    try:
        with reg.one_transaction(before_commit=record):
            answer.append(wire.dumps({"result": wire.encode_value(run(reg))}))
    except sqlite3.IntegrityError:  # the same request id, applied by a concurrent retry just now
        prior = reg.request_answer(request_id) if request_id else None
        if prior is None:
            raise
        return prior
    return answer[0]


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Authenticates with JupyterHub in :meth:`prepare`; maps registry errors to JSON + HTTP status."""

    def initialize(self, service: "RegistryService") -> None:
        self.service = service
        self.hub_auth = service.hub_auth

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        if model:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                raise web.HTTPError(403, f"{model.get('kind', 'user')} {model.get('name')} may not use the "
                                         "registry service (missing scope access:services!service=...)") from None
        if not model:
            raise web.HTTPError(401, "sign in: send your JupyterHub API token as 'Authorization: token <token>' "
                                     "($JUPYTERHUB_API_TOKEN in a kernel) or log in to the hub")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, f"{model.get('kind')} {model.get('name')} is not a hub user; "
                                     "only users own and read registry entries")
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.hub_auth.check_xsrf_cookie(self)  # no-op for token-authenticated requests
        self.current_user = model
        self.hub_user: str = model["name"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error answer is JSON in the shared vocabulary (:mod:`fmc_jupyter.httpapi`)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if exc is None:
            exc = web.HTTPError(status_code, self._reason)
        status, body = wire.error_payload(exc)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(wire.dumps(body))

    def fail(self, exc: BaseException) -> None:
        status, body = wire.error_payload(exc)
        if status >= 500:
            log.exception("registry call failed", exc_info=exc)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(wire.dumps(body))

    def request_id(self) -> str | None:
        rid = self.request.headers.get("X-FMC-Request-Id")
        if rid and not _REQUEST_ID.match(rid):
            raise web.HTTPError(400, "X-FMC-Request-Id must be 8-64 letters, digits, '-' or '_'")
        return rid

    def header_args(self) -> dict[str, Any]:
        text = self.request.headers.get("X-FMC-Args", "{}")
        try:
            kwargs = wire.loads(text)
        except ValueError:
            raise web.HTTPError(400, "X-FMC-Args must be a JSON object") from None
        if not isinstance(kwargs, dict):
            raise web.HTTPError(400, "X-FMC-Args must be a JSON object")
        return kwargs

    async def in_pool(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.service.pool, fn)

    async def answer(self, method: str, args: list, kwargs: dict, run: Callable[[Registry], Any] | None = None):
        rid = self.request_id()
        try:
            text = await self.in_pool(lambda: self.service.call(self.hub_user, method, args, kwargs, rid, run))
        except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer
            return self.fail(exc)
        self.set_header("Content-Type", "application/json")
        self.finish(text)


class WhoAmIHandler(BaseHandler):
    def get(self) -> None:
        self.finish({"user": self.hub_user, "service": "fmc-registry"})


class CallHandler(BaseHandler):
    """The one generic route: ``POST api/call/<method>`` with ``{"args": [...], "kwargs": {...}}``."""

    async def post(self, method: str) -> None:
        try:
            body = wire.loads(self.request.body or b"{}")
            args, kwargs = body.get("args", []), body.get("kwargs", {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ValueError
        except (ValueError, AttributeError):
            raise web.HTTPError(400, 'the body must be JSON: {"args": [...], "kwargs": {...}}') from None
        await self.answer(method, args, kwargs)  # plain JSON: records are never rebuilt from what clients send


class ModelUploadHandler(BaseHandler):
    """``POST api/models?filename=...``: the body is a model file, registered with ``add_model``
    (``api/checkpoints``: with ``add_checkpoint``)."""

    method = "add_model"

    async def post(self) -> None:
        filename = Path(self.get_argument("filename", "model.keras")).name
        if not _FILENAME.match(filename):
            raise web.HTTPError(400, "filename= must be a plain file name like my_model.keras")
        kwargs = self.header_args()
        if self.method == "add_model":
            kwargs.setdefault("name", Path(filename).stem)
        body, method = self.request.body, self.method

        def run(reg: Registry):
            fn = getattr(reg, method)
            try:
                inspect.signature(fn).bind("file", **kwargs)
            except TypeError as exc:
                raise InputError(f"bad arguments for {method}: {exc}") from None
            with tempfile.TemporaryDirectory(prefix="fmc-upload-") as tmp:
                path = Path(tmp) / filename
                path.write_bytes(body)
                return fn(path, **kwargs)

        await self.answer(method, [], kwargs, run)


class CheckpointUploadHandler(ModelUploadHandler):
    method = "add_checkpoint"


class ModelArtifactHandler(BaseHandler):
    """``GET api/models/<ref>/artifact``: the stored file of a model you can see."""

    async def get(self, ref: str) -> None:
        def find():
            with self.service.registry(self.hub_user) as reg:
                record = reg.model(ref)
                return record, reg.artifact_path(record)

        try:
            record, path = await self.in_pool(find)
        except Exception as exc:  # noqa: BLE001
            return self.fail(exc)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("X-FMC-Sha256", record.sha256 or "")
        self.set_header("Content-Disposition", f'attachment; filename="{path.name}"')
        await self.stream(path)

    async def stream(self, path: Path) -> None:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()


class DatasetUploadHandler(BaseHandler):
    """``POST api/datasets``: the body is an npz with ``x``, ``y`` and optional ``class_names``."""

    async def post(self) -> None:
        kwargs = self.header_args()
        unknown = set(kwargs) - {"name", "description", "source"}
        if unknown:
            raise web.HTTPError(400, f"unknown dataset arguments {sorted(unknown)}")
        body = self.request.body

        def run(reg: Registry):
            try:
                with np.load(io.BytesIO(body), allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
            except Exception as exc:  # noqa: BLE001 - any unreadable upload
                raise InputError(f"the dataset upload is not a readable npz file: {exc}") from None
            if "x" not in arrays or "y" not in arrays:
                raise InputError("the dataset upload needs arrays 'x' and 'y'")
            names = arrays.get("class_names")
            return reg.add_dataset(arrays["x"], arrays["y"], kwargs.pop("name", None),
                                   None if names is None else [str(c) for c in names], **kwargs)

        await self.answer("add_dataset", [], kwargs, run)


class DatasetArraysHandler(ModelArtifactHandler):
    """``GET api/datasets/<ref>/arrays``: the stored npz of a dataset (datasets are public)."""

    async def get(self, ref: str) -> None:
        def find():
            with self.service.registry(self.hub_user) as reg:
                record = reg.dataset(ref)
                return reg.artifact_path(record)

        try:
            path = await self.in_pool(find)
        except Exception as exc:  # noqa: BLE001
            return self.fail(exc)
        self.set_header("Content-Type", "application/octet-stream")
        await self.stream(path)


class NoRouteHandler(BaseHandler):
    """Any other path under ``api/``: a JSON 404 (or 405 for a known path with the wrong method)."""

    def _none(self, *args: Any) -> None:
        raise web.HTTPError(404, f"the registry service has no route {self.request.method} {self.request.path}; "
                                 "see docs/deploying-on-jupyterhub.md for its HTTP API")

    get = post = put = patch = delete = _none


class HomeHandler(BaseHandler):
    """The service's page: tells a signed-in browser who the registry thinks it is."""

    async def prepare(self) -> None:  # browsers: redirect to the hub login instead of 401
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            return self.redirect(self.get_login_url())
        await super().prepare()

    def get(self) -> None:
        self.finish(f"<html><body><h3>Find My CNN registry</h3><p>Signed in as "
                    f"<b>{html.escape(self.hub_user)}</b>.</p></body></html>")


class RegistryService:
    """The registry, a thread pool and the JupyterHub auth object shared by every handler.

    Connection pool: each of the ``threads`` worker threads keeps one open registry (one SQLite connection, or one
    PostgreSQL connection) and lends it to one request at a time, acting for that request's user
    (:meth:`Registry.act_as`); a connection that may be broken by a failure is closed and the next call opens a
    fresh one. So a call costs no connect, no schema check, and the database sees at most ``threads``
    connections per replica.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 4):
        if isinstance(path, str) and scheme_of(path) not in ("path", "sqlite", "file", "postgresql", "postgres"):
            raise FmcError(f"the registry service serves a registry file or a postgresql:// database, not {path!r}")
        self.path: Path | str = path if isinstance(path, str) and "://" in path else Path(path).expanduser().resolve()
        open_backend(self.path, user="fmc-service").close()  # create + migrate once, before serving
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fmc-registry")
        self._local = threading.local()
        self._open: set[Registry] = set()
        self._lock = threading.Lock()
        # the one HubOAuth of the process: the OAuth callback handler uses HubOAuth.instance() and must find the
        # login states (PKCE verifiers) that our handlers stored
        self.hub_auth = HubOAuth.instance(cache_max_age=60)


    @contextlib.contextmanager
    def registry(self, user: str) -> Iterator[Registry]:
        """This worker thread's open registry, acting for ``user`` (see the class docstring)."""
        reg = getattr(self._local, "registry", None)
        if reg is None:
            reg = open_backend(self.path, user=user)
            with self._lock:
                self._open.add(reg)
            self._local.registry = reg
        try:
            yield reg.act_as(user)
        except BaseException as exc:
            if not isinstance(exc, FmcError) or isinstance(exc, RegistryUnavailableError) or reg._depth:
                self._discard(reg)  # the connection may be broken or mid-transaction: never lend it again
            raise

    def _discard(self, reg: Registry) -> None:
        self._local.registry = None
        with self._lock:
            self._open.discard(reg)
        with contextlib.suppress(Exception):
            reg.close()

    def call(self, user: str, method: str, args: list, kwargs: dict, request_id: str | None,
             run: Callable[[Registry], Any] | None = None) -> str:
        """:func:`call_registry` on this worker thread's registry, acting for ``user``."""
        with self.registry(user) as reg:
            return call_registry(reg, method, args, kwargs, request_id, run)

    def close(self) -> None:
        """Let running calls finish, then close every pooled connection."""
        self.pool.shutdown(wait=True)
        with self._lock:
            opened, self._open = list(self._open), set()
        for reg in opened:
            with contextlib.suppress(Exception):
                reg.close()


def make_app(service: RegistryService, prefix: str) -> web.Application:
    """The tornado application serving ``service`` under ``prefix`` (``$JUPYTERHUB_SERVICE_PREFIX``)."""
    kw = {"service": service}
    return web.Application([
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (url_path_join(prefix, "api/whoami"), WhoAmIHandler, kw),
        (url_path_join(prefix, r"api/call/(\w+)"), CallHandler, kw),
        (url_path_join(prefix, "api/models"), ModelUploadHandler, kw),
        (url_path_join(prefix, "api/checkpoints"), CheckpointUploadHandler, kw),
        (url_path_join(prefix, r"api/models/([^/]+)/artifact"), ModelArtifactHandler, kw),
        (url_path_join(prefix, "api/datasets"), DatasetUploadHandler, kw),
        (url_path_join(prefix, r"api/datasets/([^/]+)/arrays"), DatasetArraysHandler, kw),
        (url_path_join(prefix, r"api(?:/.*)?"), NoRouteHandler, kw),
        (prefix.rstrip("/") + "/?", HomeHandler, kw),
    ], cookie_secret=os.urandom(32), login_url=service.hub_auth.login_url)


def main(argv: list[str] | None = None) -> None:
    """``python -m fmc_jupyter.service --db /srv/fmc/registry.db``: run as a JupyterHub-managed service."""
    parser = argparse.ArgumentParser(prog="python -m fmc_jupyter.service", description=main.__doc__)
    parser.add_argument("--registry", "--db", dest="db", default=os.environ.get("FMC_REGISTRY"),
                        help="registry file on LOCAL disk, or postgresql://user:password@host:5432/db for several "
                             "replicas (then set FMC_ARTIFACTS to a shared folder or s3:// URL); "
                             "default $FMC_REGISTRY")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("FMC_SERVICE_THREADS", "4")))
    parser.add_argument("--url", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"),
                        help="address to listen on (default $JUPYTERHUB_SERVICE_URL)")
    parser.add_argument("--prefix", default=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/fmc-registry/"))
    opts = parser.parse_args(argv)
    if not opts.db:
        parser.error("give --registry PATH|postgresql://... or set FMC_REGISTRY")
    logging.basicConfig(level=logging.INFO, format="[fmc-registry %(asctime)s] %(message)s")
    try:
        service = RegistryService(opts.db, threads=opts.threads)
    except FmcError as exc:
        parser.error(str(exc))
    url = urlparse(opts.url)
    server = httpserver.HTTPServer(make_app(service, opts.prefix), max_body_size=MAX_BODY_BYTES,
                                   xheaders=True)
    server.listen(url.port or 80, url.hostname or "127.0.0.1")
    from ..registry.postgres import redact_url

    log.info("serving %s at %s%s", redact_url(str(service.path)), opts.url.rstrip("/"), opts.prefix)
    loop = ioloop.IOLoop.current()

    def shut_down(*_):  # SIGTERM/SIGINT: stop taking requests, let running calls commit, then exit
        log.info("stopping: finishing the calls under way")
        server.stop()
        service.close()
        loop.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(shut_down))
    loop.start()
