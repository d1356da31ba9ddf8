"""Dataset signatures, their distance and the records vote: numpy only, checked against naive float64 loops."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.errors import InputError
from fmc_jupyter.similarity import (Signature, records_scores, signature_distance, signature_from_features,
                                    similarity_weights)


def blobs(classes, per_class=15, dim=12, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3 + shift
    f = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centres])
    return f, np.repeat(np.arange(classes), per_class)


def naive_distance(fa, ya, fb, yb):
    def sig(f, y):
        z = [row / np.linalg.norm(row) for row in f]
        means, spreads = [], []
        for c in sorted(set(y.tolist())):
            members = [z[i] for i in range(len(z)) if y[i] == c]
            mu = sum(members) / len(members)
            means.append(mu)
            spreads.append(sum(np.sqrt(((m - mu) ** 2).sum()) for m in members) / len(members))
        return means, spreads

    ma, sa = sig(fa, ya)
    mb, sb = sig(fb, yb)
    ab = sum(min(np.sqrt(((a - b) ** 2).sum()) for b in mb) for a in ma) / len(ma)
    ba = sum(min(np.sqrt(((a - b) ** 2).sum()) for a in ma) for b in mb) / len(mb)
    return 0.5 * (ab + ba) + abs(sum(sa) / len(sa) - sum(sb) / len(sb))


@pytest.mark.parametrize("seed", range(3))
def test_distance_matches_the_naive_formula(seed):
    fa, ya = blobs(3, seed=seed)
    fb, yb = blobs(5, per_class=7, seed=seed + 10)
    d = signature_distance(signature_from_features(fa, ya), signature_from_features(fb, yb))
    assert d == pytest.approx(naive_distance(fa, ya, fb, yb), rel=1e-10)


def test_distance_is_zero_for_the_same_data_symmetric_and_orders_neighbours():
    fa, ya = blobs(4, seed=1)
    near_f, near_y = fa + np.random.default_rng(2).normal(scale=0.05, size=fa.shape), ya
    far_f, far_y = blobs(4, seed=9, shift=5.0)
    a, near, far = (signature_from_features(f, y) for f, y in ((fa, ya), (near_f, near_y), (far_f, far_y)))
    assert signature_distance(a, a) == 0.0
    assert signature_distance(a, far) == pytest.approx(signature_distance(far, a))
    assert signature_distance(a, near) < signature_distance(a, far)


def test_signature_round_trips_and_refuses_other_embedders():
    f, y = blobs(3)
    sig = signature_from_features(f, y)
    back = Signature.from_dict(sig.to_dict())
    assert signature_distance(sig, back) == pytest.approx(0.0, abs=1e-5)
    other = Signature(sig.means, sig.spreads, sig.counts, embedder="another")
    with pytest.raises(InputError, match="embedders"):
        signature_distance(sig, other)
    with pytest.raises(InputError):
        signature_from_features(f, y[:-1])


def test_records_vote_is_a_similarity_weighted_rank_mean_and_missing_stays_missing():
    names = ["a", "b", "c", "d"]
    near = [(0.1, {"a": 0.9, "b": 0.5, "c": 0.7}),      # ranks a 1, b 0, c .5
            (0.3, {"b": 0.8, "a": 0.6}),                # ranks b 1, a 0
            (0.2, {"c": 0.4})]                          # a lone record has no rank
    vote = records_scores(names, near)
    w = similarity_weights([0.1, 0.3, 0.2])
    assert w == pytest.approx(np.exp(-np.array([0.1, 0.3, 0.2]) / 0.2))
    assert vote[0] == pytest.approx((w[0] * 1 + w[1] * 0) / (w[0] + w[1]))
    assert vote[1] == pytest.approx((w[0] * 0 + w[1] * 1) / (w[0] + w[1]))
    assert vote[2] == pytest.approx(0.5)
    assert np.isnan(vote[3])                            # no record near the data: missing, not worst
    assert np.isnan(records_scores(names, [])).all()
