"""Cross-validated accuracy of a linear probe (a ridge-regression classifier on one-hot targets).

For each of ``K`` stratified folds, features are standardised with the training fold's mean and standard
deviation, and a least-squares classifier with L2 penalty is fit in closed form:

    W = argmin_W ||X W - Y||_F^2 + lam ||W||_F^2 = X^T (X X^T + lam I_n)^-1 Y      (dual form, n x n solve)

with ``X (n, D)`` the standardised training fold, ``Y (n, C)`` one-hot targets centred by their mean (the
intercept), and ``lam = reg * D`` (each standardised feature has unit variance, so ``tr(X^T X) = n D``). A test
example is assigned ``argmax_c (x W + mean(Y))_c``. The score is the accuracy pooled over all folds.

This is the "linear evaluation" protocol of Kornblith, Shlens, Le, "Do Better ImageNet Models Transfer Better?",
CVPR 2019, with a closed-form ridge classifier instead of L-BFGS logistic regression so that it stays cheap.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ._checks import check_features

__all__ = ["linear_probe_accuracy", "stratified_folds"]


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold id ``(N,)`` in ``0..folds-1``; every class spread evenly over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        fold[idx] = (np.arange(len(idx)) + offset) % folds
        offset += len(idx)
    return fold


def linear_probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 5, reg: float = 1.0,
                          seed: int = 0) -> float:
    """Stratified ``folds``-fold CV accuracy of a ridge classifier on ``features (N, D)``; in ``[0, 1]``."""
    f, y, c = check_features(features, labels, min_per_class=2)
    folds = int(min(folds, np.bincount(y).min()))
    if folds < 2:
        raise InputError("the linear probe needs at least 2 examples per class")
    fold = stratified_folds(y, folds, seed)
    onehot = np.eye(c)[y]
    lam = reg * f.shape[1]
    correct = 0
    for k in range(folds):
        tr, te = fold != k, fold == k
        mu, sd = f[tr].mean(axis=0), f[tr].std(axis=0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        xtr, xte = (f[tr] - mu) / sd, (f[te] - mu) / sd
        ymean = onehot[tr].mean(axis=0)
        gram = xtr @ xtr.T
        gram[np.diag_indices_from(gram)] += lam
        dual = np.linalg.solve(gram, onehot[tr] - ymean)        # (n, C)
        pred = (xte @ (xtr.T @ dual) + ymean).argmax(axis=1)
        correct += int((pred == y[te]).sum())
    return correct / len(y)
