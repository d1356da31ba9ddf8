"""N-LEEP: LEEP with a Gaussian mixture on the features standing in for the source head.

Li, Jia, Zhu, Wang, Cui, Chen, Hsieh, Gong, "Ranking Neural Checkpoints", CVPR 2021.

1. Centre ``features (N, D)`` and keep the principal components explaining ``variance`` (80% in the paper) of
   the variance, at most ``max_dims``: ``z (N, d)``.
2. Fit a Gaussian mixture with ``K = components_per_class * C`` components (5 per class in the paper; at most
   ``N // 2``) and diagonal covariances by EM (k-means++ initialisation, seeded), maximising
   ``sum_i log sum_k pi_k N(z_i; mu_k, diag(s_k))``; variances are floored at ``1e-6`` times the mean variance.
3. The posteriors ``theta_ik = p(k | z_i)`` play the role of the source probabilities in LEEP:
   ``N-LEEP = LEEP(theta, y)`` (see :mod:`.leep`). Higher is better, ``<= 0``.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_features, left_singular
from .leep import leep

__all__ = ["nleep", "fit_diagonal_gmm", "gmm_log_responsibilities"]


def gmm_log_responsibilities(z: np.ndarray, weights: np.ndarray, means: np.ndarray,
                             variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E-step: ``log p(k | z_i) (N, K)`` and ``log p(z_i) (N,)`` for a diagonal GMM."""
    d = z.shape[1]
    log_det = np.log(variances).sum(axis=1)                              # (K,)
    prec = 1.0 / variances
    maha = (z ** 2) @ prec.T - 2 * z @ (means * prec).T + ((means ** 2) * prec).sum(axis=1)  # (N, K)
    log_joint = np.log(weights) - 0.5 * (d * np.log(2 * np.pi) + log_det + maha)
    top = log_joint.max(axis=1, keepdims=True)
    log_px = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
    return log_joint - log_px[:, None], log_px


def fit_diagonal_gmm(z: np.ndarray, k: int, seed: int = 0, max_iter: int = 200,
                     tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """EM for a ``k``-component diagonal GMM on ``z (N, d)``; returns weights, means, variances, mean log-lik per step."""
    rng = np.random.default_rng(seed)
    n = len(z)
    floor = 1e-6 * max(float(z.var(axis=0).mean()), np.finfo(np.float64).tiny)
    centres = [z[rng.integers(n)]]
    d2 = ((z - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):                                               # k-means++ seeding
        probs = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1 / n)
        centres.append(z[rng.choice(n, p=probs)])
        d2 = np.minimum(d2, ((z - centres[-1]) ** 2).sum(axis=1))
    means = np.array(centres)
    nearest = (((z[:, None, :] - means[None]) ** 2).sum(axis=2)).argmin(axis=1)
    resp = np.eye(k)[nearest]
    history: list[float] = []
    for _ in range(max_iter):
        nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps            # M-step
        weights = nk / n
        means = resp.T @ z / nk[:, None]
        variances = np.maximum(resp.T @ (z ** 2) / nk[:, None] - means ** 2, floor)
        log_resp, log_px = gmm_log_responsibilities(z, weights, means, variances)   # E-step
        resp = np.exp(log_resp)
        history.append(float(log_px.mean()))
        if len(history) > 1 and abs(history[-1] - history[-2]) <= tol * max(1.0, abs(history[-1])):
            break
    return weights, means, variances, history


def nleep(features: np.ndarray, labels: np.ndarray, components_per_class: int = 5, variance: float = 0.8,
          max_dims: int = 64, seed: int = 0) -> float:
    """N-LEEP of ``features (N, D)`` for ``labels (N,)``; higher is better."""
    f, y, c = check_features(features, labels)
    f = f - f.mean(axis=0)
    u, sv = left_singular(f)
    ratio = np.cumsum(sv ** 2) / max((sv ** 2).sum(), np.finfo(np.float64).tiny)
    d = int(min(max_dims, np.searchsorted(ratio, variance) + 1, len(sv)))
    z = u[:, :d] * sv[:d]
    k = int(max(2, min(components_per_class * c, len(f) // 2)))
    weights, means, variances, _ = fit_diagonal_gmm(z, k, seed=seed)
    log_resp, _ = gmm_log_responsibilities(z, weights, means, variances)
    return leep(np.exp(log_resp), y)
