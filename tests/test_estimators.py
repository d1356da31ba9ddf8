"""Each estimator against a naive float64 reference written from its paper, plus properties."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.errors import InputError
from fmc_jupyter.estimators import (ESTIMATORS, gbc, hscore, knn_accuracy, leep, linear_probe_accuracy, logme,
                                    nce, nleep, normalised_ranks, rank_average)
from fmc_jupyter.estimators.hscore import ledoit_wolf_shrinkage
from fmc_jupyter.estimators.linear_probe import stratified_folds
from fmc_jupyter.estimators.logme import logme_evidence
from fmc_jupyter.estimators.nleep import fit_diagonal_gmm, gmm_log_responsibilities


def make_data(n_per_class=20, classes=4, d=16, signal=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    centres = rng.normal(size=(classes, d)) * signal
    f = rng.normal(size=(len(y), d)) + centres[y]
    perm = rng.permutation(len(y))
    return f[perm], y[perm]


# ---------------------------------------------------------------- LogME
def naive_logme(f, y, tol=1e-13, max_iter=100000):
    """Per class: MacKay's fixed point with the explicit D x D matrices of the paper (N >= D)."""
    n, d = f.shape
    eig = np.linalg.eigvalsh(f.T @ f)
    out = []
    for c in np.unique(y):
        t = (y == c).astype(np.float64)
        alpha, beta = 1.0, 1.0
        prev = None
        for _ in range(max_iter):
            a = alpha * np.eye(d) + beta * f.T @ f
            m = beta * np.linalg.solve(a, f.T @ t)
            gamma = float((beta * eig / (alpha + beta * eig)).sum())
            res2 = float(((f @ m - t) ** 2).sum())
            m2 = float(m @ m)
            ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi) - beta / 2 * res2
                  - alpha / 2 * m2 - np.linalg.slogdet(a)[1] / 2) / n
            if prev is not None and abs(ev - prev) <= tol * (1 + abs(ev)):
                break
            prev = ev
            alpha, beta = gamma / m2, (n - gamma) / res2
        out.append(ev)
    return float(np.mean(out))


def interpolation_limit_logme(f, y):
    """N < D, full row rank: the evidence supremum (alpha/beta -> 0), from the paper's formula in that limit:
    N/2 log(N / ||F^+ y||^2) - N/2 - 1/2 sum_i log s_i - N/2 log 2pi (s_i: eigenvalues of F F^T)."""
    n = len(f)
    s = np.linalg.eigvalsh(f @ f.T)
    pinv = np.linalg.pinv(f)
    vals = []
    for c in np.unique(y):
        t = (y == c).astype(np.float64)
        m2 = float(((pinv @ t) ** 2).sum())
        vals.append((n / 2 * np.log(n / m2) - n / 2 - np.log(s).sum() / 2 - n / 2 * np.log(2 * np.pi)) / n)
    return float(np.mean(vals))


@pytest.mark.parametrize("shape", [(30, 4, 8), (20, 3, 25), (10, 5, 40)])
def test_logme_matches_naive_reference(shape):
    per_class, classes, d = shape
    f, y = make_data(per_class, classes, d, signal=0.7, seed=d)
    assert logme(f, y) == pytest.approx(naive_logme(f, y), rel=1e-7, abs=1e-9)


def test_logme_n_smaller_than_d_reaches_the_interpolation_limit():
    f, y = make_data(6, 3, 60, seed=3)      # N=18 < D=60
    assert logme(f, y) == pytest.approx(interpolation_limit_logme(f, y), rel=1e-6)


def test_logme_prefers_separable_features_and_ignores_label_names():
    f_good, y = make_data(20, 4, 16, signal=3.0)
    f_bad = np.random.default_rng(1).normal(size=f_good.shape)
    assert logme(f_good, y) > logme(f_bad, y)
    names = np.array(["cat", "dog", "emu", "fox"])[y]
    assert logme(f_good, names) == pytest.approx(logme(f_good, y), rel=1e-12)
    assert logme_evidence(f_good, np.eye(4)[y]).shape == (4,)


# ---------------------------------------------------------------- kNN
def naive_knn(f, y, k):
    z = f / np.linalg.norm(f, axis=1, keepdims=True)
    correct = 0
    for i in range(len(f)):
        sims = [(float(z[i] @ z[j]), j) for j in range(len(f)) if j != i]
        sims.sort(key=lambda p: -p[0])
        votes = {}
        for s, j in sims[:k]:
            count, total = votes.get(y[j], (0, 0.0))
            votes[y[j]] = (count + 1, total + s)
        best = max(votes.items(), key=lambda kv: (kv[1][0], kv[1][1]))[0]
        correct += best == y[i]
    return correct / len(f)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_knn_matches_naive_reference(k):
    f, y = make_data(12, 3, 10, signal=0.6, seed=k)
    assert knn_accuracy(f, y, k=k) == pytest.approx(naive_knn(f, y, k))


def test_knn_is_scale_invariant_per_row():
    f, y = make_data(10, 3, 8, seed=2)
    scale = np.random.default_rng(0).uniform(0.1, 10, size=(len(f), 1))
    assert knn_accuracy(f * scale, y) == knn_accuracy(f, y)


# ---------------------------------------------------------------- linear probe
def naive_linear_probe(f, y, folds, reg=1.0, seed=0):
    fold = stratified_folds(y, folds, seed)
    c = len(np.unique(y))
    correct = 0
    for k in range(folds):
        tr, te = fold != k, fold == k
        mu, sd = f[tr].mean(0), f[tr].std(0)
        xtr, xte = (f[tr] - mu) / sd, (f[te] - mu) / sd
        t = np.eye(c)[y[tr]]
        tm = t.mean(0)
        w = np.linalg.solve(xtr.T @ xtr + reg * f.shape[1] * np.eye(f.shape[1]), xtr.T @ (t - tm))   # primal
        correct += int(((xte @ w + tm).argmax(1) == y[te]).sum())
    return correct / len(y)


def test_linear_probe_matches_primal_ridge_reference():
    f, y = make_data(10, 3, 12, signal=0.8, seed=4)
    assert linear_probe_accuracy(f, y, folds=5) == pytest.approx(naive_linear_probe(f, y, 5))


def test_stratified_folds_spread_every_class():
    y = np.repeat([0, 1, 2], [5, 7, 10])
    fold = stratified_folds(y, 5)
    for c in range(3):
        counts = np.bincount(fold[y == c], minlength=5)
        assert counts.max() - counts.min() <= 1


# ---------------------------------------------------------------- H-score
def naive_hscore(f, y):
    """Ibrahim et al. 2022 with an explicit D x D covariance and Ledoit-Wolf from its definition."""
    n, d = f.shape
    x = f - f.mean(0)
    s = x.T @ x / n
    mu = np.trace(s) / d
    delta = np.linalg.norm(s - mu * np.eye(d), "fro") ** 2 / d
    beta = sum(np.linalg.norm(np.outer(xi, xi) - s, "fro") ** 2 for xi in x) / (d * n * n)
    a = min(beta, delta) / delta
    sigma = (1 - a) * s + a * mu * np.eye(d)
    g = np.zeros_like(x)
    for c in np.unique(y):
        g[y == c] = x[y == c].mean(0)
    sg = g.T @ g / n
    return float(np.trace(np.linalg.inv(sigma) @ ((1 - a) * sg)))


@pytest.mark.parametrize("d", [6, 40])
def test_hscore_matches_naive_reference(d):
    f, y = make_data(8, 3, d, seed=d)
    assert hscore(f, y) == pytest.approx(naive_hscore(f, y), rel=1e-8)


def test_ledoit_wolf_shrinkage_bounds():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5)) * np.array([1, 2, 5, 10, 20])
    assert 0 <= ledoit_wolf_shrinkage(x - x.mean(0)) < 0.05    # plenty of anisotropic data: little shrinkage
    x = rng.normal(size=(500, 5))
    assert ledoit_wolf_shrinkage(x - x.mean(0)) > 0.5          # isotropic: the target is the truth
    x = rng.normal(size=(5, 200))
    assert ledoit_wolf_shrinkage(x - x.mean(0)) > 0.5          # N << D: strong shrinkage


# ---------------------------------------------------------------- GBC
def naive_gbc(f, y, dims=64):
    x = f - f.mean(0)
    u, sv, _ = np.linalg.svd(x, full_matrices=False)
    dims = min(dims, f.shape[1], len(f) - 1)
    z = u[:, :dims] * sv[:dims]
    classes = np.unique(y)
    floor = 1e-6 * z.var(0).mean()
    stats = {c: (z[y == c].mean(0), np.diag(np.maximum(z[y == c].var(0), floor))) for c in classes}
    total = 0.0
    for a in classes:
        for b in classes:
            if a == b:
                continue
            (m1, s1), (m2, s2) = stats[a], stats[b]
            s = (s1 + s2) / 2
            db = (m1 - m2) @ np.linalg.inv(s) @ (m1 - m2) / 8 + 0.5 * np.log(
                np.linalg.det(s) / np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
            total += np.exp(-db)
    return -total


@pytest.mark.parametrize("d", [5, 30])
def test_gbc_matches_naive_reference(d):
    f, y = make_data(10, 3, d, signal=0.5, seed=d)
    assert gbc(f, y, dims=8) == pytest.approx(naive_gbc(f, y, dims=8), rel=1e-8, abs=1e-12)


def test_gbc_prefers_separated_classes():
    f, y = make_data(15, 3, 10, signal=0.2, seed=1)
    f2, y2 = make_data(15, 3, 10, signal=5.0, seed=1)
    assert gbc(f2, y2) > gbc(f, y)
    assert gbc(f2, y2) <= 0


# ---------------------------------------------------------------- LEEP, NCE, N-LEEP
def naive_leep(p, y):
    n, z = p.shape
    classes = np.unique(y)
    joint = np.array([[sum(p[i, j] for i in range(n) if y[i] == c) / n for j in range(z)] for c in classes])
    cond = joint / joint.sum(0)
    idx = {c: k for k, c in enumerate(classes)}
    return float(np.mean([np.log(sum(cond[idx[y[i]], j] * p[i, j] for j in range(z))) for i in range(n)]))


def naive_nce(p, y):
    z = p.argmax(1)
    total = 0.0
    for a in np.unique(y):
        for b in np.unique(z):
            pyz = np.mean((y == a) & (z == b))
            if pyz > 0:
                total += pyz * np.log(pyz / np.mean(z == b))
    return total


def test_leep_and_nce_match_naive_references():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    p = rng.dirichlet(np.ones(7), size=30)
    assert leep(p, y) == pytest.approx(naive_leep(p, y), rel=1e-10)
    assert nce(p, y) == pytest.approx(naive_nce(p, y), rel=1e-10, abs=1e-12)
    perfect = np.eye(3)[y] * 0.98 + 0.01
    assert leep(perfect, y) > leep(p, y)
    assert nce(perfect, y) == pytest.approx(0.0, abs=1e-12)


def naive_diag_gaussian_logpdf(z, mean, var):
    return -0.5 * (np.log(2 * np.pi * var).sum() + ((z - mean) ** 2 / var).sum())


def test_gmm_e_step_matches_naive_densities_and_em_never_decreases_likelihood():
    f, y = make_data(15, 3, 4, signal=3.0, seed=5)
    w, m, v, history = fit_diagonal_gmm(f, 4, seed=0)
    assert np.all(np.diff(history) >= -1e-9)
    log_resp, log_px = gmm_log_responsibilities(f, w, m, v)
    for i in (0, 7, 33):
        joint = np.array([np.log(w[k]) + naive_diag_gaussian_logpdf(f[i], m[k], v[k]) for k in range(4)])
        assert log_px[i] == pytest.approx(np.log(np.exp(joint).sum()), rel=1e-9)
        assert np.exp(log_resp[i]) == pytest.approx(np.exp(joint - log_px[i]), abs=1e-9)


def test_nleep_prefers_informative_features():
    f, y = make_data(15, 3, 12, signal=4.0, seed=6)
    noise = np.random.default_rng(7).normal(size=f.shape)
    assert nleep(f, y) > nleep(noise, y)
    assert nleep(f, y) == nleep(f, y)    # seeded


# ---------------------------------------------------------------- combination and input checks
def test_normalised_ranks_ties_and_missing():
    r = normalised_ranks(np.array([0.1, 0.5, np.nan, 0.5, -3]))
    assert np.isnan(r[2])
    assert r[4] == 0.0 and r[1] == r[3] == pytest.approx((2 + 3) / 2 / 3) and r[0] == pytest.approx(1 / 3)


def test_rank_average_skips_missing_methods():
    combined = rank_average({"a": np.array([1.0, 2.0, 3.0]), "b": np.array([3.0, 2.0, np.nan])})
    # a: ranks 0, .5, 1 (full vote); b: 1, 0, missing, scored 2 of 3 models -> vote (2-1)/(3-1) = 1/2
    assert combined == pytest.approx([0.5 / 1.5, 0.5 / 1.5, 1.0])
    with pytest.raises(InputError):
        rank_average({"a": np.ones(2), "b": np.ones(3)})


def test_lone_score_is_missing_not_best():
    """A prior known for one model only carries no order: it must not lift that model (issue 16)."""
    knn = np.array([0.9, 0.8, 0.7, 0.6])
    probe = np.array([0.85, 0.8, 0.75, 0.5])
    top1 = np.array([np.nan, np.nan, np.nan, 0.7])        # only the worst model has a known top-1
    assert np.isnan(normalised_ranks(top1)).all()
    combined = rank_average({"knn": knn, "linear_probe": probe, "top1": top1})
    assert combined[3] == 0.0                               # worst on every method that ranks it: 0
    assert combined[0] == 1.0
    assert np.argsort(-combined).tolist() == [0, 1, 2, 3]
    assert combined == pytest.approx(rank_average({"knn": knn, "linear_probe": probe}))


def test_worst_everywhere_scores_zero_best_everywhere_one():
    rng = np.random.default_rng(3)
    scores = {m: rng.normal(size=6) for m in "abc"}
    for m in scores:
        scores[m][2] = -10.0
        scores[m][4] = 10.0
    scores["c"][1] = np.nan
    combined = rank_average(scores)
    assert combined[2] == 0.0 and combined[4] == 1.0


def naive_rank_average(scores, weights=None):
    """Float64 reference written from the docstring's formula, one model and one pair at a time."""
    methods = list(scores)
    size = len(scores[methods[0]])
    out = []
    for j in range(size):
        num = den = 0.0
        for m in methods:
            s = [float(v) for v in scores[m]]
            finite = [v for v in s if np.isfinite(v)]
            if not np.isfinite(s[j]) or len(finite) < 2:
                continue
            below = sum(v < s[j] for v in finite)
            ties = sum(v == s[j] for v in finite) - 1
            r = (below + ties / 2) / (len(finite) - 1)
            v_m = (1.0 if weights is None else weights.get(m, 1.0)) * (len(finite) - 1) / (size - 1)
            num += v_m * r
            den += v_m
        out.append(num / den if den > 0 else np.nan)
    return np.array(out)


@pytest.mark.parametrize("seed", range(5))
def test_rank_average_matches_naive_reference(seed):
    rng = np.random.default_rng(seed)
    scores = {m: np.round(rng.normal(size=7), 1) for m in ("a", "b", "c")}   # rounding makes ties
    scores["b"][rng.choice(7, 3, replace=False)] = np.nan
    scores["c"][:6] = np.nan                                              # a lone score
    weights = {"a": 2.0, "b": 0.5}
    np.testing.assert_allclose(rank_average(scores, weights), naive_rank_average(scores, weights), rtol=1e-12)
    np.testing.assert_allclose(rank_average(scores), naive_rank_average(scores), rtol=1e-12)


def test_rank_average_no_finite_score_is_nan_and_bad_weight_refused():
    combined = rank_average({"a": np.array([1.0, np.nan, 2.0])})
    assert np.isnan(combined[1]) and combined[2] == 1.0
    with pytest.raises(InputError, match="weight"):
        rank_average({"a": np.ones(3)}, {"a": -1.0})


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_rejects_bad_input(name):
    fn, _ = ESTIMATORS[name]
    f, y = make_data(5, 2, 4)
    p = np.abs(f)
    data = f if ESTIMATORS[name][1] == "features" else p
    with pytest.raises(InputError, match="one class"):
        fn(data, np.zeros(len(y), dtype=int))
    with pytest.raises(InputError, match="match"):
        fn(data, y[:-1])
    bad = data.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fn(bad, y)
    with pytest.raises(InputError, match="shape"):
        fn(data[0], y)
