"""Dataset signatures and distances: which registered datasets look like the user's?

A signature summarises a labelled image set by class-conditional statistics of features from ONE fixed reference
embedder (``REFERENCE_MODEL``: the catalog's Keras MobileNet 0.25, ImageNet weights, 256-d pooled features), so
that signatures of different datasets are comparable and cheap to store (``C x 256`` floats):

    z_i = f_i / ||f_i||                     L2-normalised features of at most ``SIGNATURE_PER_CLASS`` images/class
    mu_c = mean_{i: y_i = c} z_i            (C, D) class means
    s_c  = mean_{i: y_i = c} ||z_i - mu_c|| (C,)   class spreads

The distance of datasets A and B is an average Hausdorff distance between their sets of class means, plus the
difference of their mean spreads (how tight the classes are):

    d(A, B) = 1/2 [ mean_a min_b ||mu_a - mu_b|| + mean_b min_a ||mu_a - mu_b|| ] + |mean(s^A) - mean(s^B)|

It is 0 for the same data, symmetric, and needs no correspondence between the two label sets; it is a cheap
stand-in for the optimal-transport dataset distance (Alvarez-Melis & Fusi, "Geometric Dataset Distances via
Optimal Transport", NeurIPS 2020), which compares whole class-conditional distributions.

``records_scores`` turns the registry's own history into a vote for ``rank``: on each of the nearest datasets,
the models' best recorded accuracies (evaluations and finished training runs) are ranked, and a candidate's
vote is the similarity-weighted mean of its normalised ranks there (weights ``exp(-d / tau)``, ``tau`` the
median distance of the neighbours); NaN for a model with no record near the user's data.

Pure numpy here; features come from :mod:`fmc_jupyter.zoo.features` (Keras, lazily) in :func:`compute_signature`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["Signature", "signature_from_features", "signature_distance", "compute_signature", "records_scores",
           "similarity_weights", "checked_signature", "REFERENCE_MODEL", "SIGNATURE_PER_CLASS", "MAX_SIGNATURE_CLASSES",
           "MAX_SIGNATURE_DIM"]

#: the fixed reference embedder of every signature (a catalog entry, built through Keras's own loader)
REFERENCE_MODEL = "MobileNet_0.25_224:v1"
#: images per class a signature is computed on (seeded stratified draw)
SIGNATURE_PER_CLASS = 20
#: the largest signature a registry accepts from a client (classes x feature dimension)
MAX_SIGNATURE_CLASSES = 100_000
MAX_SIGNATURE_DIM = 8192


@dataclass(frozen=True)
class Signature:
    """``means (C, D)`` class means of L2-normalised reference features, ``spreads (C,)``, ``counts (C,)``."""

    means: np.ndarray
    spreads: np.ndarray
    counts: np.ndarray
    embedder: str = REFERENCE_MODEL

    def to_dict(self) -> dict[str, Any]:
        return {"means": self.means.round(6).tolist(), "spreads": self.spreads.round(6).tolist(),
                "counts": self.counts.tolist(), "embedder": self.embedder}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Signature":
        return cls(np.asarray(data["means"], dtype=np.float64), np.asarray(data["spreads"], dtype=np.float64),
                   np.asarray(data["counts"], dtype=np.int64), str(data.get("embedder", REFERENCE_MODEL)))


def signature_from_features(features: np.ndarray, labels: np.ndarray, embedder: str = REFERENCE_MODEL) -> Signature:
    """The :class:`Signature` of ``features (N, D)`` with ``labels (N,)`` (module docstring)."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if f.ndim != 2 or len(f) != len(y) or len(f) == 0:
        raise InputError(f"features must be (N, D) with one label each; got {f.shape} and {y.shape}")
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    z = f / np.where(norms > 0, norms, 1.0)
    classes = np.unique(y)
    means = np.stack([z[y == c].mean(axis=0) for c in classes])
    spreads = np.array([np.linalg.norm(z[y == c] - means[k], axis=1).mean() for k, c in enumerate(classes)])
    counts = np.array([int((y == c).sum()) for c in classes])
    return Signature(means, spreads, counts, embedder)


def checked_signature(value: Any, name: str = "signature") -> Signature:
    """``value`` (a :class:`Signature` or its :meth:`~Signature.to_dict` form, e.g. sent by a kernel to the
    registry service) as a :class:`Signature`, or :class:`InputError` saying what is wrong: the reference
    embedder, ``means (C, D)`` finite, ``spreads (C,)`` finite and >= 0, ``counts (C,)`` whole numbers >= 1."""
    if isinstance(value, Signature):
        value = value.to_dict()
    if not isinstance(value, Mapping) or not {"means", "spreads", "counts"} <= set(value):
        raise InputError(f"{name} must be a dataset signature: a dict with means, spreads, counts and embedder "
                         f"(Signature.to_dict()), not {str(value)[:60]!r}")
    unknown = set(value) - {"means", "spreads", "counts", "embedder"}
    if unknown:
        raise InputError(f"{name} has unknown fields {sorted(map(str, unknown))}")
    embedder = value.get("embedder", REFERENCE_MODEL)
    if embedder != REFERENCE_MODEL:
        raise InputError(f"{name} must come from the reference embedder {REFERENCE_MODEL}, not {str(embedder)[:60]!r}")
    try:
        means = np.asarray(value["means"], dtype=np.float64)
        spreads = np.asarray(value["spreads"], dtype=np.float64)
        counts = np.asarray(value["counts"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: means, spreads and counts must be (nested lists of) numbers") from None
    if means.ndim != 2 or not 1 <= means.shape[0] <= MAX_SIGNATURE_CLASSES or \
            not 1 <= means.shape[1] <= MAX_SIGNATURE_DIM:
        raise InputError(f"{name}: means must be a (classes, features) matrix with 1..{MAX_SIGNATURE_CLASSES} rows "
                         f"and 1..{MAX_SIGNATURE_DIM} columns, got shape {means.shape}")
    classes = means.shape[0]
    if spreads.shape != (classes,) or counts.shape != (classes,):
        raise InputError(f"{name}: spreads and counts need one value per class ({classes}), got shapes "
                         f"{spreads.shape} and {counts.shape}")
    if not (np.isfinite(means).all() and np.isfinite(spreads).all()) or (spreads < 0).any():
        raise InputError(f"{name}: means and spreads must be finite numbers (spreads >= 0)")
    if not np.isfinite(counts).all() or (counts < 1).any() or (counts != np.round(counts)).any() or \
            (counts > 2 ** 62).any():
        raise InputError(f"{name}: counts must be whole numbers >= 1")
    return Signature(means, spreads, counts.astype(np.int64), REFERENCE_MODEL)


def signature_distance(a: Signature, b: Signature) -> float:
    """``d(A, B)`` of the module docstring; >= 0, symmetric, 0 for identical signatures."""
    if a.means.shape[1] != b.means.shape[1] or a.embedder != b.embedder:
        raise InputError(f"signatures from different embedders ({a.embedder}, {b.embedder}) cannot be compared")
    diff = np.linalg.norm(a.means[:, None, :] - b.means[None, :, :], axis=2)      # (Ca, Cb)
    hausdorff = 0.5 * (diff.min(axis=1).mean() + diff.min(axis=0).mean())
    return float(hausdorff + abs(a.spreads.mean() - b.spreads.mean()))


def compute_signature(registry, images: np.ndarray, labels: np.ndarray, *, seed: int = 0,
                      progress: bool = False) -> Signature:
    """The signature of ``images (N, H, W, 3)`` (0..255) with ``labels (N,)``: at most ``SIGNATURE_PER_CLASS``
    images per class through the reference embedder (features cached like any other)."""
    from .arrays import stratified_indices
    from .zoo.features import extract_features

    rows = stratified_indices(np.asarray(labels), SIGNATURE_PER_CLASS, seed)
    record = registry.model(REFERENCE_MODEL)
    ex = extract_features(record, images[rows], registry, progress=progress)
    return signature_from_features(ex.features, np.asarray(labels)[rows])


def similarity_weights(distances: Sequence[float]) -> np.ndarray:
    """``exp(-d / tau)`` with ``tau`` the median distance (1 for one neighbour at distance 0)."""
    d = np.asarray(distances, dtype=np.float64)
    if d.size == 0:
        return d
    tau = float(np.median(d))
    tau = tau if tau > 1e-12 else 1.0
    return np.exp(-d / tau)


def records_scores(model_names: Sequence[str], neighbours: Sequence[tuple[float, Mapping[str, float]]]) -> np.ndarray:
    """The ``records`` vote ``(M,)`` for candidates ``model_names``.

    ``neighbours``: ``(distance, {model name: best recorded accuracy on that dataset})`` of the nearest datasets.
    On each neighbour the recorded models are ranked (normalised ranks, 1 = best; a lone record has no rank);
    a candidate's vote is the similarity-weighted mean of its ranks where it has one, NaN elsewhere.
    """
    from .estimators import normalised_ranks

    weights = similarity_weights([d for d, _ in neighbours])
    total = np.zeros(len(model_names))
    norm = np.zeros(len(model_names))
    for w, (_, accuracies) in zip(weights, neighbours):
        names = list(accuracies)
        ranks = dict(zip(names, normalised_ranks(np.array([accuracies[n] for n in names], dtype=np.float64))))
        for j, name in enumerate(model_names):
            r = ranks.get(name)
            if r is not None and np.isfinite(r):
                total[j] += w * r
                norm[j] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, total / np.where(norm > 0, norm, 1), np.nan)
