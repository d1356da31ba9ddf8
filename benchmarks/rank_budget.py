"""Ranking a whole catalog within a time budget: how many models reach each rung, how many images they use and how
long it takes against the budget, next to the unbudgeted full ranking.

Usage: ``nice python benchmarks/rank_budget.py [--datasets corn4 pneumoniamnist] [--budgets 6 10 20 60]
[--per-class 50] [--models 10] [--truth 25,15] [--progress]``

Quick check: ``nice python benchmarks/rank_budget.py --datasets corn4 --budgets 20 --per-class 10 --models 3``

Candidates: the real models of ../shared/data (``benchmarks/realdata.py``: 7 int8 TFLite MobileNets, Keras
MobileNet 0.25, SqueezeNet 1.1 and a cat/dog MobileNet as user files; ``--models N`` keeps the first N). Images:
``--per-class`` training images per class of each dataset (``realdata.load_split``). For every dataset it runs

* the full ranking: every candidate on all ``--per-class`` images per class (``fmc.rank(..., per_class=P)``);
* for every budget: ``fmc.rank(..., per_class=P, budget=B)``, successive halving over 5/10/20/50 images per
  class capped at P (:mod:`fmc_jupyter.ranking_budget`).

The default budgets (6, 10, 20, 60 s) are chosen to bind on the shared 2-core machine, where the full ranking of
the 10 candidates takes 15-20 s: a budget the full ranking fits in changes nothing.

Every ranking runs with the feature cache OFF (``cache=False``), no bootstrap and ``save=False``, so wall time is
what a first ranking of these images costs on this machine (the shared 2-core one: expect noise from whatever
else runs). One warm-up ranking on 2 images per class first takes TensorFlow's and the TFLite reader's start-up
out of the timings.

Printed per dataset, one column per budget and one for the full ranking: models scored at each rung, images used
(sum over models of the images each was scored on, all rungs), wall time, wall / budget, the top-1 model and
whether it is the full ranking's top-1, and weighted Kendall tau (``realdata.weighted_tau``) of the ranking order
against ground truth (held-out linear-probe accuracy) where ``benchmarks/ranking_quality.py`` has cached it for
the ``--truth`` split (``.benchmarks/rq_ground_truth_<train>_<test>.json``), else ``–``. A budgeted ranking
orders models by the rung they reached first, so its tau_w measures the order a user sees.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from realdata import DATASETS, OUT, cached_json, load_split, register_candidates, weighted_tau  # noqa: E402

import fmc_jupyter as fmc  # noqa: E402
from fmc_jupyter.ranking_budget import RUNG_PER_CLASS  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402

DEFAULT_DATASETS = ["corn4", "pneumoniamnist"]


def order_scores(ranking, names: list[str], ref_to_name: dict[str, str]) -> np.ndarray:
    """``(M,)`` scores in ``names`` order that reproduce the ranking's row order (higher = earlier); NaN unranked."""
    scores = np.full(len(names), np.nan)
    ranked = ranking.table[ranking.table["rank"].notna()]
    for pos, ref in enumerate(ranked["model"]):
        scores[names.index(ref_to_name[ref])] = -pos
    return scores


def measure(x, y, reg, ids, per_class, budget, progress) -> tuple[object, float]:
    t0 = time.perf_counter()
    ranking = fmc.rank(x, y, models=ids, registry=reg, per_class=per_class, bootstrap=0, cache=False, save=False,
                       progress=progress, budget=budget)
    return ranking, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description="budgeted ranking: rungs reached, images used, wall time vs budget")
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=DATASETS)
    parser.add_argument("--budgets", nargs="+", type=float, default=[6, 10, 20, 60], help="seconds")
    parser.add_argument("--per-class", type=int, default=50, help="images per class available (and the last rung)")
    parser.add_argument("--models", type=int, default=None, help="rank only the first N candidates")
    parser.add_argument("--truth", default="25,15", help="train,test images per class of ranking_quality's cache")
    parser.add_argument("--progress", action="store_true", help="show the per-model stage progress")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    t_bench = time.perf_counter()
    reg = Registry(OUT / "rank_budget_registry.db", user="benchmark")
    records = register_candidates(reg)[: args.models]
    ids = [r.id for r in records]
    names = [r.name for r in records]
    ref_to_name = {r.ref: r.name for r in records}
    train_pc, test_pc = (int(v) for v in args.truth.split(","))
    ground = cached_json(OUT / f"rq_ground_truth_{train_pc}_{test_pc}.json")

    xw, yw, *_ = load_split(args.datasets[0], 2, 1)
    t0 = time.perf_counter()
    fmc.rank(xw, yw, models=ids, registry=reg, per_class=2, bootstrap=0, cache=False, save=False, progress=False)
    print(f"warm-up (every candidate on {len(yw)} images): {time.perf_counter() - t0:.1f} s", flush=True)

    summary = []
    for ds in args.datasets:
        x, y, _, _, classes = load_split(ds, args.per_class, 1)
        truth = np.array([ground.get(f"{ds}|{n}", np.nan) for n in names])
        has_truth = bool(np.isfinite(truth).all())
        print(f"\n== {ds}: {len(classes)} classes, {len(y)} images (up to {args.per_class}/class), "
              f"{len(records)} candidates, feature cache off", flush=True)
        full, full_wall = measure(x, y, reg, ids, args.per_class, None, args.progress)
        full_ok = full.table["error"].isna()
        cols = {}
        for budget in args.budgets:
            r, wall = measure(x, y, reg, ids, args.per_class, budget, args.progress)
            reached = r.table["images_per_class"]
            cols[f"{budget:g} s"] = {
                **{f"models at {pc}/class": int((reached >= pc).sum()) for pc in r.rungs},
                "images used": int(r.table["images_used"].sum()),
                "wall time (s)": f"{wall:.1f}",
                "wall / budget": f"{wall / budget:.2f}",
                "top-1 = full top-1": "yes" if r.best == full.best else "no",
                "tau_w vs truth": f"{weighted_tau(order_scores(r, names, ref_to_name), truth):.3f}"
                if has_truth else "–",
                "_best": r.best,
            }
            summary.append((ds, budget, wall, r.best == full.best))
            print(f"  budget {budget:g} s: {wall:.1f} s, best {r.best}", flush=True)
        cols["no budget"] = {
            f"models at {args.per_class}/class": int(full_ok.sum()),
            "images used": int(full.num_examples * full_ok.sum()),
            "wall time (s)": f"{full_wall:.1f}",
            "wall / budget": "–",
            "top-1 = full top-1": "–",
            "tau_w vs truth": f"{weighted_tau(order_scores(full, names, ref_to_name), truth):.3f}" if has_truth else "–",
            "_best": full.best,
        }
        rows = list(dict.fromkeys([f"models at {min(pc, args.per_class)}/class" for pc in RUNG_PER_CLASS]
                                  + ["images used", "wall time (s)", "wall / budget", "top-1 = full top-1",
                                     "tau_w vs truth"]))
        width = max(12, *(len(c) + 2 for c in cols))
        print(f"\n{ds}: side by side" + ("" if has_truth else
                                           f" (no ground truth cached for --truth {args.truth}: run "
                                           "benchmarks/ranking_quality.py for tau_w)"))
        print(f"{'':22s}" + "".join(f"{c:>{width}s}" for c in cols))
        for row in rows:
            print(f"{row:22s}" + "".join(f"{col.get(row, '–')!s:>{width}s}" for col in cols.values()))
        print("top-1 models: " + "; ".join(f"{c}: {col['_best']}" for c, col in cols.items()))
    if summary:
        ratios = [wall / budget for _, budget, wall, _ in summary]
        print(f"\nover {len(summary)} budgeted rankings: wall / budget mean {np.mean(ratios):.2f}, max "
              f"{np.max(ratios):.2f}; top-1 equal to the full ranking's in {sum(s[3] for s in summary)} of "
              f"{len(summary)}")
    print(f"benchmark took {time.perf_counter() - t_bench:.0f} s")


if __name__ == "__main__":
    main()
