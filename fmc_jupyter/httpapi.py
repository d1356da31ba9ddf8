"""The HTTP vocabulary shared by every Find My CNN HTTP surface: one error table, one JSON encoder.

Both the JupyterLab server extension (``/fmc/api/``, :mod:`fmc_jupyter.server`) and the team registry
service (:mod:`fmc_jupyter.service`) answer errors and data through this module, so the same error gets
the same status and the same body everywhere:

- :data:`ERROR_STATUS` maps an :class:`~fmc_jupyter.errors.FmcError` class to its HTTP status; a subclass
  takes the status of its nearest listed ancestor (so a new error class is never a 500).
- :func:`error_payload` turns any exception into ``(status, {"error": <name>, "message": <text>})``:
  domain errors by the table, HTTP errors of the web framework (unknown route, missing argument, failed
  authentication) by their own status, anything else as ``500`` ``ServerError``.
- :func:`plain` / :func:`dumps` are the one JSON encoder: numpy scalars and arrays become numbers and lists,
  NaN/NaT/inf become ``null``, timestamps ISO text, records (dataclasses) dicts with their ``ref``, and
  DataFrames lists of row dicts.

Numbers in paths and query arguments are checked by the registry's one place for that,
:func:`fmc_jupyter.registry.fields.integer` (a malformed or huge number is an ``InputError``, so a 400).

Pure Python + numpy + pandas: no tornado, no Jupyter (the registry client imports it).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from . import errors

__all__ = ["ERROR_STATUS", "HTTP_ERROR_NAMES", "status_for", "error_payload", "plain", "dumps", "frame_records",
           "record_dict"]

#: FmcError class name -> HTTP status. Subclasses take the status of their nearest listed ancestor.
ERROR_STATUS: dict[str, int] = {
    "FmcError": 400,
    "QueryError": 400,
    "InputError": 400,
    "PermissionDeniedError": 403,
    "NotFoundError": 404,
    "ModelLoadError": 422,  # the file arrived but cannot be used as a model (corrupt, unsafe, unsupported)
    "RegistryUnavailableError": 503,
}

#: error name for an HTTP status raised by the web framework itself (authentication, routing, arguments)
HTTP_ERROR_NAMES: dict[int, str] = {400: "InputError", 401: "PermissionDeniedError", 403: "PermissionDeniedError",
                                    404: "NotFoundError", 405: "InputError", 413: "InputError"}


def _error_name(exc: errors.FmcError) -> str:
    """The nearest class in the MRO of ``exc`` that :data:`ERROR_STATUS` lists."""
    for cls in type(exc).__mro__:
        if cls.__name__ in ERROR_STATUS and getattr(errors, cls.__name__, None) is cls:
            return cls.__name__
    return "FmcError"


def status_for(exc: BaseException) -> int:
    """The HTTP status of any exception (see :func:`error_payload`)."""
    return error_payload(exc)[0]


def error_payload(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` for an exception; ``body`` is ``{"error": name, "message": text}`` plus extras.

    - :class:`FmcError`: status from :data:`ERROR_STATUS`; a :class:`QueryError` also carries ``query`` and
      ``position`` (0-based column of the problem).
    - An HTTP error of the web framework (anything with an integer ``status_code``, such as
      ``tornado.web.HTTPError``): its status, its ``log_message`` as the message.
    - Anything else: ``500`` ``ServerError`` naming the exception (a bug, never the user's fault).
    """
    if isinstance(exc, errors.FmcError):
        name = _error_name(exc)
        body: dict[str, Any] = {"error": name, "message": getattr(exc, "message", None) or str(exc)}
        if isinstance(exc, errors.QueryError):
            body.update(query=exc.query, position=exc.position)
        return ERROR_STATUS[name], body
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        message = getattr(exc, "log_message", None) or getattr(exc, "reason", None) or f"HTTP {status}"
        args = getattr(exc, "args", ())  # tornado keeps the log_message's format arguments here
        if isinstance(message, str) and args and "%" in message:
            try:
                message = message % tuple(args)
            except (TypeError, ValueError):
                pass
        return status, {"error": HTTP_ERROR_NAMES.get(status, "ServerError" if status >= 500 else "FmcError"),
                        "message": str(message)}
    return 500, {"error": "ServerError", "message": f"internal error ({type(exc).__name__}: {exc}); this is a bug in "
                                                    "Find My CNN, please report it with the server log"}


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python data (see the module docstring for the conversions)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, pd.DataFrame):
        return frame_records(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record_dict(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (missing values -> ``null``)."""
    columns = [str(c) for c in frame.columns]
    return [{c: plain(v) for c, v in zip(columns, row)} for row in frame.itertuples(index=False, name=None)]


def record_dict(record: Any) -> dict[str, Any]:
    """A record (dataclass) as a JSON-ready dict; records with a ``ref`` (``name:vN``) carry it too."""
    data = {f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if hasattr(record, "ref"):
        data["ref"] = plain(record.ref)
    return data


def dumps(data: Any) -> str:
    """JSON text of ``data`` after :func:`plain` (strict JSON: never NaN)."""
    return json.dumps(plain(data), allow_nan=False, separators=(",", ":"))
