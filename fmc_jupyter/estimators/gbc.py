"""GBC: Gaussian Bhattacharyya Coefficient class separability.

Pandy, Agostinelli, Uijlings, Ferrari, Mensink, "Transferability Estimation using Bhattacharyya Class
Separability", CVPR 2022.

Features ``(N, D)`` are centred and projected on their first ``d = min(dims, D, N - 1)`` principal components.
Each class ``c`` is modelled as a Gaussian with mean ``mu_c (d,)`` and diagonal covariance ``s_c (d,)`` (the
paper's "diagonal" variant; every variance is floored at ``1e-6`` times the mean variance so that tiny classes
stay finite). For every ordered pair of classes

    D_B(c, c') = 1/8 sum_k (mu_ck - mu_c'k)^2 / s_k + 1/2 sum_k log s_k - 1/4 sum_k (log s_ck + log s_c'k),
    s = (s_c + s_c') / 2,         BC(c, c') = exp(-D_B(c, c'))

and ``GBC = - sum_{c != c'} BC(c, c')``: 0 for perfectly separated classes, more negative with more overlap.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_features, left_singular

__all__ = ["gbc", "pca_project"]


def pca_project(features: np.ndarray, dims: int) -> np.ndarray:
    """Centred ``features (N, D)`` projected on their first ``dims`` principal components: ``(N, dims)``."""
    f = features - features.mean(axis=0)
    u, sv = left_singular(f)
    dims = int(max(1, min(dims, len(sv))))
    return u[:, :dims] * sv[:dims]


def gbc(features: np.ndarray, labels: np.ndarray, dims: int = 64) -> float:
    """GBC of ``features (N, D)`` for ``labels (N,)``; in ``[-C(C-1), 0]``, higher is better."""
    f, y, c = check_features(features, labels)
    z = pca_project(f, min(dims, f.shape[1], len(f) - 1))
    counts = np.bincount(y, minlength=c).astype(np.float64)
    mean = np.zeros((c, z.shape[1]))
    np.add.at(mean, y, z)
    mean /= counts[:, None]
    var = np.zeros_like(mean)
    np.add.at(var, y, (z - mean[y]) ** 2)
    var /= counts[:, None]
    var = np.maximum(var, 1e-6 * max(float(z.var(axis=0).mean()), np.finfo(np.float64).tiny))
    s = (var[:, None, :] + var[None, :, :]) / 2                       # (C, C, d)
    diff2 = (mean[:, None, :] - mean[None, :, :]) ** 2
    logv = np.log(var)
    db = (diff2 / s).sum(axis=2) / 8 + np.log(s).sum(axis=2) / 2 - (logv[:, None, :] + logv[None, :, :]).sum(axis=2) / 4
    bc = np.exp(-db)
    np.fill_diagonal(bc, 0.0)
    return float(-bc.sum())
