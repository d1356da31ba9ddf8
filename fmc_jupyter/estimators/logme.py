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
``x = U^T y_c (k,)`` and ``t = alpha / beta`` (``U`` from ``eigh`` of the smaller Gram matrix):

    ||m||^2     = sum_i s_i x_i^2 / (s_i + t)^2
    ||Fm - y||^2 = sum_i x_i^2 t^2 / (s_i + t)^2 + (||y||^2 - ||x||^2)
    log det A   = sum_{i<=k} log(alpha + beta s_i) + (D - k) log alpha

The last term is what makes LogME correct when ``N < D`` (the ICML code summed only ``k`` terms). All
classes are solved together as ``(k, C)`` arrays by safeguarded Newton steps on ``log t`` of the profile
evidence until its gradient vanishes (``tol``), not a fixed number of steps; at convergence this is MacKay's
fixed point. Everything is float64. Returns the mean over classes of evidence / N.
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


def _profile(s: np.ndarray, x2: np.ndarray, res_out: np.ndarray, u: np.ndarray, n: int):
    """Profile evidence ``L(u)`` (beta maximised out), its first and second derivative in ``u = log t``.

    With ``t = alpha / beta``, ``E(t) = ||y - F m||^2 + t ||m||^2 = r + sum_i x_i^2 t / (s_i + t)`` and the
    optimal ``beta = N / E(t)``, the log evidence is
    ``L = k/2 log t - N/2 log E(t) + N/2 (log N - 1 - log 2pi) - 1/2 sum_i log(t + s_i)``, and
    ``dL/du = gamma / 2 - N/2 t E'(t) / E(t)`` with ``gamma = sum_i s_i / (s_i + t)``: zero exactly at the
    MacKay fixed point.
    """
    t = np.exp(u)
    den = s[:, None] + t[None, :]                                      # (k, C)
    tiny = np.finfo(np.float64).tiny
    gamma = (s[:, None] / den).sum(axis=0)
    e = np.maximum(res_out + (x2 * t / den).sum(axis=0), tiny)
    a = (x2 * s[:, None] * t / den ** 2).sum(axis=0)                  # t E'(t)
    da = (x2 * s[:, None] * t * (s[:, None] - t) / den ** 3).sum(axis=0)
    dgamma = -(s[:, None] * t / den ** 2).sum(axis=0)
    value = (len(s) / 2 * u - n / 2 * np.log(e) + n / 2 * (np.log(n) - 1 - np.log(2 * np.pi))
             - np.log(den).sum(axis=0) / 2)
    grad = gamma / 2 - n / 2 * a / e
    hess = dgamma / 2 - n / 2 * (da * e - a ** 2) / e ** 2
    return value, grad, hess


def logme_evidence(features: np.ndarray, targets: np.ndarray, tol: float = 1e-10,
                   max_iter: int = 500) -> np.ndarray:
    """Per-target maximum log evidence / N; ``features (N, D)``, ``targets (N, C)`` real; returns ``(C,)``.

    The fixed point is found by safeguarded Newton steps on ``u = log(alpha / beta)`` over the profile evidence
    (see :func:`_profile`), for all targets at once, until ``|dL/du| / N < tol`` for every target (quadratic
    convergence; the plain MacKay update can need hundreds of steps when the optimum is flat). When ``N < D``
    and the targets are interpolated, the supremum lies at ``alpha / beta -> 0``; ``u`` is then bounded
    40 nats below ``log s_max`` where the remaining gain is below ``1e-17`` of the evidence scale.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    n, d = f.shape
    s, x, y2 = _spectrum(f, y)
    x2 = x ** 2
    res_out = np.maximum(y2 - x2.sum(axis=0), 0.0)                 # (C,) part of y outside col(F)
    smax = float(s.max()) if s.size and s.max() > 0 else 1.0
    lo, hi = np.log(smax) - 40.0, np.log(smax) + 40.0
    # start from one MacKay update at alpha = beta = 1
    den = s[:, None] + 1.0
    gamma = (s[:, None] / den).sum(axis=0)
    m2 = np.maximum((s[:, None] * x2 / den ** 2).sum(axis=0), 1e-300)
    res2 = np.maximum((x2 / den ** 2).sum(axis=0) + res_out, 1e-300)
    u = np.clip(np.log(np.maximum(gamma, 1e-300) * res2 / (np.maximum(n - gamma, 1e-300) * m2)), lo, hi)
    for _ in range(max_iter):
        value, grad, hess = _profile(s, x2, res_out, u, n)
        at_bound = ((u <= lo) & (grad < 0)) | ((u >= hi) & (grad > 0))
        if np.all((np.abs(grad) / n < tol) | at_bound):
            break
        step = np.where(hess < 0, -grad / np.where(hess < 0, hess, -1.0), np.sign(grad) * 2.0)
        step = np.clip(step, -4.0, 4.0)
        new_u = np.clip(u + step, lo, hi)
        new_value = _profile(s, x2, res_out, new_u, n)[0]
        for _ in range(30):                                        # backtrack: never decrease the evidence
            worse = new_value < value - 1e-12 * np.abs(value)
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
            new_u = np.where(worse, np.clip(u + step, lo, hi), new_u)
            new_value = np.where(worse, _profile(s, x2, res_out, new_u, n)[0], new_value)
        u = new_u
    value = _profile(s, x2, res_out, u, n)[0]
    return value / n


def logme(features: np.ndarray, labels: np.ndarray, tol: float = 1e-10, max_iter: int = 500) -> float:
    """LogME score of ``features (N, D)`` for class ``labels (N,)``: mean over classes of evidence / N.

    Higher is better. Typical values lie in about ``[-2, 2]``; only comparisons on the same data mean anything.
    """
    f, y, c = check_features(features, labels)
    onehot = np.eye(c)[y]
    return float(logme_evidence(f, onehot, tol=tol, max_iter=max_iter).mean())
