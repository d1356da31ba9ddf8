"""What travels between :class:`RemoteRegistry` and the registry service: JSON with tagged values.

Pure Python + numpy + pandas (no tornado, no JupyterHub), so the client imports it cheaply.

- A call is ``{"args": [...], "kwargs": {...}}``; records sent as arguments travel as their id.
- A result is ``{"result": <value>}`` where DataFrames, records and arrays carry a ``"__kind__"`` tag:
  ``{"__kind__": "dataframe", "columns": [...], "rows": [[...], ...]}`` (rebuilt with
  ``DataFrame.from_records``, the same constructor the embedded registry uses, so dtypes match) and
  ``{"__kind__": "ModelRecord" | "DatasetRecord" | "RunRecord", "fields": {...}}``.
- An error is ``{"error": <FmcError subclass name>, "message": str}`` with an HTTP status from
  :data:`fmc_jupyter.httpapi.ERROR_STATUS` (the one table the panel's REST API uses too, as it uses the same
  JSON encoder :func:`fmc_jupyter.httpapi.dumps`); the client raises the same class with the same message.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd

from .. import errors
from ..httpapi import ERROR_STATUS, dumps, error_payload
from ..httpapi import plain as _plain
from ..records import DatasetRecord, ModelRecord, RunRecord

__all__ = ["encode_value", "decode_value", "encode_call", "dumps", "loads", "error_payload", "raise_error",
           "ERROR_STATUS", "REMOTE_METHODS", "WRITE_METHODS"]

#: Registry methods the service runs through its one generic route (``POST api/call/<method>``).
#: Anything else (closing, transactions, server file paths, raw row inserts that could name another owner)
#: is not reachable from a client. Files and arrays have their own routes (upload/download).
REMOTE_METHODS = frozenset({
    "search", "count", "model", "versions", "publish", "unpublish", "update_model", "delete_model",
    "datasets", "dataset", "start_run", "log_epoch", "update_run", "finish_run", "run", "runs",
    "save_ranking", "rankings", "add_evaluation", "leaderboard", "schema_version", "change_count",
    # lineage (registry/lineage.py); add_checkpoint uploads a file (route api/checkpoints)
    "ancestors", "add_comment", "comments", "delete_comment", "set_alias", "remove_alias", "aliases",
    "checkpoints",
    # dataset identity by hashes and dataset records (datasets_identity.py, dataset_records.py): no images, no
    # Keras on the service; signatures are computed by the kernel and only stored and compared here
    "match_hashes", "record_hashes", "record_slice", "dataset_slice", "link_slice_id", "stored_signature",
    "store_signature", "missing_signatures", "datasets_near", "dataset_records", "datasets_with_records", "best_runs",
})
#: Methods that change the registry: run inside one transaction together with their request-id record.
WRITE_METHODS = frozenset({
    "publish", "unpublish", "update_model", "delete_model", "start_run", "log_epoch", "update_run", "finish_run",
    "save_ranking", "add_evaluation", "add_comment", "delete_comment", "set_alias", "remove_alias",
    "record_hashes", "record_slice", "link_slice_id", "store_signature",
})

_RECORDS = {"ModelRecord": ModelRecord, "DatasetRecord": DatasetRecord, "RunRecord": RunRecord}

def encode_value(value: Any) -> Any:
    """A registry result (or argument) as JSON-ready data with ``__kind__`` tags."""
    if isinstance(value, pd.DataFrame):
        frame = value.astype(object).where(value.notna(), None)
        return {"__kind__": "dataframe", "columns": [str(c) for c in value.columns],
                "rows": [[encode_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _RECORDS:
        return {"__kind__": type(value).__name__, "fields": encode_value(dataclasses.asdict(value))}
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return encode_value(value.tolist())
    return _plain(value)


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    if isinstance(value, dict):
        kind = value.get("__kind__")
        if kind == "dataframe":
            return pd.DataFrame.from_records([tuple(r) for r in value["rows"]], columns=value["columns"])
        if kind in _RECORDS:
            return _RECORDS[kind](**value["fields"])
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _argument(value: Any) -> Any:
    if isinstance(value, (ModelRecord, DatasetRecord, RunRecord)):
        return value.id
    return encode_value(value)


def encode_call(args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Arguments of a registry call as JSON data (records become their ids)."""
    return {"args": [_argument(a) for a in args], "kwargs": {k: _argument(v) for k, v in kwargs.items()}}


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def raise_error(status: int, body: dict[str, Any] | None, url: str) -> None:
    """Raise the error the service reported, as the same FmcError class."""
    body = body or {}
    name = body.get("error", "")
    message = body.get("message") or f"the registry service at {url} answered HTTP {status}"
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.QueryError):
        raise cls(message, body.get("query") or "", body.get("position"))
    if isinstance(cls, type) and issubclass(cls, errors.FmcError):
        raise cls(message)
    if status in (401, 403):
        raise errors.PermissionDeniedError(message)
    if status == 404:
        raise errors.NotFoundError(message)
    raise errors.FmcError(message)
