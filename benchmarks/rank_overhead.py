"""Overhead of ``fmc.rank`` over the bare forward pass, and the speed-up of a cached re-rank.

Usage: ``python benchmarks/rank_overhead.py [--per-class 20] [--repeats 3]``

Data: ``per_class`` real CIFAR-10 images per class (10 classes, 32x32 -> the model's input size).
Candidates: the Keras MobileNet 0.25/224 catalog entry and the int8 TFLite MobileNet v2 1.0/224.

- floor: what any tool must do to get the features once: build/load each model, preprocess the images, run
  ``model.predict`` (Keras) or ``interpreter.invoke`` per image (TFLite);
- ``fmc.rank`` on a cold feature cache (default methods, ``bootstrap=0`` and the default ``bootstrap=10``);
- ``fmc.rank`` again (features from the cache).

Each figure is the median of ``--repeats`` runs after one warm-up (Keras traces functions on first use).
Targets: cold rank within 15% of the floor; cached re-rank >= 20x faster than the cold one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# numpy's OpenBLAS uses every core for each small matrix product; on a busy 2-core machine its threads wait
# for each other and small solves get ~10x slower. One BLAS thread is what a shared machine should use; override
# with OPENBLAS_NUM_THREADS=... to measure otherwise. (Must be set before numpy is imported.)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CACHE = Path(tempfile.mkdtemp(prefix="fmc-overhead-cache-"))
os.environ["FMC_CACHE_DIR"] = str(CACHE)

from fmc_jupyter.config import shared_data_dir  # noqa: E402

DATA = shared_data_dir()
if DATA is None:
    sys.exit("../shared/data is absent: this benchmark needs the real models and datasets")
if "KERAS_HOME" not in os.environ:
    from fmc_jupyter.zoo.keras_home import use_weights_dir

    use_weights_dir(DATA / "keras")

import fmc_jupyter as fmc  # noqa: E402
from fmc_jupyter.arrays import stratified_indices  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402


def floor_keras(record, x):
    from fmc_jupyter.zoo import build_keras_model, preprocess_images

    model = build_keras_model(record, include_top=False, pooling="avg")
    return model.predict(preprocess_images(record, x), batch_size=32, verbose=0)


def floor_tflite(path, x):
    from fmc_jupyter.zoo.models import resize_images
    from fmc_jupyter.zoo.tflite import tflite_interpreter

    interp = tflite_interpreter(path)
    inp = interp.get_input_details()[0]
    xs = np.clip(np.round(resize_images(x, int(inp["shape"][1]))), 0, 255).astype(np.uint8)
    out = []
    for i in range(len(xs)):
        interp.set_tensor(inp["index"], xs[i:i + 1])
        interp.invoke()
        out.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    return out


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cold(fn):
    def run():
        shutil.rmtree(CACHE / "features", ignore_errors=True)
        fn()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description="fmc.rank overhead")
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with np.load(DATA / "datasets" / "cifar10_small.npz") as npz:
        x, y = npz["x_train"], npz["y_train"]
    rows = stratified_indices(y, args.per_class, seed=0)
    x, y = x[rows], y[rows]
    reg = Registry(Path(tempfile.mkdtemp(prefix="fmc-overhead-")) / "registry.db", user="bench")
    keras_rec = reg.model("MobileNet_0.25_224")
    tfl_path = DATA / "models" / "tflite" / "mobilenet_v2_1.0_224_quant.tflite"
    tfl_rec = reg.add_model(tfl_path)
    refs = [keras_rec.ref, tfl_rec.ref]
    print(f"fmc.rank overhead on {len(y)} real CIFAR-10 images ({args.per_class} per class), candidates "
          f"{', '.join(refs)}; median of {args.repeats} runs after a warm-up; seconds; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")

    def floor():
        floor_keras(keras_rec, x)
        floor_tflite(tfl_path, x)

    def rank(bootstrap):
        return fmc.rank(x, y, models=refs, registry=reg, per_class=args.per_class, bootstrap=bootstrap,
                        progress=False)

    floor()                                   # warm-up (tracing, first weight load)
    cold(lambda: rank(0))()
    t_floor = median_time(floor, args.repeats)
    rows = []
    for b in (0, 10):
        t_cold = median_time(cold(lambda: rank(b)), args.repeats)
        rank(b)                               # fill the cache
        t_warm = median_time(lambda: rank(b), args.repeats)
        rows.append((b, t_cold, t_warm))
    print(f"  floor: load + preprocess + predict, both models   {t_floor:7.2f}")
    for b, t_cold, t_warm in rows:
        label = "default" if b == 10 else "no stability"
        print(f"  fmc.rank cold,   bootstrap={b:<2d} ({label:12s})   {t_cold:7.2f}   = {t_cold / t_floor:5.2f}x floor "
              f"({(t_cold / t_floor - 1) * 100:+.0f}%)")
        print(f"  fmc.rank cached, bootstrap={b:<2d} ({label:12s})   {t_warm:7.2f}   speed-up over cold "
              f"{t_cold / t_warm:6.1f}x")
    shutil.rmtree(CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
