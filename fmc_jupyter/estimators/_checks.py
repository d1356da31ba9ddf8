"""Shared input checks of the estimators: ``features (N, D)`` finite floats, ``labels (N,)`` ints."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["check_features", "check_probabilities", "left_singular"]


def check_features(features, labels, min_per_class: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated float64 copy of ``features (N, D)``, labels remapped to ``0..C-1`` ``(N,)``, and ``C``."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if f.ndim != 2:
        raise InputError(f"features must have shape (N, D), got {f.shape}")
    if y.ndim != 1 or len(y) != len(f):
        raise InputError(f"labels must have shape ({len(f)},) to match features, got {y.shape}")
    if not np.isfinite(f).all():
        raise InputError("features contain NaN or infinite values; the model produced non-finite activations")
    _, y = np.unique(y, return_inverse=True)
    y = y.reshape(-1).astype(np.int64)
    counts = np.bincount(y)
    if len(counts) < 2:
        raise InputError("labels hold one class only; transferability needs at least 2 classes")
    if counts.min() < min_per_class:
        raise InputError(f"class {int(counts.argmin())} has {int(counts.min())} example(s); "
                         f"this estimator needs at least {min_per_class} per class")
    return f, y, len(counts)


def check_probabilities(probs, labels) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated ``probs (N, Z)`` (rows renormalised to sum 1) and remapped labels."""
    p, y, c = check_features(probs, labels)
    if (p < 0).any():
        raise InputError("source probabilities must be non-negative")
    s = p.sum(axis=1, keepdims=True)
    if (s <= 0).any():
        raise InputError("a row of source probabilities sums to 0")
    return p / s, y, c


def left_singular(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin SVD ``f = U diag(sv) V^T`` without ``V``: ``U (N, k)``, ``sv (k,)`` descending, ``k = min(N, D)``.

    From ``eigh`` of the smaller Gram matrix (``f f^T``, or ``f^T f`` with ``U = f V / sv``), several times faster
    than LAPACK's ``gesdd`` on these shapes; directions with ``sv`` below ``1e-10 * sv_max`` are zeroed.
    """
    n, d = f.shape
    if n <= d:
        w, u = np.linalg.eigh(f @ f.T)
    else:
        w, v = np.linalg.eigh(f.T @ f)
        u = f @ v
    order = np.argsort(w)[::-1]
    w, u = np.maximum(w[order], 0.0), u[:, order]
    sv = np.sqrt(w)
    keep = sv > (sv[0] * 1e-10 if sv.size and sv[0] > 0 else np.inf)
    if n > d:
        u = np.where(keep, u / np.where(keep, sv, 1.0), 0.0)
    sv = np.where(keep, sv, 0.0)
    u = np.where(keep, u, 0.0)
    return u, sv
