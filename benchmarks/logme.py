"""LogME: the vectorised implementation against straightforward per-class loops of the published algorithm.

Usage: ``python benchmarks/logme.py [--classes-timed 20]``

Features are synthetic but shaped like real ones (non-negative, post-ReLU-like, class structure):
(N=2000, D=1280, C=100) and (N=500, D=2048, C=10). Two references, both float64, both iterating MacKay's
fixed point per class until the evidence stops changing (relative 1e-10):

- ``per-class fit``: what calling a single-target evidence maximisation once per class does (as
  ``sklearn.linear_model.BayesianRidge`` would): each class decomposes ``F^T F`` itself, then iterates.
- ``hoisted loop``: Algorithm 1 of You et al. (ICML 2021) as published: one eigendecomposition of ``F^T F``
  (D x D) before the class loop, then a Python loop over classes.

The per-class fit costs the same for every class, so on the first shape it is timed on ``--classes-timed``
classes and scaled to all ``C`` (printed as such). Values are compared on the classes both computed.
When ``N < D`` and the one-hot targets are interpolated, MacKay's iteration creeps towards ``alpha/beta -> 0``
and the references stop early; their difference then measures *their* convergence, not an error of ours.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fmc_jupyter.estimators.logme import logme_evidence  # noqa: E402


def mackay_one_class(s: np.ndarray, x: np.ndarray, y2: float, n: int, d: int, tol: float = 1e-10,
                     max_iter: int = 100000) -> tuple[float, int]:
    """Evidence / N of one target from the spectrum ``s (D,)`` of ``F^T F`` and ``x = V^T F^T y / sqrt(s)``."""
    x2 = x ** 2
    res_out = max(y2 - float(x2.sum()), 0.0)
    alpha, beta, prev = 1.0, 1.0, None
    for it in range(max_iter):
        den = alpha + beta * s
        gamma = float((beta * s / den).sum())
        m2 = float((beta ** 2 * s * x2 / den ** 2).sum())              # ||m||^2, m = beta A^-1 F^T y
        res2 = float((x2 * (alpha / den) ** 2).sum()) + res_out          # ||F m - y||^2
        ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi) - beta / 2 * res2
              - alpha / 2 * m2 - float(np.log(den).sum()) / 2) / n
        if prev is not None and abs(ev - prev) <= tol * (1 + abs(ev)):
            return ev, it
        prev = ev
        alpha, beta = gamma / max(m2, 1e-300), max(n - gamma, 1e-300) / max(res2, 1e-300)
    return ev, max_iter


def spectrum(f: np.ndarray, y: np.ndarray):
    s, v = np.linalg.eigh(f.T @ f)                       # D x D, as in the paper
    s = np.maximum(s, 0.0)
    proj = v.T @ (f.T @ y)
    x = np.where(s[:, None] > s.max() * 1e-15, proj / np.sqrt(np.where(s > 0, s, 1.0))[:, None], 0.0)
    return s, x


def per_class_fit(f, onehot, classes):
    n, d = f.shape
    out = []
    for c in classes:
        y = onehot[:, c:c + 1]
        s, x = spectrum(f, y)                             # every class decomposes again
        out.append(mackay_one_class(s, x[:, 0], float((y ** 2).sum()), n, d)[0])
    return np.array(out)


def hoisted_loop(f, onehot):
    n, d = f.shape
    s, x = spectrum(f, onehot)
    return np.array([mackay_one_class(s, x[:, c], float((onehot[:, c] ** 2).sum()), n, d)[0]
                     for c in range(onehot.shape[1])])


def interpolation_limit(f, onehot):
    """N < D, full row rank: the exact supremum of the evidence / N (alpha/beta -> 0), per class:
    (N/2 log(N / ||F^+ y||^2) - N/2 - 1/2 sum log eig(F F^T) - N/2 log 2pi) / N."""
    n = len(f)
    s = np.linalg.eigvalsh(f @ f.T)
    m2 = ((np.linalg.pinv(f) @ onehot) ** 2).sum(axis=0)
    return (n / 2 * np.log(n / m2) - n / 2 - np.log(s).sum() / 2 - n / 2 * np.log(2 * np.pi)) / n


def features(n, d, c, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, size=n)
    centres = rng.normal(size=(c, d))
    f = np.maximum(rng.normal(size=(n, d)) + 0.8 * centres[y], 0.0)   # ReLU-like, class structure
    return f, np.eye(c)[y]


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes-timed", type=int, default=20)
    parser.add_argument("--shapes", choices=["both", "large", "small"], default="both")
    args = parser.parse_args()
    print("LogME benchmark (float64; times are wall-clock seconds on this machine)")
    shapes = {"both": ((2000, 1280, 100), (500, 2048, 10)), "large": ((2000, 1280, 100),),
              "small": ((500, 2048, 10),)}[args.shapes]
    for n, d, c in shapes:
        f, onehot = features(n, d, c)
        ours, t_ours = timed(logme_evidence, f, onehot)
        k = min(c, args.classes_timed)
        ref_fit, t_fit = timed(per_class_fit, f, onehot, range(k))
        t_fit_all = t_fit * c / k
        ref_loop, t_loop = timed(hoisted_loop, f, onehot)
        diff_fit = float(np.max(np.abs(ours[:k] - ref_fit) / np.abs(ref_fit)))
        diff_loop = float(np.max(np.abs(ours - ref_loop) / np.abs(ref_loop)))
        print(f"\nN={n} D={d} C={c}  ({'N < D: interpolating regime' if n < d else 'N > D'})")
        print(f"  ours (vectorised, Newton on log(alpha/beta)):    {t_ours:8.3f} s   LogME = {ours.mean():.6f}")
        scaled = f" (timed on {k} classes, x{c / k:g})" if k < c else ""
        print(f"  per-class fit reference:                         {t_fit_all:8.3f} s{scaled}   "
              f"speed-up {t_fit_all / t_ours:6.1f}x   max rel diff {diff_fit:.2e}")
        print(f"  hoisted per-class loop (paper's Algorithm 1):    {t_loop:8.3f} s   "
              f"speed-up {t_loop / t_ours:6.1f}x   max rel diff {diff_loop:.2e}")
        if n < d:
            exact = interpolation_limit(f, onehot)
            print(f"  closed-form supremum (N < D):  ours max rel diff {np.max(np.abs(ours - exact) / np.abs(exact)):.2e}"
                  f"   per-class fit {np.max(np.abs(ref_fit - exact[:k]) / np.abs(exact[:k])):.2e}"
                  f"   hoisted loop {np.max(np.abs(ref_loop - exact) / np.abs(exact)):.2e}")


if __name__ == "__main__":
    main()
