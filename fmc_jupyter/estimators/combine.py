"""Combining several transferability scores into one ranking by rank averaging, with missing scores kept missing.

Each score is only meaningful relative to the other candidates on the same data, and the scales differ wildly
(LogME ~ [-2, 2], GBC ~ [-C^2, 0], accuracies in [0, 1]). So every method's finite scores over the candidates
``s_m (M,)`` are turned into normalised ranks among the ``M_m`` models that method scored,

    r_mj = (rank(s_mj) - 1) / (M_m - 1)   in [0, 1]    (1 = best, ties get their average rank),

and the combined score is a weighted mean over the methods that scored model ``j``:

    combined_j = sum_m v_m r_mj 1[s_mj finite] / sum_m v_m 1[s_mj finite],   v_m = w_m (M_m - 1) / (M - 1)

A method's vote is scaled by how many of the ``M`` candidates it could compare (``v_m``): a prior known for a
single model says nothing about the order (``v_m = 0``, it is missing, not "best" or "worst"), one known for 2
of 8 models counts 1/7 of a full vote. A model is never penalised for a score it lacks: it is averaged over
the methods it has. Hence a model worst under every method that scored it gets 0, one best under every
method gets 1. A model with no finite score (or only zero-weight votes) gets NaN.

A prior (e.g. the model's ImageNet top-1) enters as one more "method". Unlike averaging raw or z-scored values,
rank averaging is insensitive to one method's outliers; it is the Borda count of rank aggregation
(Dwork et al., "Rank aggregation methods for the web", WWW 2001).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["normalised_ranks", "rank_average", "coverage_weight"]


def normalised_ranks(scores: np.ndarray) -> np.ndarray:
    """Scores ``(M,)`` (NaN = missing) -> ranks in ``[0, 1]`` among the finite ones; 1 for the best.

    Ties get their average rank. Missing scores stay NaN, and so does a lone finite score (one value has no
    rank among others: it is missing, not best).
    """
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(s.shape, np.nan)
    ok = np.isfinite(s)
    m = int(ok.sum())
    if m < 2:
        return out
    vals = s[ok]
    ordered = np.sort(vals)
    # 0-based average rank of each value among its ties: mean of its first and last position in sorted order
    ranks = (np.searchsorted(ordered, vals, "left") + np.searchsorted(ordered, vals, "right") - 1) / 2.0
    out[ok] = ranks / (m - 1)
    return out


def coverage_weight(scores: np.ndarray) -> float:
    """``(M_m - 1) / (M - 1)``: the share of pairwise comparisons a method with ``M_m`` finite scores can make
    (1 when it scored every candidate, 0 with at most one). 1.0 for a single candidate."""
    s = np.asarray(scores, dtype=np.float64)
    total = s.size
    if total <= 1:
        return 1.0
    return max(int(np.isfinite(s).sum()) - 1, 0) / (total - 1)


def rank_average(scores: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Coverage-weighted mean of :func:`normalised_ranks` over methods; ``scores[method] (M,)``; returns ``(M,)``.

    ``weights[method]`` (default 1) multiplies the method's coverage weight (module docstring). A model with no
    finite, positively weighted rank gets NaN. A single candidate (``M = 1``) with any finite score gets 1.0.
    """
    if not scores:
        raise InputError("rank_average needs at least one method's scores")
    lengths = {len(np.atleast_1d(v)) for v in scores.values()}
    if len(lengths) != 1:
        raise InputError(f"every method must score the same models; got lengths {sorted(lengths)}")
    size = lengths.pop()
    if size == 1:
        finite = any(np.isfinite(np.atleast_1d(np.asarray(v, dtype=np.float64))).all() for v in scores.values())
        return np.array([1.0 if finite else np.nan])
    total = np.zeros(size)
    norm = np.zeros(size)
    for method, values in scores.items():
        w = 1.0 if weights is None else float(weights.get(method, 1.0))
        if w < 0 or not np.isfinite(w):
            raise InputError(f"the weight of {method!r} must be a non-negative number, got {w}")
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))
        v = w * coverage_weight(values)
        if v == 0:
            continue
        r = normalised_ranks(values)
        ok = np.isfinite(r)
        total[ok] += v * r[ok]
        norm[ok] += v
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, total / np.where(norm > 0, norm, 1), np.nan)
