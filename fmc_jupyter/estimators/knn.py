"""Leave-one-out k-nearest-neighbour accuracy with cosine similarity.

For L2-normalised rows ``z_i = f_i / ||f_i||`` of ``features (N, D)`` the similarity is ``S = Z Z^T (N, N)``;
each example is classified by a majority vote of its ``k`` most similar *other* examples (ties go to the
class with the larger summed similarity), and the score is the fraction classified correctly:

    kNN-LOO = 1/N sum_i 1[ argmax_c sum_{j in NN_k(i)} (1[y_j = c] + eps * S_ij) = y_i ]

A classic non-parametric probe of how well the classes cluster in feature space; see e.g. Kornblith, Shlens,
Le, "Do Better ImageNet Models Transfer Better?", CVPR 2019, and the kNN baselines in Wu et al., CVPR 2018.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_features

__all__ = ["knn_accuracy"]


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out ``k``-NN accuracy (cosine) of ``features (N, D)`` for ``labels (N,)``; in ``[0, 1]``."""
    f, y, c = check_features(features, labels)
    n = len(f)
    k = int(max(1, min(k, n - 1)))
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    z = f / np.where(norms > 0, norms, 1.0)
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]          # (N, k) the k most similar others
    nn_sim = np.take_along_axis(sim, nn, axis=1)
    votes = np.zeros((n, c))
    rows = np.repeat(np.arange(n), k)
    np.add.at(votes, (rows, y[nn].ravel()), 1.0 + 1e-6 * (nn_sim.ravel() + 1.0))
    return float((votes.argmax(axis=1) == y).mean())
