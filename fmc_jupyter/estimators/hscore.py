"""Shrinkage H-score: the H-score with a Ledoit-Wolf regularised feature covariance.

H-score (Bao, Li, Huang, Zhang, "An Information-theoretic Approach to Transferability in Task Transfer
Learning", ICIP 2019) of centred features ``f (N, D)`` for labels ``y``:

    H(f) = tr( cov(f)^-1  cov(E[f | y]) )

Ibrahim, Ponomareva, Mazumder, "Newer is not always better: Rethinking transferability metrics, their
peculiarities, stability and performance", ECML-PKDD 2022, replace ``cov(f)`` (singular when ``N <= D``) by the
Ledoit-Wolf shrinkage estimate and scale the between-class covariance alike:

    Sigma_a = (1 - a) S + a mu I,   S = f^T f / N,   mu = tr(S) / D
    H_a(f)  = tr( Sigma_a^-1 (1 - a) S_g ),   S_g = sum_c (N_c / N) m_c m_c^T,   m_c = mean of f over class c

with ``a`` the Ledoit-Wolf (2004) shrinkage intensity, ``a = min(b, d) / d`` with
``d = ||S - mu I||_F^2 / D`` and ``b = (1 / (D N^2)) sum_i ||f_i f_i^T - S||_F^2``.

Fast path: the class means ``m_c`` lie in the row space of ``f = U diag(sv) V^T``, so
``m_c^T Sigma_a^-1 m_c = sum_i (V^T m_c)_i^2 / ((1 - a) sv_i^2 / N + a mu)`` with
``V^T m_c = diag(sv) U^T 1_c / N_c``; no ``D x D`` matrix is formed.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_features, left_singular

__all__ = ["hscore", "ledoit_wolf_shrinkage"]


def ledoit_wolf_shrinkage(centred: np.ndarray) -> float:
    """Ledoit-Wolf shrinkage intensity ``a`` in ``[0, 1]`` of centred ``(N, D)`` data (covariance ``/ N``)."""
    x = np.asarray(centred, dtype=np.float64)
    n, d = x.shape
    sq_norms = (x ** 2).sum(axis=1)                               # ||f_i||^2
    mu = sq_norms.sum() / (n * d)                                 # tr(S) / D
    gram = x @ x.T if n <= d else x.T @ x
    s_fro2 = (gram ** 2).sum() / n ** 2                           # ||S||_F^2
    delta = (s_fro2 - 2 * mu * sq_norms.sum() / n + d * mu ** 2) / d   # ||S - mu I||_F^2 / D
    beta = ((sq_norms ** 2).sum() / n - s_fro2) / (d * n)         # (1/(D N^2)) sum_i ||f_i f_i^T - S||_F^2
    if delta <= 0:
        return 1.0
    return float(min(max(beta, 0.0), delta) / delta)


def hscore(features: np.ndarray, labels: np.ndarray) -> float:
    """Shrinkage H-score of ``features (N, D)`` for ``labels (N,)``; higher is better, ``>= 0``."""
    f, y, c = check_features(features, labels)
    n = len(f)
    f = f - f.mean(axis=0)
    a = ledoit_wolf_shrinkage(f)
    mu = (f ** 2).sum() / f.size
    u, sv = left_singular(f)
    counts = np.bincount(y, minlength=c).astype(np.float64)
    sums = np.zeros((c, u.shape[1]))
    np.add.at(sums, y, u)                                         # (C, k) U^T 1_c
    proj = sums * sv / counts[:, None]                            # V^T m_c = diag(sv) U^T 1_c / N_c
    inv = 1.0 / ((1 - a) * sv ** 2 / n + a * mu)                   # (k,)
    keep = np.isfinite(inv) & (sv > 0)
    return float((1 - a) * ((counts / n) * (proj[:, keep] ** 2 @ inv[keep])).sum())
