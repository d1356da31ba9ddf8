"""Combining several transferability scores into one ranking by rank averaging.

Each score is only meaningful relative to the other candidates on the same data, and the scales differ wildly
(LogME ~ [-2, 2], GBC ~ [-C^2, 0], accuracies in [0, 1]). So every method's scores over the ``M`` candidates
``s_m (M,)`` are turned into normalised ranks ``r_m = (rank(s_m) - 1) / (M - 1)`` in ``[0, 1]`` (1 = best, ties
get their average rank), and the combined score is their weighted mean over the methods a model has a score for:

    combined_j = sum_m w_m r_mj 1[s_mj finite] / sum_m w_m 1[s_mj finite]

A prior (e.g. the model's ImageNet top-1) enters as one more "method". Unlike averaging raw or z-scored values,
rank averaging is insensitive to one method's outliers; it is the usual Borda count of rank aggregation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["normalised_ranks", "rank_average"]


def normalised_ranks(scores: np.ndarray) -> np.ndarray:
    """Scores ``(M,)`` (NaN = missing) -> ranks in ``[0, 1]``, 1 for the best, average rank on ties, NaN kept."""
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(s.shape, np.nan)
    ok = np.isfinite(s)
    m = int(ok.sum())
    if m == 0:
        return out
    if m == 1:
        out[ok] = 1.0
        return out
    vals = s[ok]
    order = vals.argsort(kind="mergesort")
    ranks = np.empty(m)
    ranks[order] = np.arange(m, dtype=np.float64)
    for v in np.unique(vals):                        # average ranks of ties
        tie = vals == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    out[ok] = ranks / (m - 1)
    return out


def rank_average(scores: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Weighted mean of :func:`normalised_ranks` over methods; ``scores[method] (M,)``; returns ``(M,)``.

    A model with no finite score under any method gets NaN.
    """
    if not scores:
        raise InputError("rank_average needs at least one method's scores")
    lengths = {len(np.atleast_1d(v)) for v in scores.values()}
    if len(lengths) != 1:
        raise InputError(f"every method must score the same models; got lengths {sorted(lengths)}")
    total = np.zeros(lengths.pop())
    norm = np.zeros_like(total)
    for method, values in scores.items():
        w = 1.0 if weights is None else float(weights.get(method, 1.0))
        r = normalised_ranks(np.atleast_1d(values))
        ok = np.isfinite(r)
        total[ok] += w * r[ok]
        norm[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, total / np.where(norm > 0, norm, 1), np.nan)
