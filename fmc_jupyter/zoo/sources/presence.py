"""Whether a model's weights are on this machine, for rows about to enter (or already in) the registry.

Pure file checks through each source's ``weights_status`` (no Keras import): Keras Applications look for
their file under ``$KERAS_HOME/models``; KerasHub presets in KerasHub's download caches or their folder; stored
files are present with the artifact store.
"""

from __future__ import annotations

from typing import Any

from ...records import ModelRecord, record_from_row

__all__ = ["weights_present", "row_format"]


def weights_present(row: dict[str, Any]) -> int:
    """1 when the weights of the model ``row`` (a ``models`` row) are on this machine, else 0."""
    from . import get_source

    if row.get("artifact"):
        return 1
    full = {"id": 0, "name": "", "version": 1, "owner": "", "visibility": "public", **row}
    record = record_from_row(ModelRecord, full)
    try:
        return int(get_source(record.source_kind).weights_status(record).present)
    except Exception:  # an unknown or damaged source: not present
        return 0


def row_format(row: dict[str, Any]) -> str | None:
    """The ``format`` facet of a row: the source's own, refined by the preset handle for KerasHub rows."""
    from . import SOURCES
    from .kerashub import handle_format

    source = SOURCES.get(str(row.get("source_kind")))
    if source is None:
        return None
    if source.kind == "kerashub_preset":
        import json

        data = row.get("source")
        data = json.loads(data) if isinstance(data, str) else (data or {})
        return handle_format(str(data.get("preset", "")))
    return source.format
