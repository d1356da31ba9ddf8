"""How numbers read in notebook tables: ``4.3M`` parameters, ``17 MB``, ``71.8%`` — not ``4300000``.

:class:`ModelTable` is a ``pandas.DataFrame`` (same data, same methods; ``-o hits`` keeps the exact values) whose
notebook display puts the key columns first and humanises counts, sizes and accuracies, so no column that
matters hides behind pandas' ``...``.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

__all__ = ["fmt_count", "fmt_percent", "fmt_mb", "humanised", "ModelTable", "KEY_COLUMNS"]

#: shown first, in this order, when present
KEY_COLUMNS = ["id", "name", "version", "family", "domain", "task", "input_size", "params", "size_mb", "top1", "top5",
               "accuracy", "cpu_ms", "owner", "visibility"]
_COUNTS = {"params", "params_a", "params_b", "num_examples", "weights"}
_PERCENTS = {"top1", "top5", "accuracy", "best_val_accuracy", "val_accuracy"}
_MB = {"size_mb"}


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fmt_count(value: Any) -> str:
    """``950``, ``12K``, ``350K``, ``4.3M``, ``1.2B`` (two significant digits below 100 of a unit, else three)."""
    if _missing(value):
        return "–"
    value = float(value)
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale * 0.9995:
            n = value / scale
            text = f"{n:.3g}" if abs(n) >= 100 else f"{n:.2g}" if abs(n) >= 10 else f"{n:.2g}"
            return f"{float(text):g}{unit}"
    return f"{value:.0f}"


def fmt_percent(value: Any) -> str:
    """A fraction in [0, 1] as ``71.8%``."""
    return "–" if _missing(value) else f"{float(value) * 100:.1f}%"


def fmt_mb(value: Any) -> str:
    """Megabytes: ``0.47``, ``3.5``, ``17``, ``528``."""
    if _missing(value):
        return "–"
    value = float(value)
    return "<0.01" if 0 < value < 0.01 else f"{value:.2g}" if value < 10 else f"{value:.0f}"


def humanised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for display: key columns first, counts/sizes/accuracies as short strings."""
    shown = frame[[c for c in KEY_COLUMNS if c in frame] + [c for c in frame if c not in KEY_COLUMNS]].copy()
    for col in shown:
        if col in _COUNTS:
            shown[col] = shown[col].map(fmt_count)
        elif col in _PERCENTS:
            shown[col] = shown[col].map(fmt_percent)
        elif col in _MB:
            shown[col] = shown[col].map(fmt_mb)
    return shown


class ModelTable(pd.DataFrame):
    """A DataFrame of models (or leaderboard rows) that displays humanised (see :func:`humanised`)."""

    _metadata: list[str] = []

    @property
    def _constructor(self):
        return ModelTable

    def _repr_html_(self, max_rows: int = 60) -> str:
        if not len(self):
            return "<p><i>no rows</i></p>"
        shown = humanised(pd.DataFrame(self)).head(max_rows)
        more = f"<p>{len(self) - max_rows} more rows (the full table is this DataFrame)</p>" if len(self) > max_rows else ""
        table = shown.to_html(index=False, escape=True, na_rep="–", border=0, classes="fmc-model-table")
        return f"<div class='fmc-model-table-wrap'>{table}{more}<small>{html.escape(f'{len(self)} rows')}</small></div>"
