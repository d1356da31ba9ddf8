"""LEEP and NCE: transferability from a source classifier's predictions.

Both take ``probs (N, Z)``, the source head's class probabilities (e.g. ImageNet's 1000 classes) on the target
images, and target ``labels (N,)`` with ``C`` classes.

LEEP (Nguyen, Hassner, Seeger, Archambeau, "LEEP: A New Measure to Evaluate Transferability of Learned
Representations", ICML 2020): the empirical joint ``P(y, z) = 1/N sum_i theta_iz 1[y_i = y]`` gives the
conditional ``P(y | z) = P(y, z) / P(z)``, and

    LEEP = 1/N sum_i log( sum_z P(y_i | z) theta_iz )          (<= 0, higher is better)

NCE (Tran, Nguyen, Hassner, "Transferability and Hardness of Supervised Classification Tasks", ICCV 2019):
with hard source labels ``z_i = argmax_z theta_iz`` and their empirical joint ``P(y, z)``,

    NCE = -H(Y | Z) = sum_{y, z} P(y, z) log P(y | z)          (<= 0, higher is better)
"""

from __future__ import annotations

import numpy as np

from ._checks import check_probabilities

__all__ = ["leep", "nce"]


def leep(probs: np.ndarray, labels: np.ndarray) -> float:
    """LEEP score of source probabilities ``probs (N, Z)`` for target ``labels (N,)``."""
    p, y, c = check_probabilities(probs, labels)
    n = len(p)
    joint = np.zeros((c, p.shape[1]))
    np.add.at(joint, y, p)
    joint /= n                                                  # (C, Z) P(y, z)
    pz = joint.sum(axis=0)
    cond = np.divide(joint, pz, out=np.zeros_like(joint), where=pz > 0)   # P(y | z)
    eep = (p * cond[y]).sum(axis=1)                             # (N,) sum_z P(y_i|z) theta_iz
    return float(np.log(np.maximum(eep, np.finfo(np.float64).tiny)).mean())


def nce(probs: np.ndarray, labels: np.ndarray) -> float:
    """NCE (negative conditional entropy) of hard source predictions ``argmax probs (N, Z)`` for ``labels (N,)``."""
    p, y, c = check_probabilities(probs, labels)
    z = p.argmax(axis=1)
    joint = np.zeros((c, p.shape[1]))
    np.add.at(joint, (y, z), 1.0 / len(p))
    pz = joint.sum(axis=0, keepdims=True)
    mask = joint > 0
    return float((joint[mask] * np.log(joint[mask] / np.broadcast_to(pz, joint.shape)[mask])).sum())
