"""Shared set-up for the fine-tuning, evaluation and auto tests (real weights, real sign-digit images).

KERAS_HOME must point at a copy of the offline Keras weights before Keras is imported; the suite's
conftest does that when present, and :func:`keras_weights` does it otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fmc_jupyter.config import shared_data_dir
from fmc_jupyter.errors import FmcError

MODEL = "MobileNet_0.25_224:v1"  # the catalog entry (later versions are fine-tuned ones)
WEIGHTS = "mobilenet_2_5_224_tf_no_top.h5"


def keras_weights() -> Path:
    """The shared data folder, with KERAS_HOME holding the MobileNet 0.25 weights; skips when absent."""
    data = shared_data_dir()
    if data is None or not (data / "keras" / "models" / WEIGHTS).is_file():
        pytest.skip("shared offline data (../shared/data with Keras MobileNet 0.25 weights) is not available")
    home = os.environ.get("KERAS_HOME")
    if not home or not (Path(home) / "models" / WEIGHTS).is_file():
        from fmc_jupyter.zoo import use_weights_dir

        try:
            use_weights_dir(data / "keras")
        except FmcError as exc:
            pytest.skip(f"cannot point Keras at the offline weights: {exc}")
    return data


def sign_digits(*per_class: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Disjoint stratified subsets of the real sign-digits images, ``per_class[k]`` of each class in part k."""
    data = keras_weights()
    with np.load(data / "datasets" / "sign_digits.npz") as npz:
        x, y = npz["x"], npz["y"]
    rng = np.random.default_rng(seed)
    order = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    parts, start = [], 0
    for n in per_class:
        idx = np.sort(np.concatenate([order[c][start:start + n] for c in order]))
        parts.append((x[idx], y[idx]))
        start += n
    return parts


def _point_keras_home_early() -> None:
    """At import (test collection), before any test imports Keras: set KERAS_HOME to a weights copy."""
    data = shared_data_dir()
    if data is None or "keras" in __import__("sys").modules or os.environ.get("KERAS_HOME"):
        return
    from fmc_jupyter.zoo import use_weights_dir

    use_weights_dir(data / "keras")


_point_keras_home_early()
