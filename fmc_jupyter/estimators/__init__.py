"""Transferability estimators: pure numpy functions ``(features (N, D), labels (N,)) -> float``, higher is better.

LEEP and NCE take a source head's probabilities ``(N, Z)`` instead of features. No Keras, no Jupyter here.
"""

from .combine import normalised_ranks, rank_average
from .gbc import gbc
from .hscore import hscore
from .knn import knn_accuracy
from .leep import leep, nce
from .linear_probe import linear_probe_accuracy
from .logme import logme
from .nleep import nleep

#: method name -> (function, input): "features" or "probs" (source head probabilities)
ESTIMATORS = {
    "logme": (logme, "features"),
    "knn": (knn_accuracy, "features"),
    "linear_probe": (linear_probe_accuracy, "features"),
    "hscore": (hscore, "features"),
    "gbc": (gbc, "features"),
    "nleep": (nleep, "features"),
    "leep": (leep, "probs"),
    "nce": (nce, "probs"),
}

__all__ = ["logme", "knn_accuracy", "linear_probe_accuracy", "hscore", "gbc", "nleep", "leep", "nce",
           "rank_average", "normalised_ranks", "ESTIMATORS"]
