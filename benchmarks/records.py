"""Does the registry's own history help ranking? Leave-one-dataset-out, with and without the ``records`` vote.

Usage: ``nice python benchmarks/records.py [--train-per-class 25] [--test-per-class 15] [--seeds 3] [--k 5]``
(run ``benchmarks/ranking_quality.py`` first with the same split sizes: this script reuses its ground truth,
scores and cached features, and only computes signatures and votes).

For each held-out dataset ``d`` (the user's new data), the registry is assumed to hold the records of the other
datasets: every candidate evaluated on each of them ("full": a team that evaluated everything), or only three
seeded random candidates per dataset ("partial"), with the held-out linear-probe accuracy as the recorded
accuracy. The ``records`` vote (``fmc_jupyter.similarity.records_scores``) ranks candidates by their records on
the ``--k`` datasets nearest to ``d``'s slice (signature distance with the reference embedder, MobileNet 0.25
features) weighted by similarity; it joins the rank average with weight 1 (``rank_average``: a candidate without
a record is averaged over its other scores).

Printed per slice size (5, 10, 20, 50 per class; 50 is the whole small training split): mean tau_w, hit rate
(the first-ranked model is within 1 point of the best) and top-1 relative accuracy, for the default without
records, with records (full / partial), and the records vote alone; plus each dataset's nearest neighbours.
"""

from __future__ import annotations

import argparse

import numpy as np

from realdata import DATASETS, OUT, cached_json, load_split, register_candidates, split_features, weighted_tau

from fmc_jupyter.arrays import stratified_indices  # noqa: E402
from fmc_jupyter.estimators import rank_average  # noqa: E402
from fmc_jupyter.ranking import DEFAULT_COMBINATION  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402
from fmc_jupyter.similarity import SIGNATURE_PER_CLASS, records_scores, signature_distance, signature_from_features

SLICES = [5, 10, 20, 50]


def main() -> None:
    parser = argparse.ArgumentParser(description="ranking with and without the registry's records")
    parser.add_argument("--train-per-class", type=int, default=25)
    parser.add_argument("--test-per-class", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    args = parser.parse_args()
    ground = cached_json(OUT / f"rq_ground_truth_{args.train_per_class}_{args.test_per_class}.json")
    scores = cached_json(OUT / f"rq_scores_{args.train_per_class}_{args.test_per_class}.json")
    reg = Registry(OUT / "ranking_quality_registry.db", user="benchmark")
    records = register_candidates(reg)
    names = [r.name for r in records]
    ref = next(r for r in records if r.name == "MobileNet_0.25_224")
    dsets = [d for d in args.datasets if all(f"{d}|{n}" in ground for n in names)
             and all(f"{d}|{pc}|{s}" in scores for pc in SLICES for s in range(args.seeds))]
    if len(dsets) < 3:
        raise SystemExit(f"needs >= 3 datasets scored by ranking_quality.py; found {dsets}")
    truth = {d: np.array([ground[f"{d}|{n}"] for n in names]) for d in dsets}
    feats, ys, sigs = {}, {}, {}
    for d in dsets:
        xtr, ytr, *_ = load_split(d, args.train_per_class, args.test_per_class)
        feats[d] = split_features(reg, ref, xtr).features
        ys[d] = ytr
        rows = stratified_indices(ytr, SIGNATURE_PER_CLASS, 0)
        sigs[d] = signature_from_features(feats[d][rows], ytr[rows])
    rng = np.random.default_rng(0)
    partial = {d: set(rng.choice(len(names), 3, replace=False).tolist()) for d in dsets}
    base = [m for m in DEFAULT_COMBINATION if m != "records"]
    variants = ["default, no records", "default + records (full)", "default + records (partial)",
                "records alone (full)"]
    res = {v: {pc: [] for pc in SLICES} for v in variants}
    print(f"nearest datasets (signature distance on the whole training split; k = {args.k}):")
    for d in dsets:
        near = sorted((signature_distance(sigs[d], sigs[e]), e) for e in dsets if e != d)
        print(f"  {d:15s} " + ", ".join(f"{e} {dist:.2f}" for dist, e in near[:3]))
    for d in dsets:
        for pc in SLICES:
            for seed in range(args.seeds):
                rows = stratified_indices(ys[d], pc, seed=100 + seed)
                sig = signature_from_features(feats[d][rows], ys[d][rows])
                near = sorted((signature_distance(sig, sigs[e]), e) for e in dsets if e != d)[:args.k]
                full = records_scores(names, [(dist, {n: truth[e][j] for j, n in enumerate(names)})
                                              for dist, e in near])
                part = records_scores(names, [(dist, {names[j]: truth[e][j] for j in partial[e]})
                                              for dist, e in near])
                table = {m: np.array([np.nan if v is None else v for v in scores[f"{d}|{pc}|{seed}"][m]])
                         for m in base}
                combos = {
                    "default, no records": rank_average(table),
                    "default + records (full)": rank_average({**table, "records": full}),
                    "default + records (partial)": rank_average({**table, "records": part}),
                    "records alone (full)": full,
                }
                t = truth[d]
                for v, s in combos.items():
                    order = np.argsort(-np.where(np.isfinite(s), s, -np.inf), kind="stable")
                    res[v][pc].append((weighted_tau(s, t), float(t[order[0]] >= t.max() - 0.01),
                                       float(t[order[0]] / t.max())))
    print(f"\nLODO over {len(dsets)} datasets ({', '.join(dsets)}), {args.seeds} seeds; default = R({', '.join(base)})")
    for i, what in enumerate(["mean tau_w", "hit rate (first within 1 point of the best)", "top-1 relative accuracy"]):
        print(f"\n== {what}")
        print(f"{'variant':34s}" + "".join(f"{pc:>8d}" for pc in SLICES) + f"{'mean':>8s}")
        for v in variants:
            vals = [np.nanmean([r[i] for r in res[v][pc]]) for pc in SLICES]
            print(f"{v:34s}" + "".join(f"{x:8.3f}" for x in vals) + f"{np.nanmean(vals):8.3f}")


if __name__ == "__main__":
    main()
