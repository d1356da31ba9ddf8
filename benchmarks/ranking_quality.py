"""How well do transferability scores predict real transfer accuracy? Offline, on real models and real images.

Usage: ``python benchmarks/ranking_quality.py [--train-per-class 80] [--test-per-class 40] [--seeds 3]``

Candidates: the 8 real pretrained models in ../shared/data: 7 int8 TFLite MobileNets (v1 0.25/128, 0.5/160,
0.75/192, v1 1.0/224 embedding extractor, v2 1.0/224 ImageNet, v2 1.0/224 iNat birds, v2 1.0/224 iNat insects)
and the Keras MobileNet 0.25/224 (ImageNet weights, float). Targets: cifar10_small, mnist_t10k, pneumoniamnist,
sign_digits.

Ground truth per (model, dataset): test accuracy of a softmax head (Keras Dense, Adam 1e-3, 60 epochs, batch 32)
trained on the frozen backbone's features of the training split (what ``finetune`` does by default with a frozen
backbone). To finish in < 25 min on 2 cores, the splits are SUBSAMPLED (stratified, seeded): at most
``--train-per-class`` training and ``--test-per-class`` test images per class (mnist_t10k and sign_digits have
no split: a stratified 80/20 split is drawn first). Ground truth and features are cached under
``.benchmarks/`` so a re-run only re-scores.

Every method then scores every model on slices of 5, 10, 20 and 50 training images per class (``--seeds`` seeds),
drawn from the same training split; we print the weighted Kendall tau (``scipy.stats.weightedtau``, hyperbolic
weights: mistakes among the best models cost more) between scores and ground truth, per dataset and on average,
and the top-1 relative accuracy (accuracy of the model a method picks / best accuracy). Methods that do not apply
to every model (LEEP/NCE need a source head, ``top1`` the ImageNet accuracy) are scored on the models they have.

Time to rank (extract the 20-per-class slice + score) is compared with the time to train all heads (extract the
training and test split + train): extraction time per image is measured while building the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / ".benchmarks"
os.environ.setdefault("FMC_CACHE_DIR", str(OUT / "cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fmc_jupyter.config import shared_data_dir  # noqa: E402

DATA = shared_data_dir()
if DATA is None:
    sys.exit("../shared/data is absent: this benchmark needs the real models and datasets")
if "KERAS_HOME" not in os.environ:
    from fmc_jupyter.zoo.keras_home import use_weights_dir

    use_weights_dir(DATA / "keras")

from fmc_jupyter.arrays import as_images, stratified_indices  # noqa: E402
from fmc_jupyter.estimators import ESTIMATORS, rank_average  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402
from fmc_jupyter.zoo.features import extract_features  # noqa: E402

# ImageNet top-1 of the quantized checkpoints (TF-slim mobilenet_v1.md table; TFLite hosted models for v2),
# None for the iNaturalist models (not ImageNet classifiers).
TFLITE = {
    "mobilenet_v1_0.25_128_quant": ("natural", 0.399),
    "mobilenet_v1_0.5_160_quant": ("natural", 0.577),
    "mobilenet_v1_0.75_192_quant": ("natural", 0.662),
    "mobilenet_v1_1.0_224_quant_embedding_extractor": ("natural", 0.697),
    "mobilenet_v2_1.0_224_quant": ("natural", 0.708),
    "mobilenet_v2_1.0_224_inat_bird_quant": ("birds", None),
    "mobilenet_v2_1.0_224_inat_insect_quant": ("insects", None),
}
DATASETS = ["cifar10_small", "mnist_t10k", "pneumoniamnist", "sign_digits"]
SLICES = [5, 10, 20, 50]
SINGLE = ["logme", "knn", "linear_probe", "hscore", "gbc", "nleep", "leep", "nce", "top1"]
COMBOS = {
    "R(logme,knn,gbc)": ["logme", "knn", "gbc"],
    "R(logme,knn,gbc,top1)": ["logme", "knn", "gbc", "top1"],
    "R(logme,knn,gbc,leep,top1)": ["logme", "knn", "gbc", "leep", "top1"],
    "R(knn,linear_probe,top1)": ["knn", "linear_probe", "top1"],
    "R(logme,knn,linear_probe,hscore,gbc,top1)": ["logme", "knn", "linear_probe", "hscore", "gbc", "top1"],
    "R(knn,gbc,top1)": ["knn", "gbc", "top1"],
}


def load_split(name: str, train_pc: int, test_pc: int):
    with np.load(DATA / "datasets" / f"{name}.npz") as npz:
        if "x_train" in npz.files:
            xtr, ytr, xte, yte = npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"]
        else:
            x, y = npz["x"], npz["y"]
            rng = np.random.default_rng(0)
            test = np.zeros(len(y), dtype=bool)
            for c in np.unique(y):
                idx = rng.permutation(np.flatnonzero(y == c))
                test[idx[: len(idx) // 5]] = True
            xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
    tr = stratified_indices(ytr, train_pc, seed=1)
    te = stratified_indices(yte, test_pc, seed=2)
    return as_images(xtr[tr]), ytr[tr].astype(np.int64), as_images(xte[te]), yte[te].astype(np.int64)


def train_head(ftr, ytr, fte, yte, seed=0) -> tuple[float, float]:
    """Test accuracy of a Dense softmax head trained on frozen features, and the training seconds."""
    import keras

    keras.utils.set_random_seed(seed)
    c = int(max(ytr.max(), yte.max()) + 1)
    model = keras.Sequential([keras.Input((ftr.shape[1],)), keras.layers.Dense(c, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(ftr, ytr, epochs=60, batch_size=32, verbose=0)
    seconds = time.perf_counter() - t0
    return float(model.evaluate(fte, yte, verbose=0)[1]), seconds


def register_candidates(reg: Registry) -> list:
    from fmc_jupyter.errors import NotFoundError

    records = [reg.model("MobileNet_0.25_224")]
    for name, (domain, top1) in TFLITE.items():
        try:
            records.append(reg.model(name))
            continue
        except NotFoundError:
            pass
        records.append(reg.add_model(DATA / "models" / "tflite" / f"{name}.tflite", domain=domain, top1=top1,
                                     pretrained_on="inaturalist" if domain != "natural" else "imagenet"))
    return records


def weighted_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    from scipy.stats import weightedtau

    ok = np.isfinite(scores)
    if ok.sum() < 3:
        return float("nan")
    return float(weightedtau(scores[ok], truth[ok]).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description="ranking quality of transferability estimators")
    parser.add_argument("--train-per-class", type=int, default=80)
    parser.add_argument("--test-per-class", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=DATASETS)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    gt_file = OUT / f"ranking_quality_ground_truth_{args.train_per_class}_{args.test_per_class}.json"
    ground = json.loads(gt_file.read_text()) if gt_file.exists() else {}
    reg = Registry(OUT / "ranking_quality_registry.db", user="benchmark")
    records = register_candidates(reg)
    names = [r.name for r in records]
    t_bench = time.perf_counter()
    results = {}      # dataset -> method -> slice -> list of (tau, rel_top1)
    timing = {}
    for ds in args.datasets:
        xtr, ytr, xte, yte = load_split(ds, args.train_per_class, args.test_per_class)
        print(f"\n== {ds}: {len(ytr)} train / {len(yte)} test images, {len(np.unique(ytr))} classes, "
              f"{xtr.shape[1]}x{xtr.shape[2]} px", flush=True)
        feats, acc, t_extract_per_img, t_head = {}, {}, {}, {}
        for rec in records:
            key = f"{ds}|{rec.name}"
            fresh = key not in ground          # time a real extraction when the ground truth is built
            ftr = extract_features(rec, xtr, reg, progress=False, cache=not fresh)
            fte = extract_features(rec, xte, reg, progress=False, cache=not fresh)
            feats[rec.name] = ftr
            if key not in ground:
                a, secs = train_head(ftr.features, ytr, fte.features, yte)
                ground[key] = {"accuracy": a, "head_seconds": secs,
                               "extract_seconds_per_image": (ftr.seconds + fte.seconds) / (len(ytr) + len(yte))}
                gt_file.write_text(json.dumps(ground, indent=1, sort_keys=True))
            acc[rec.name] = ground[key]["accuracy"]
            t_extract_per_img[rec.name] = ground[key]["extract_seconds_per_image"]
            t_head[rec.name] = ground[key]["head_seconds"]
            print(f"  {rec.name:50s} ground-truth accuracy {acc[rec.name]:.3f}", flush=True)
        truth = np.array([acc[n] for n in names])
        per_method = {m: {s: [] for s in SLICES} for m in SINGLE + list(COMBOS)}
        score_seconds = 0.0
        for per_class in SLICES:
            for seed in range(args.seeds):
                rows = stratified_indices(ytr, per_class, seed=100 + seed)
                y = ytr[rows]
                table = {m: np.full(len(names), np.nan) for m in SINGLE}
                for j, rec in enumerate(records):
                    f = feats[rec.name]
                    for m in SINGLE:
                        if m == "top1":
                            table[m][j] = np.nan if rec.top1 is None else rec.top1
                            continue
                        fn, kind = ESTIMATORS[m]
                        data = f.features[rows] if kind == "features" else (None if f.probs is None else f.probs[rows])
                        if data is None:
                            continue
                        t0 = time.perf_counter()
                        table[m][j] = fn(data, y)
                        if per_class == 20 and seed == 0 and m in ("logme", "knn", "gbc"):
                            score_seconds += time.perf_counter() - t0
                for combo, parts in COMBOS.items():
                    table[combo] = rank_average({p: table[p] for p in parts})
                for m, scores in table.items():
                    tau = weighted_tau(scores, truth)
                    ok = np.isfinite(scores)
                    pick = int(np.nanargmax(np.where(ok, scores, -np.inf)))
                    per_method[m][per_class].append((tau, truth[pick] / truth.max()))
        results[ds] = per_method
        n20 = 20 * len(np.unique(ytr))
        rank_t = sum(t_extract_per_img[n] * n20 for n in names) + score_seconds
        train_t = sum(t_extract_per_img[n] * (len(ytr) + len(yte)) + t_head[n] for n in names)
        timing[ds] = (rank_t, train_t)

    methods = SINGLE + list(COMBOS)
    print("\n== weighted Kendall tau (mean over seeds and slice sizes 5/10/20/50 per class)")
    header = f"{'method':44s}" + "".join(f"{d[:12]:>13s}" for d in args.datasets) + f"{'MEAN':>8s}{'top1-rel':>10s}"
    print(header)
    summary = {}
    for m in methods:
        taus = [np.nanmean([t for s in SLICES for t, _ in results[d][m][s]]) for d in args.datasets]
        rel = np.nanmean([r for d in args.datasets for s in SLICES for _, r in results[d][m][s]])
        summary[m] = (np.nanmean(taus), rel, taus)
        print(f"{m:44s}" + "".join(f"{t:13.3f}" for t in taus) + f"{np.nanmean(taus):8.3f}{rel:10.3f}")
    print("\n== mean tau_w over datasets by slice size (images per class)")
    print(f"{'method':44s}" + "".join(f"{s:>8d}" for s in SLICES))
    for m in methods:
        row = [np.nanmean([t for d in args.datasets for t, _ in results[d][m][s]]) for s in SLICES]
        print(f"{m:44s}" + "".join(f"{t:8.3f}" for t in row))
    print("\n== time to rank all candidates (20 per class, logme+knn+gbc) vs time to train all their heads")
    for ds, (rank_t, train_t) in timing.items():
        print(f"  {ds:16s} rank {rank_t:8.1f} s   train heads {train_t:8.1f} s   ratio {train_t / rank_t:6.1f}x")
    best = max(summary, key=lambda m: summary[m][0])
    print(f"\nbest mean tau_w: {best} ({summary[best][0]:.3f}); benchmark took {time.perf_counter() - t_bench:.0f} s "
          f"(ground truth cached in {gt_file.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
