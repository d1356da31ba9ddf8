"""The real models and datasets of ``../shared/data`` as benchmark candidates and targets (shared by
``ranking_quality.py``, ``records.py`` and ``rank_budget.py``).

Candidates (10): the 7 int8 TFLite MobileNets (v1 0.25/128, 0.5/160, 0.75/192, v1 1.0/224 embedding extractor,
v2 1.0/224 ImageNet, v2 1.0/224 iNat birds, v2 1.0/224 iNat insects), the Keras MobileNet 0.25/224 (ImageNet
weights through Keras's own loader), SqueezeNet 1.1 (the shared ImageNet weights put into a Keras definition and
saved as a user's ``.keras`` file, registered without a top-1, as users do) and the Keras-2 cat/dog MobileNet
``.h5`` (a user's whole classifier). Targets (7): cifar10_small, mnist_t10k, pneumoniamnist, sign_digits,
blood_cells, clothing10, corn4.

Ground truth per (model, dataset): held-out accuracy of a frozen-feature linear probe (multinomial logistic
regression on standardised features, L2 strength chosen by 3-fold CV on the training split among 3 values,
L-BFGS), trained on a stratified subsample of ``train_pc`` training images per class and tested on ``test_pc``
held-out images per class. Features come from the project's own ``extract_features`` and its on-disk cache
(``.benchmarks/cache``), so a re-run only re-scores.
"""

from __future__ import annotations

import json
import os
import sys
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

__all__ = ["DATA", "OUT", "DATASETS", "TFLITE", "load_split", "register_candidates", "squeezenet_file",
           "split_features", "ground_truth", "weighted_tau"]

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
DATASETS = ["cifar10_small", "mnist_t10k", "pneumoniamnist", "sign_digits", "blood_cells", "clothing10", "corn4"]


def load_split(name: str, train_pc: int, test_pc: int):
    """``(x_train, y_train, x_test, y_test, class_names)``: stratified subsamples of the dataset's own split
    (a seeded 80/20 split first where the file has none)."""
    with np.load(DATA / "datasets" / f"{name}.npz") as npz:
        names = tuple(str(c) for c in npz["class_names"])
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
    return as_images(xtr[tr]), ytr[tr].astype(np.int64), as_images(xte[te]), yte[te].astype(np.int64), names


def squeezenet_file(dest: Path) -> Path:
    """SqueezeNet 1.1 (Iandola et al. 2016; the keras-squeezenet definition) with the shared ImageNet weights,
    no top, global-average pooled, saved as a ``.keras`` file: what a user would upload. Caffe preprocessing."""
    if dest.exists():
        return dest
    import h5py
    import keras
    from keras import layers

    def fire(x, i, squeeze, expand):
        x = layers.Conv2D(squeeze, 1, activation="relu", name=f"fire{i}_squeeze1x1")(x)
        left = layers.Conv2D(expand, 1, activation="relu", name=f"fire{i}_expand1x1")(x)
        right = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"fire{i}_expand3x3")(x)
        return layers.Concatenate(name=f"fire{i}_concat")([left, right])

    inp = keras.Input((227, 227, 3))
    x = layers.Conv2D(64, 3, strides=2, activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(3, 2, name="pool1")(x)
    x = fire(fire(x, 2, 16, 64), 3, 16, 64)
    x = layers.MaxPooling2D(3, 2, name="pool3")(x)
    x = fire(fire(x, 4, 32, 128), 5, 32, 128)
    x = layers.MaxPooling2D(3, 2, name="pool5")(x)
    for i, (s, e) in zip((6, 7, 8, 9), ((48, 192), (48, 192), (64, 256), (64, 256))):
        x = fire(x, i, s, e)
    model = keras.Model(inp, layers.GlobalAveragePooling2D(name="pool")(x), name="squeezenet_v1.1")
    with h5py.File(DATA / "models" / "squeezenet_v1.1_notop.h5", "r") as fh:
        group = fh["model_weights"] if "model_weights" in fh else fh
        for layer in model.layers:
            if not layer.weights:
                continue
            g = group[layer.name.replace("_", "/", 1) if layer.name.startswith("fire") else layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            layer.set_weights([np.asarray(g[n]) for n in names])
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(dest)
    return dest


def catvsdog_file(dest: Path) -> Path:
    """The Keras-2 cat/dog MobileNet 0.25 (a weights-only ``.h5``) in the Keras MobileNet definition with a
    2-class top, saved whole as a ``.keras`` file (a user's classifier whose head is a 1x1 conv + reshape)."""
    if dest.exists():
        return dest
    import keras

    model = keras.applications.MobileNet(alpha=0.25, include_top=True, weights=None, classes=2,
                                         input_shape=(224, 224, 3))
    model.load_weights(DATA / "models" / "mobilenet025_catvsdog.h5")
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(dest)
    return dest


def register_candidates(reg) -> list:
    """The 10 real candidates in ``reg`` (added on first use)."""
    from fmc_jupyter.errors import NotFoundError

    records = [reg.model("MobileNet_0.25_224:v1")]
    for name, (domain, top1) in TFLITE.items():
        try:
            records.append(reg.model(name))
            continue
        except NotFoundError:
            pass
        records.append(reg.add_model(DATA / "models" / "tflite" / f"{name}.tflite", domain=domain, top1=top1,
                                     pretrained_on="inaturalist" if domain != "natural" else "imagenet"))
    for name, make in (("squeezenet_v1.1", lambda: squeezenet_file(OUT / "squeezenet_v1.1.keras")),
                       ("mobilenet025_catvsdog", lambda: catvsdog_file(OUT / "mobilenet025_catvsdog.keras"))):
        try:
            records.append(reg.model(name))
        except NotFoundError:
            squeeze = "squeeze" in name
            records.append(reg.add_model(make(), name=name, preprocessing="caffe" if squeeze else "tf",
                                         pretrained_on="imagenet" if squeeze else "cats_vs_dogs",
                                         labels=None if squeeze else ["cat", "dog"]))
    return records


def split_features(reg, rec, images: np.ndarray):
    """``extract_features`` of ``rec`` on ``images`` through the project's feature cache."""
    from fmc_jupyter.zoo.features import extract_features

    return extract_features(rec, images, reg, progress=False, cache=True)


def _logreg_fit(x, y, c, lam):
    from scipy.optimize import minimize

    n, d = x.shape
    onehot = np.eye(c)[y]

    def loss(w):
        w = w.reshape(d + 1, c)
        z = x @ w[:-1] + w[-1]
        z -= z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        p = np.exp(z - lse[:, None])
        val = (lse - (z * onehot).sum(axis=1)).mean() + 0.5 * lam * (w[:-1] ** 2).sum()
        grad = np.vstack([x.T @ (p - onehot) / n + lam * w[:-1], (p - onehot).mean(axis=0)])
        return val, grad.ravel()

    res = minimize(loss, np.zeros((d + 1) * c), jac=True, method="L-BFGS-B", options={"maxiter": 300})
    return res.x.reshape(d + 1, c)


def ground_truth(ftr: np.ndarray, ytr: np.ndarray, fte: np.ndarray, yte: np.ndarray) -> float:
    """Held-out accuracy of a multinomial logistic regression on standardised frozen features."""
    ftr, fte = ftr.astype(np.float64), fte.astype(np.float64)
    mu, sd = ftr.mean(axis=0), ftr.std(axis=0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    xtr, xte = (ftr - mu) / sd, (fte - mu) / sd
    c = int(max(ytr.max(), yte.max()) + 1)
    from fmc_jupyter.estimators.linear_probe import stratified_folds

    fold = stratified_folds(ytr, 3, seed=0)
    best, best_lam = -1.0, 1e-2
    for lam in (1e-3, 1e-2, 1e-1):
        acc = 0
        for k in range(3):
            w = _logreg_fit(xtr[fold != k], ytr[fold != k], c, lam)
            acc += int(((xtr[fold == k] @ w[:-1] + w[-1]).argmax(axis=1) == ytr[fold == k]).sum())
        if acc > best:
            best, best_lam = acc, lam
    w = _logreg_fit(xtr, ytr, c, best_lam)
    return float(((xte @ w[:-1] + w[-1]).argmax(axis=1) == yte).mean())


def weighted_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    """``scipy.stats.weightedtau`` (hyperbolic weights) on the models with a finite score (NaN under 3)."""
    from scipy.stats import weightedtau

    ok = np.isfinite(scores)
    if ok.sum() < 3:
        return float("nan")
    return float(weightedtau(scores[ok], truth[ok]).statistic)


def cached_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}
