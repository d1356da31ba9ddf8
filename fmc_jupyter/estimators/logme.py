"""LogME: the log maximum evidence of a Bayesian linear model on the features.

You, Liu, Wang, Long. "LogME: Practical Assessment of Pre-trained Models for Transfer Learning", ICML 2021
(and the extended TPAMI 2022 version that fixes the ``N < D`` case).

For every class ``c`` the one-hot target ``y_c (N,)`` is modelled as ``y_c = F w + e`` with prior
``w ~ N(0, alpha^-1 I_D)`` and noise ``e ~ N(0, beta^-1 I_N)``, ``F (N, D)`` the features. The evidence is

    log p(y_c | F, alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log 2pi
                                  - beta/2 ||F m - y_c||^2 - alpha/2 ||m||^2 - 1/2 log det A,
    A = alpha I_D + beta F^T F,   m = beta A^-1 F^T y_c.

``alpha, beta`` maximise it by MacKay's fixed point: ``gamma = sum_i beta s_i / (alpha + beta s_i)``,
``alpha = gamma / ||m||^2``, ``beta = (N - gamma) / ||F m - y_c||^2`` with ``s_i`` the eigenvalues of ``F^T F``.

Fast path: one thin SVD ``F = U diag(sqrt(s)) V^T`` (``k = min(N, D)`` values) outside the loop. With
``x = U^T y_c (k,)`` and ``t = alpha / beta``:

    ||m||^2     = sum_i s_i x_i^2 / (s_i + t)^2
    ||Fm - y||^2 = sum_i x_i^2 t^2 / (s_i + t)^2 + (||y||^2 - ||x||^2)
    log det A   = sum_{i<=k} log(alpha + beta s_i) + (D - k) log alpha

The last term is what makes LogME correct when ``N < D`` (the ICML code summed only ``k`` terms). All
classes are iterated together as ``(k, C)`` arrays until ``t`` stops moving (relative change < ``tol``),
not a fixed number of steps. Everything is float64. Returns the mean over classes of evidence / N.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_features

__all__ = ["logme", "logme_evidence"]


def _spectrum(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues ``s (k,)`` of ``F^T F`` (k = min(N, D)), ``x = U^T y (k, C)`` and ``||y||^2 (C,)``.

    Uses ``eigh`` of the smaller Gram matrix (``F F^T`` when ``N <= D``, else ``F^T F`` with
    ``U^T y = diag(s^-1/2) V^T F^T y``): much faster than a thin SVD of ``F`` and as accurate for the evidence.
    """
    n, d = f.shape
    if n <= d:
        s, u = np.linalg.eigh(f @ f.T)
        x = u.T @ y
    else:
        s, v = np.linalg.eigh(f.T @ f)
        proj = v.T @ (f.T @ y)
        x = np.where(s[:, None] > 0, proj / np.sqrt(np.maximum(s, np.finfo(np.float64).tiny))[:, None], 0.0)
    s = np.maximum(s, 0.0)
    x = np.where(s[:, None] > s.max() * 1e-15, x, 0.0) if s.size and s.max() > 0 else x * 0.0
    return s, x, (y ** 2).sum(axis=0)


def _evidence(s, x2, res_out, alpha, beta, n, d):
    t = alpha / beta
    denom = s[:, None] + t[None, :]
    m2 = (s[:, None] * x2 / denom ** 2).sum(axis=0)
    res2 = (x2 * (t[None, :] / denom) ** 2).sum(axis=0) + res_out
    logdet = np.log(alpha[None, :] + beta[None, :] * s[:, None]).sum(axis=0) + (d - len(s)) * np.log(alpha)
    ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
          - beta / 2 * res2 - alpha / 2 * m2 - logdet / 2)
    return ev, denom, m2, res2


def logme_evidence(features: np.ndarray, targets: np.ndarray, tol: float = 1e-12,
                   max_iter: int = 1000) -> np.ndarray:
    """Per-target maximum log evidence / N; ``features (N, D)``, ``targets (N, C)`` real; returns ``(C,)``.

    Iterates until the evidence / N of every target changes by less than ``tol * (1 + |evidence / N|)``
    (when ``N < D`` and the targets are interpolated, ``beta`` grows without bound while the evidence
    converges, so the test is on the evidence, not on ``alpha`` and ``beta``).
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    n, d = f.shape
    s, x, y2 = _spectrum(f, y)
    x2 = x ** 2
    res_out = np.maximum(y2 - x2.sum(axis=0), 0.0)                 # (C,) part of y outside col(F)
    eps = np.finfo(np.float64).tiny
    alpha = np.ones(y.shape[1])
    beta = np.ones(y.shape[1])
    previous = None
    for _ in range(max_iter):
        ev, denom, m2, res2 = _evidence(s, x2, res_out, alpha, beta, n, d)
        ev = ev / n
        if previous is not None and np.all(np.abs(ev - previous) <= tol * (1 + np.abs(ev))):
            break
        previous = ev
        gamma = (s[:, None] / denom).sum(axis=0)
        alpha = np.maximum(gamma, eps) / np.maximum(m2, eps)
        beta = np.maximum(n - gamma, eps) / np.maximum(res2, eps)
    return ev


def logme(features: np.ndarray, labels: np.ndarray, tol: float = 1e-12, max_iter: int = 1000) -> float:
    """LogME score of ``features (N, D)`` for class ``labels (N,)``: mean over classes of evidence / N.

    Higher is better. Typical values lie in about ``[-2, 2]``; only comparisons on the same data mean anything.
    """
    f, y, c = check_features(features, labels)
    onehot = np.eye(c)[y]
    return float(logme_evidence(f, onehot, tol=tol, max_iter=max_iter).mean())
