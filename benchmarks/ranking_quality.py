"""How well do transferability scores predict real transfer accuracy, and which combination should ``rank`` use?

Usage: ``nice python benchmarks/ranking_quality.py [--train-per-class 25] [--test-per-class 15] [--seeds 3]``

Candidates and targets: every real model and dataset in ../shared/data (10 models, 7 datasets; see
``benchmarks/realdata.py``). Ground truth per (model, dataset): held-out accuracy of a frozen-feature linear probe
(logistic regression) trained on ``--train-per-class`` training images per class, tested on ``--test-per-class``
held-out images per class. Every method scores every model on slices of 5, 10, 20 and 50 training images per
class (``--seeds`` seeds each, drawn from the same training split). On the shared 2-core machine the default
split is small (25 training images per class), so the "50" slice is the whole training split (25 per class) and
its seeds coincide; pass ``--train-per-class 60 --test-per-class 30`` where there is time.

Metrics per slice size, averaged over datasets (and seeds): weighted Kendall tau (``scipy.stats.weightedtau``,
hyperbolic weights: mistakes among the best models cost more) between scores and ground truth; top-1 relative
accuracy (accuracy of the model ranked first / best accuracy); top-3 hit: share of (dataset, seed) whose first
three hold a model within 1 point of the best accuracy.

Choosing the default, leave-one-dataset-out (LODO): the candidates are every equal-weight rank average
(``fmc_jupyter.estimators.rank_average``) of 1 to 4 of the methods that holds at least one feature-based
estimator (so that every candidate is scored; ``top1`` alone ranks only the models with a known ImageNet top-1). For each held-out dataset,
the combination with the highest mean tau_w on the OTHER six is picked (rule "one for all sizes") or one per slice
size (rule "per size"), and scored on the held-out dataset. A third rule hedges instead of picking one
combination: the rank average of the 3 best SINGLE feature scores on the other six, plus top1 (rule "3 best
single scores + top1"; choosing among 8 singles is far less noisy than among ~250 combinations). The LODO rows
are what a choice made by each rule is worth on an unseen dataset; the rule with the best LODO mean is then
applied to all seven datasets to give the shipped default. The old default (rank average of knn, linear_probe, top1 with the old combination, where a lone
prior got full credit) is recomputed for comparison.

Features, ground truth and every single method's scores are cached under ``.benchmarks/`` (features in the
project's own feature cache), so a re-run only redoes the selection.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from realdata import (DATASETS, OUT, cached_json, ground_truth, load_split, register_candidates,  # noqa: E402
                      split_features, weighted_tau)

from fmc_jupyter.arrays import stratified_indices  # noqa: E402
from fmc_jupyter.estimators import ESTIMATORS, rank_average  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402

SLICES = [5, 10, 20, 50]   # a slice larger than the training split is the whole split
SINGLE = ["logme", "knn", "linear_probe", "hscore", "gbc", "nleep", "leep", "nce", "top1"]
OLD_DEFAULT = ("knn", "linear_probe", "top1")


def old_rank_average(scores: dict[str, np.ndarray]) -> np.ndarray:
    """The combination before issue 16: ranks among finite scores, a lone finite score ranked 1.0, no coverage."""
    size = len(next(iter(scores.values())))
    total, norm = np.zeros(size), np.zeros(size)
    for values in scores.values():
        s = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(s)
        m = int(ok.sum())
        if m == 0:
            continue
        r = np.full(size, np.nan)
        if m == 1:
            r[ok] = 1.0
        else:
            vals = s[ok]
            srt = np.sort(vals)
            r[ok] = (np.searchsorted(srt, vals, "left") + np.searchsorted(srt, vals, "right") - 1) / 2 / (m - 1)
        total[ok] += r[ok]
        norm[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, total / np.where(norm > 0, norm, 1), np.nan)


def metrics(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(tau_w, top-1 relative accuracy, top-3 holds a model within 1 point of the best)."""
    order = np.argsort(-np.where(np.isfinite(scores), scores, -np.inf), kind="stable")
    best = truth.max()
    return (weighted_tau(scores, truth), float(truth[order[0]] / best),
            float((truth[order[:3]] >= best - 0.01).any()))


def build(args, reg, records) -> tuple[dict, dict]:
    """Ground truth ``{ds: [acc per model]}`` and scores ``{ds|pc|seed: {method: [score per model]}}`` (cached)."""
    gt_file = OUT / f"rq_ground_truth_{args.train_per_class}_{args.test_per_class}.json"
    sc_file = OUT / f"rq_scores_{args.train_per_class}_{args.test_per_class}.json"
    ground, scores = cached_json(gt_file), cached_json(sc_file)
    for ds in args.datasets:
        keys = [f"{ds}|{pc}|{s}" for pc in SLICES for s in range(args.seeds)]
        if all(f"{ds}|{r.name}" in ground for r in records) and all(k in scores for k in keys):
            continue
        xtr, ytr, xte, yte, _ = load_split(ds, args.train_per_class, args.test_per_class)
        print(f"== {ds}: {len(ytr)} train / {len(yte)} test images, {len(np.unique(ytr))} classes, "
              f"{xtr.shape[1]}x{xtr.shape[2]} px", flush=True)
        feats = {}
        for rec in records:
            t0 = time.perf_counter()
            ftr = split_features(reg, rec, xtr)
            feats[rec.name] = ftr
            key = f"{ds}|{rec.name}"
            if key not in ground:
                fte = split_features(reg, rec, xte)
                ground[key] = ground_truth(ftr.features, ytr, fte.features, yte)
                gt_file.write_text(json.dumps(ground, indent=1, sort_keys=True))
            print(f"  {rec.name:48s} ground truth {ground[key]:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        for pc in SLICES:
            for seed in range(args.seeds):
                key = f"{ds}|{pc}|{seed}"
                if key in scores:
                    continue
                rows = stratified_indices(ytr, pc, seed=100 + seed)
                table = {}
                for m in SINGLE:
                    col = []
                    for rec in records:
                        if m == "top1":
                            col.append(np.nan if rec.top1 is None else rec.top1)
                            continue
                        fn, kind = ESTIMATORS[m]
                        f = feats[rec.name]
                        data = f.features[rows] if kind == "features" else (None if f.probs is None else f.probs[rows])
                        try:
                            col.append(np.nan if data is None else float(fn(data, ytr[rows])))
                        except Exception:  # an estimator failing on one model is a missing score
                            col.append(np.nan)
                    table[m] = [None if not np.isfinite(v) else v for v in col]
                scores[key] = table
            sc_file.write_text(json.dumps(scores))
    return ground, scores


def main() -> None:
    parser = argparse.ArgumentParser(description="ranking quality and LODO choice of the default combination")
    parser.add_argument("--train-per-class", type=int, default=25)
    parser.add_argument("--test-per-class", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    parser.add_argument("--max-methods", type=int, default=4)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    t_bench = time.perf_counter()
    reg = Registry(OUT / "ranking_quality_registry.db", user="benchmark")
    records = register_candidates(reg)
    names = [r.name for r in records]
    ground, scores = build(args, reg, records)
    dsets = args.datasets
    truth = {ds: np.array([ground[f"{ds}|{n}"] for n in names]) for ds in dsets}

    # a default must score every candidate: at least one feature-based estimator (top1 alone leaves user files
    # and non-ImageNet models unranked, and its tau_w would be measured on fewer models)
    combos = [c for k in range(1, args.max_methods + 1) for c in itertools.combinations(SINGLE, k)
              if any(m not in ("top1", "leep", "nce") for m in c)]
    # results[combo][ds][pc] = list over seeds of (tau, rel, top3)
    results: dict = {}
    shown = [(m,) for m in SINGLE if (m,) not in combos]      # single scores shown, never picked
    for combo in combos + shown + ["old default"]:
        results[combo] = {}
        for ds in dsets:
            results[combo][ds] = {}
            for pc in SLICES:
                out = []
                for seed in range(args.seeds):
                    table = {m: np.array([np.nan if v is None else v for v in scores[f"{ds}|{pc}|{seed}"][m]])
                             for m in SINGLE}
                    if combo == "old default":
                        s = old_rank_average({m: table[m] for m in OLD_DEFAULT})
                    elif len(combo) == 1:
                        s = table[combo[0]]
                    else:
                        s = rank_average({m: table[m] for m in combo})
                    out.append(metrics(s, truth[ds]))
                results[combo][ds][pc] = out

    def mean(combo, ds_list, pcs, i=0):
        return float(np.nanmean([t[i] for d in ds_list for pc in pcs for t in results[combo][d][pc]]))

    # leave-one-dataset-out selection
    best_singles = "LODO: 3 best single scores + top1"
    lodo = {"LODO: one for all sizes": {}, "LODO: per size": {}, best_singles: {}}
    picks = {"LODO: one for all sizes": [], "LODO: per size": [], best_singles: []}
    feature_methods = [m for m in SINGLE if m != "top1"]

    def three_best(ds_list):
        """The rule that hedges: the rank average of the 3 best single feature scores on ``ds_list`` and top1."""
        return tuple(sorted(feature_methods, key=lambda m: -mean((m,), ds_list, SLICES))[:3]) + ("top1",)

    for c in [three_best([d for d in dsets if d != held]) for held in dsets] + [three_best(dsets)]:
        if c not in results:      # score the rule's picks like every other combination
            results[c] = {d: {pc: [metrics(rank_average({m: np.array([np.nan if v is None else v for v in
                                                                         scores[f"{d}|{pc}|{seed}"][m]])
                                                             for m in c}), truth[d])
                                   for seed in range(args.seeds)] for pc in SLICES} for d in dsets}
    for held in dsets:
        rest = [d for d in dsets if d != held]
        g = max(combos, key=lambda c: mean(c, rest, SLICES))
        picks["LODO: one for all sizes"].append(g)
        b3 = three_best(rest)
        picks[best_singles].append(b3)
        for pc in SLICES:
            lodo[best_singles].setdefault(pc, []).extend(results[b3][held][pc])
        for pc in SLICES:
            p = max(combos, key=lambda c: mean(c, rest, [pc]))
            picks["LODO: per size"].append((pc, p))
            lodo["LODO: per size"].setdefault(pc, []).extend(results[p][held][pc])
            lodo["LODO: one for all sizes"].setdefault(pc, []).extend(results[g][held][pc])

    def label(c):
        return c if isinstance(c, str) else (c[0] if len(c) == 1 else "R(" + ",".join(c) + ")")

    rows = [(label((m,)), {pc: [t for d in dsets for t in results[(m,)][d][pc]] for pc in SLICES}) for m in SINGLE]
    rows.append(("old default R(knn,linear_probe,top1)",
                 {pc: [t for d in dsets for t in results["old default"][d][pc]] for pc in SLICES}))
    rows.append(("R(knn,linear_probe,top1) fixed combine",
                 {pc: [t for d in dsets for t in results[OLD_DEFAULT][d][pc]] for pc in SLICES}))
    for name, per_pc in lodo.items():
        rows.append((name, per_pc))
    lodo_all = {k: np.nanmean([t[0] for pc in SLICES for t in v[pc]]) for k, v in lodo.items()}
    rule = max(lodo_all, key=lodo_all.get)
    if rule == "LODO: one for all sizes":
        chosen = {pc: max(combos, key=lambda c: mean(c, dsets, SLICES)) for pc in SLICES}
    elif rule == best_singles:
        chosen = {pc: three_best(dsets) for pc in SLICES}
    else:
        chosen = {pc: max(combos, key=lambda c: mean(c, dsets, [pc])) for pc in SLICES}
    rows.append((f"new default (chosen on all {len(dsets)}; in-sample)",
                 {pc: [t for d in dsets for t in results[chosen[pc]][d][pc]] for pc in SLICES}))

    print(f"\nground truth (held-out linear-probe accuracy), models: {', '.join(names)}")
    for ds in dsets:
        print(f"  {ds:15s} " + " ".join(f"{a:.3f}" for a in truth[ds]))
    for i, what in enumerate(["mean weighted Kendall tau_w", "top-1 relative accuracy",
                              "share of (dataset, seed) whose top-3 holds a model within 1 point of the best"]):
        print(f"\n== {what}, per slice size (images per class); {len(dsets)} datasets x {args.seeds} seeds")
        print(f"{'method':44s}" + "".join(f"{pc:>8d}" for pc in SLICES) + f"{'mean':>8s}")
        for name, per_pc in rows:
            vals = [np.nanmean([t[i] for t in per_pc[pc]]) for pc in SLICES]
            print(f"{name:44s}" + "".join(f"{v:8.3f}" for v in vals) + f"{np.nanmean(vals):8.3f}")
    print("\n== LODO picks (held-out dataset: combination chosen on the other six)")
    for held, g in zip(dsets, picks["LODO: one for all sizes"]):
        per = [label(p) for pc, p in picks["LODO: per size"][dsets.index(held) * 4:(dsets.index(held) + 1) * 4]]
        print(f"  {held:15s} one for all: {label(g):38s} per size: {' | '.join(per)}   3 best singles: "
              f"{label(picks[best_singles][dsets.index(held)])}")
    print(f"\nLODO mean tau_w: " + ", ".join(f"{k} {v:.3f}" for k, v in lodo_all.items()) + f" -> rule: {rule}")
    print("new default: " + ", ".join(f"{pc}/class {label(c)}" for pc, c in chosen.items()))
    print("per-dataset tau_w of the new default (mean over sizes and seeds): " +
          ", ".join(f"{d} {np.nanmean([t[0] for pc in SLICES for t in results[chosen[pc]][d][pc]]):.2f}"
                    for d in dsets))
    print(f"benchmark took {time.perf_counter() - t_bench:.0f} s")


if __name__ == "__main__":
    main()
