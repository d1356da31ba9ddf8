"""Frozen-backbone fine-tuning: ``fmc.finetune`` against a plain Keras ``model.fit`` of the full model.

Same base (Keras MobileNet alpha=0.25, ImageNet weights, 224px), same head (Dropout 0.2 + Dense softmax,
same seeded Glorot initialisation), same optimizer and learning rate (fmc's head-mode defaults: Adam 3e-3,
batch 16), epochs (10) and data (a stratified subset of the real sign-digits images), validated on the
same held-out images after every epoch. ``fmc.finetune`` computes the backbone's features once and trains
the head on them; plain Keras runs the frozen backbone forward on every batch of every epoch. Both
timings run from the raw uint8 images to a trained, validated model (model building, resizing and
preprocessing included).

Run: ``python benchmarks/finetune.py [--per-class 50] [--test-per-class 30] [--epochs 10] [--repeats 3]``.
Target: fmc at least 5x faster, accuracy equal within 2 points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fmc_jupyter.config import shared_data_dir  # noqa: E402
from fmc_jupyter.zoo import use_weights_dir  # noqa: E402

MODEL = "MobileNet_0.25_224"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--test-per-class", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="seeds to average over (training is stochastic)")
    args = parser.parse_args()
    data_dir = shared_data_dir()
    if data_dir is None:
        sys.exit("needs ../shared/data (Keras MobileNet 0.25 weights and sign_digits.npz)")
    use_weights_dir(data_dir / "keras")

    import keras
    import numpy as np

    import fmc_jupyter as fmc
    from fmc_jupyter.zoo import preprocess_images

    with np.load(data_dir / "datasets" / "sign_digits.npz") as npz:
        x, y = npz["x"], npz["y"]
    rng = np.random.default_rng(args.seed)
    order = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    tr = np.sort(np.concatenate([o[:args.per_class] for o in order.values()]))
    te = np.sort(np.concatenate([o[args.per_class:args.per_class + args.test_per_class] for o in order.values()]))
    x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
    print(f"backend {keras.backend.backend()}; {MODEL}; sign_digits {len(tr)} train / {len(te)} test images "
          f"({x.shape[1]}x{x.shape[2]} -> 224x224); {args.epochs} epochs, batch 16, Adam 3e-3")

    with tempfile.TemporaryDirectory() as tmp:
        reg = fmc.open_registry(Path(tmp) / "registry.db", user="bench")
        record = reg.model(MODEL)
        # warm-up outside both timings: Keras import, first graph build
        keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet", pooling="avg",
                                     input_shape=(224, 224, 3)).predict_on_batch(np.zeros((2, 224, 224, 3), "f4"))
        fmc_times, fmc_accs, plain_times, plain_accs = [], [], [], []
        for seed in range(args.seed, args.seed + args.repeats):
            start = time.perf_counter()
            run = fmc.finetune(MODEL, x_tr, y_tr, validation_data=(x_te, y_te), epochs=args.epochs, batch_size=16,
                               lr=3e-3, dropout=0.2, seed=seed, registry=reg, progress=False)
            fmc_times.append(time.perf_counter() - start)
            fmc_accs.append(run.val_accuracy)

            keras.utils.set_random_seed(seed)
            start = time.perf_counter()
            base = keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet", pooling="avg",
                                                input_shape=(224, 224, 3))
            base.trainable = False
            inputs = keras.Input((224, 224, 3))
            h = keras.layers.Dropout(0.2, seed=seed)(base(inputs, training=False))
            dense = keras.layers.Dense(len(order), activation="softmax",
                                       kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
            model = keras.Model(inputs, dense(h))
            model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(preprocess_images(record, x_tr), y_tr, epochs=args.epochs, batch_size=16, verbose=0,
                                validation_data=(preprocess_images(record, x_te), y_te))
            plain_times.append(time.perf_counter() - start)
            plain_accs.append(float(history.history["val_accuracy"][-1]))
            print(f"seed {seed}: fmc.finetune {fmc_times[-1]:6.1f} s, {fmc_accs[-1] * 100:5.1f}%   |   "
                  f"plain model.fit {plain_times[-1]:6.1f} s, {plain_accs[-1] * 100:5.1f}%", flush=True)

    fmc_s, plain_s = float(np.mean(fmc_times)), float(np.mean(plain_times))
    fmc_acc, plain_acc = float(np.mean(fmc_accs)), float(np.mean(plain_accs))
    print(f"mean over {args.repeats} seed(s):")
    print(f"fmc.finetune (features once, head on features): {fmc_s:7.1f} s   test accuracy {fmc_acc * 100:5.1f}%")
    print(f"plain keras model.fit (frozen full model):      {plain_s:7.1f} s   test accuracy {plain_acc * 100:5.1f}%")
    print(f"speed-up {plain_s / fmc_s:.1f}x (target >= 5x); accuracy difference "
          f"{abs(fmc_acc - plain_acc) * 100:.1f} points (target <= 2)")


if __name__ == "__main__":
    main()
