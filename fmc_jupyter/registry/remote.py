"""``RemoteRegistry``: the :class:`~fmc_jupyter.registry.interface.RegistryInterface`, served by the registry service.

A team on a shared JupyterHub shares one registry through one service process (``fmc_jupyter.service``)
that owns the SQLite file on local disk and asks JupyterHub who is calling. This client sends each call
over HTTP with the user's hub API token (``$JUPYTERHUB_API_TOKEN`` in a kernel); the service decides
which user that is. Results come back as the same objects the embedded registry returns (DataFrames,
``ModelRecord``, ``DatasetRecord``, ``RunRecord``, ``LabelledImages``); errors as the same ``FmcError``
classes with the same messages.

When the service cannot be reached (restarting, network) every call logs
``registry unavailable, retrying`` once, retries with backoff for ``retry_for`` seconds and carries on
when the service is back; only then does it raise :class:`RegistryUnavailableError`. Changes carry a
request id, so a change whose answer was lost is not applied twice when it is retried.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ..arrays import LabelledImages
from ..config import cache_dir
from ..errors import FmcError, InputError, NotFoundError, PermissionDeniedError, RegistryUnavailableError
from ..records import DatasetRecord, ModelRecord, RunRecord
from ..service import wire
from .interface import RegistryInterface

__all__ = ["RemoteRegistry", "open_remote_registry", "hub_service_url", "DEFAULT_SERVICE_NAME"]

log = logging.getLogger("fmc_jupyter.registry.remote")
DEFAULT_SERVICE_NAME = "fmc-registry"
_RETRY_STATUS = {502, 503, 504}


def hub_service_url(environ: dict[str, str] | None = None) -> str:
    """Where the registry service is, from the environment of a kernel on a JupyterHub.

    ``$FMC_REGISTRY_URL`` if set; else ``$JUPYTERHUB_PUBLIC_URL`` (or the origin of
    ``$JUPYTERHUB_PUBLIC_HUB_URL``) + ``$JUPYTERHUB_BASE_URL`` + ``services/<name>/`` with
    ``<name>`` = ``$FMC_REGISTRY_SERVICE`` (default ``fmc-registry``).
    """
    env = os.environ if environ is None else environ
    if env.get("FMC_REGISTRY_URL"):
        return env["FMC_REGISTRY_URL"]
    name = env.get("FMC_REGISTRY_SERVICE", DEFAULT_SERVICE_NAME)
    public = env.get("JUPYTERHUB_PUBLIC_URL") or ""
    if not public and env.get("JUPYTERHUB_PUBLIC_HUB_URL"):
        from urllib.parse import urlparse

        parts = urlparse(env["JUPYTERHUB_PUBLIC_HUB_URL"])
        public = f"{parts.scheme}://{parts.netloc}{env.get('JUPYTERHUB_BASE_URL', '/')}"
    if not public:
        raise FmcError("cannot tell where the registry service is: set FMC_REGISTRY_URL (for example "
                       "http://127.0.0.1:8000/services/fmc-registry/) in the hub's Spawner.environment; "
                       "see docs/deploying-on-jupyterhub.md")
    return public.rstrip("/") + f"/services/{name}/"


class RemoteRegistry(RegistryInterface):
    """The registry of a team, reached through the registry service at ``url``.

    ``token``: a JupyterHub API token with ``access:services!service=<name>`` (default
    ``$FMC_REGISTRY_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``). ``user`` is who the service says you are.
    ``retry_for``: seconds to keep retrying while the service is unavailable; ``timeout``: seconds per request.
    """

    def __init__(self, url: str, token: str | None = None, *, retry_for: float = 120.0, timeout: float = 120.0):
        import requests  # lazy: only remote registries need it

        if not url.startswith(("http://", "https://")):
            raise InputError(f"the registry service URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/") + "/"
        self.path = self.url  # what `Registry.path` is for the embedded registry
        self.retry_for = float(retry_for)
        self.timeout = float(timeout)
        token = token or os.environ.get("FMC_REGISTRY_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
        if not token:
            raise PermissionDeniedError(
                "no JupyterHub API token: run inside a hub kernel ($JUPYTERHUB_API_TOKEN), set FMC_REGISTRY_TOKEN, "
                "or pass token= (create one on the hub's Token page)")
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"token {token}"
        self._requests = requests
        self.user: str = self._json("GET", "api/whoami")["user"]

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"RemoteRegistry({self.url!r}, user={self.user!r})"

    def transaction(self):
        raise FmcError("a remote registry has no client-side transactions: every call is one transaction "
                       "on the service")

    def _request(self, method: str, route: str, *, request_id: str | None = None, stream: bool = False,
                 **kwargs: Any):
        """One HTTP request, retried while the service is unavailable (connection refused, 502/503/504)."""
        url = self.url + route
        headers = kwargs.pop("headers", {})
        if request_id:
            headers["X-FMC-Request-Id"] = request_id
        deadline = time.monotonic() + self.retry_for
        delay, down_since = 0.1, None
        while True:
            try:
                response = self._session.request(method, url, headers=headers, timeout=self.timeout, stream=stream,
                                                 **kwargs)
            except (self._requests.ConnectionError, self._requests.Timeout) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in _RETRY_STATUS:
                    if down_since is not None:
                        log.warning("registry available again at %s after %.1f s", self.url,
                                    time.monotonic() - down_since)
                    return response
                reason = f"HTTP {response.status_code}"
                response.close()
            if down_since is None:
                down_since = time.monotonic()
                log.warning("registry unavailable, retrying for up to %.0f s (%s: %s)", self.retry_for, self.url,
                            reason)
            if time.monotonic() + delay > deadline:
                raise RegistryUnavailableError(
                    f"registry unavailable at {self.url} for {time.monotonic() - down_since:.0f} s ({reason}); "
                    "gave up retrying. Ask your hub admin whether the fmc-registry service is running, then try "
                    "again.")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _check(self, response) -> None:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            wire.raise_error(response.status_code, body if isinstance(body, dict) else None, self.url)

    def _json(self, method: str, route: str, **kwargs: Any) -> Any:
        response = self._request(method, route, **kwargs)
        self._check(response)
        return response.json()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run registry ``method`` on the service (changes carry a fresh request id, retried safely)."""
        body = wire.dumps(wire.encode_call(args, kwargs))
        data = self._json("POST", f"api/call/{method}", data=body, request_id=uuid.uuid4().hex,
                          headers={"Content-Type": "application/json"})
        return wire.decode_value(data["result"])

    # ------------------------------------------------------------------ the interface, one call each
    def schema_version(self) -> list[int]:
        return self.call("schema_version")

    def change_count(self) -> int:
        return self.call("change_count")

    def search(self, query: str = "", order_by: str | None = None, limit: int | None = 50, offset: int = 0,
               columns: Sequence[str] | None = None):
        return self.call("search", query, order_by=order_by, limit=limit, offset=offset, columns=columns)

    def count(self, query: str = "") -> int:
        return self.call("count", query)

    def model(self, ref: Any) -> ModelRecord:
        return self.call("model", ref)

    def publish(self, ref: Any) -> ModelRecord:
        return self.call("publish", ref)

    def unpublish(self, ref: Any) -> ModelRecord:
        return self.call("unpublish", ref)

    def update_model(self, ref: Any, **changes: Any) -> ModelRecord:
        return self.call("update_model", ref, **changes)

    def delete_model(self, ref: Any) -> None:
        return self.call("delete_model", ref)

    def versions(self, ref: Any):
        return self.call("versions", ref)

    def ancestors(self, ref: Any) -> list[ModelRecord]:
        return self.call("ancestors", ref)

    def set_alias(self, model: Any, alias: str) -> ModelRecord:
        return self.call("set_alias", model, alias)

    def remove_alias(self, line: Any, alias: str) -> None:
        return self.call("remove_alias", line, alias)

    def aliases(self, line: Any):
        return self.call("aliases", line)

    def add_comment(self, model: Any, text: str) -> int:
        return self.call("add_comment", model, text)

    def comments(self, model: Any):
        return self.call("comments", model)

    def delete_comment(self, comment_id: int) -> None:
        return self.call("delete_comment", comment_id)

    def checkpoints(self, run_id: int):
        return self.call("checkpoints", run_id)

    def datasets(self):
        return self.call("datasets")

    def dataset(self, ref: Any) -> DatasetRecord:
        return self.call("dataset", ref.id if isinstance(ref, DatasetRecord) else ref)

    def start_run(self, model: Any, dataset: Any = None, *, kind: str = "finetune", **fields: Any) -> int:
        return self.call("start_run", model, dataset, kind=kind, **fields)

    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        return self.call("log_epoch", run_id, epoch, **metrics)

    def update_run(self, run_id: int, **fields: Any) -> None:
        return self.call("update_run", run_id, **fields)

    def finish_run(self, run_id: int, status: str = "finished", **fields: Any) -> None:
        return self.call("finish_run", run_id, status, **fields)

    def run(self, run_id: int) -> RunRecord:
        return self.call("run", run_id)

    def runs(self, model: Any = None):
        return self.call("runs", model)

    def save_ranking(self, dataset: Any, method: str, scores: Sequence[dict[str, Any]], *,
                     per_class: int | None = None, seed: int | None = None, models_query: str | None = None,
                     seconds: float | None = None) -> int:
        return self.call("save_ranking", dataset, method, scores, per_class=per_class, seed=seed,
                         models_query=models_query, seconds=seconds)

    def rankings(self, dataset: Any = None, model: Any = None):
        return self.call("rankings", dataset, model)

    def add_evaluation(self, model: Any, dataset: Any, *, accuracy: float, loss: float | None = None,
                       num_examples: int | None = None, metrics: dict | None = None, confusion: Any = None) -> int:
        return self.call("add_evaluation", model, dataset, accuracy=accuracy, loss=loss, num_examples=num_examples,
                         metrics=metrics, confusion=confusion)

    def leaderboard(self, dataset: Any):
        return self.call("leaderboard", dataset)

    # ------------------------------------------------------------------ dataset identity and records
    # Arrays are identified by hashes computed here (datasets_identity.record_arrays_with); only new images that
    # are saved are uploaded. Signatures are computed here too (the service imports no Keras): the service stores
    # and compares them (dataset_records.similar_datasets_with).
    def record_arrays(self, x: Any, y: Any, class_names: Sequence[str] | None = None, *, save: bool = True,
                      name: str | None = None, source: str = "arrays",
                      description: str = "") -> tuple[DatasetRecord | None, bool]:
        from .datasets_identity import record_arrays_with

        return record_arrays_with(self, x, y, class_names, save=save, name=name, source=source,
                                  description=description)

    def match_hashes(self, **identity: Any) -> DatasetRecord | None:
        """The service's ``match_hashes`` (read-only) on what ``datasets_identity.arrays_identity`` computed."""
        return self.call("match_hashes", **identity)

    def record_hashes(self, **identity: Any) -> DatasetRecord | None:
        """The service's ``record_hashes`` (keeps the lookup index, stores a found slice)."""
        return self.call("record_hashes", **identity)

    def record_slice(self, dataset: Any, rows: Any) -> DatasetRecord:
        return self.call("record_slice", dataset, np.asarray(rows).tolist() if isinstance(rows, np.ndarray) else rows)

    def dataset_slice(self, slice_id: int) -> DatasetRecord:
        return self.call("dataset_slice", slice_id)

    def link_slice(self, table: str, row_id: int, dataset: DatasetRecord | None) -> None:
        from .datasets_identity import _slice_id_of

        slice_id = _slice_id_of(dataset)
        if slice_id is not None:
            self.call("link_slice_id", table, row_id, slice_id)

    def stored_signature(self, dataset: Any) -> dict[str, Any] | None:
        """The service's stored signature of ``dataset`` (``Signature.to_dict`` data), or None."""
        return self.call("stored_signature", dataset)

    def store_signature(self, dataset: Any, signature: Any) -> bool:
        from ..similarity import checked_signature

        return self.call("store_signature", dataset, checked_signature(signature).to_dict())

    def missing_signatures(self, among: Any = None) -> list[int]:
        """Ids of datasets (of ``among``) without a stored signature on the service."""
        from .dataset_records import _dataset_ids

        return self.call("missing_signatures", _dataset_ids(among))

    def datasets_near(self, signature: Any, k: int = 5, *, among: Any = None, exclude: Any = None):
        """The service's nearest stored signatures to ``signature`` (see :meth:`Registry.datasets_near`)."""
        from ..similarity import checked_signature
        from .dataset_records import _dataset_ids

        return self.call("datasets_near", checked_signature(signature).to_dict(), k, among=_dataset_ids(among),
                         exclude=_dataset_ids(exclude, "exclude"))

    def dataset_signature(self, dataset: Any, *, compute: bool = True, store: bool = True):
        from .dataset_records import signature_with

        return signature_with(self, dataset, compute=compute, store=store)

    def similar_datasets(self, x_or_dataset: Any, y: Any = None, k: int = 5, *, compute: bool = True,
                         store: bool = True, among: Any = None):
        from .dataset_records import similar_datasets_with

        return similar_datasets_with(self, x_or_dataset, y, k, compute=compute, store=store, among=among)

    def dataset_records(self, dataset: Any) -> dict[str, float]:
        return self.call("dataset_records", dataset)

    def datasets_with_records(self, runs_only: bool = False) -> list[int]:
        return self.call("datasets_with_records", runs_only)

    def best_runs(self, dataset: Any, limit: int = 5):
        return self.call("best_runs", dataset, limit)

    # ------------------------------------------------------------------ files and arrays
    def _upload(self, route: str, path: str | os.PathLike, args: dict[str, Any]) -> Any:
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"give the path of a model file, not {type(path).__name__}")
        src = Path(path).expanduser()
        if not src.is_file():
            raise InputError(f"model file {src} does not exist")
        args = {k: wire.encode_value(v.id if isinstance(v, ModelRecord) else v) for k, v in args.items()}
        upload_name = re.sub(r"[^\w.+-]", "_", src.name).lstrip(".") or f"model{src.suffix}"
        with open(src, "rb") as fh:
            data = self._json("POST", f"{route}?filename={quote(upload_name)}", data=fh.read(),
                              request_id=uuid.uuid4().hex,
                              headers={"X-FMC-Args": wire.dumps(args), "Content-Type": "application/octet-stream"})
        return wire.decode_value(data["result"])

    def add_model(self, path: str | os.PathLike, name: str | None = None, **kwargs: Any) -> ModelRecord:
        """Upload a Keras (``.keras``/``.h5``) or TFLite file and register it (see the interface)."""
        if name is None and isinstance(path, (str, os.PathLike)):
            name = Path(path).stem  # as the embedded registry names it
        return self._upload("api/models", path, {**kwargs, "name": name})

    def add_checkpoint(self, path: str | os.PathLike, run_id: int, epoch: int, **kwargs: Any) -> ModelRecord:
        """Upload a model file saved at ``epoch`` of your run ``run_id``; it becomes a version of its own."""
        return self._upload("api/checkpoints", path, {**kwargs, "run_id": run_id, "epoch": epoch})

    def add_dataset(self, x, y, name: str, class_names: Sequence[str] | None = None, *, description: str = "",
                    source: str = "arrays") -> DatasetRecord:
        """Upload a labelled image set (see :meth:`Registry.add_dataset`); the service checks and stores it."""
        import io

        arrays = {"x": np.asarray(x), "y": np.asarray(y)}
        if class_names is not None:
            arrays["class_names"] = np.asarray([str(c) for c in class_names])
        if arrays["x"].dtype == object or arrays["y"].dtype == object:
            raise InputError("x and y must be numeric (or string label) arrays, not Python objects")
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        args = {"name": name, "description": description, "source": source}
        data = self._json("POST", "api/datasets", data=buffer.getvalue(), request_id=uuid.uuid4().hex,
                          headers={"X-FMC-Args": wire.dumps(args), "Content-Type": "application/octet-stream"})
        return wire.decode_value(data["result"])

    def load_dataset(self, ref: Any) -> LabelledImages:
        """The stored arrays of a dataset, downloaded from the service."""
        import io

        ref = ref.id if isinstance(ref, DatasetRecord) else ref
        response = self._request("GET", f"api/datasets/{quote(str(ref), safe='')}/arrays")
        self._check(response)
        with np.load(io.BytesIO(response.content), allow_pickle=False) as npz:
            return LabelledImages(npz["x"], npz["y"], tuple(str(c) for c in npz["class_names"]))

    def artifact_path(self, record: ModelRecord | DatasetRecord) -> Path:
        """A local copy of a model's stored file (downloaded once into the cache, checked by sha256)."""
        if isinstance(record, DatasetRecord):
            raise InputError("datasets are read with load_dataset(), not as files")
        record = self.model(record.id)  # may you (still) see it? (the cache is no permission)
        if not record.artifact:
            raise NotFoundError(f"{record.ref} has no stored file (it is built from its source)")
        dest = cache_dir() / "hub-artifacts" / Path(record.artifact).name
        if dest.is_file() and record.sha256 and dest.name.startswith(record.sha256):
            return dest
        response = self._request("GET", f"api/models/{record.id}/artifact", stream=True)
        self._check(response)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in response.iter_content(1 << 20):
                    digest.update(chunk)
                    fh.write(chunk)
            if record.sha256 and digest.hexdigest() != record.sha256:
                raise RegistryUnavailableError(f"the download of {record.ref} was cut short or corrupted; try again")
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest


def open_remote_registry(target: str | None = None, user: str | None = None, **kwargs: Any) -> RemoteRegistry:
    """``"hub"`` (see :func:`hub_service_url`), an ``http(s)://`` URL, or ``None`` (``$FMC_REGISTRY_URL``)."""
    url = hub_service_url() if target in (None, "hub") else str(target)
    registry = RemoteRegistry(url, **kwargs)
    if user is not None and user != registry.user:
        registry.close()
        raise PermissionDeniedError(
            f"the registry service knows you as '{registry.user}', not '{user}': on a shared hub the user is the "
            "one JupyterHub signed in; drop user=")
    return registry
