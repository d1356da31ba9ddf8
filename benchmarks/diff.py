"""Benchmark: diffing two versions of a 25M-parameter model from their files vs loading both models.

Builds ``keras.applications.ResNet50(weights=None)`` (25.6M parameters), saves it as ``a.keras``, perturbs
the weights of its last stage (``conv5_*``) and head, saves ``b.keras``; then, each in a fresh process
(so ``ru_maxrss`` is that task's own high-water mark):

- ``diff files``:   ``fmc.diff(a, b, mode="files")``: config + one layer's weights at a time, read with h5py
- ``diff memory``:  ``fmc.diff(a, b, mode="memory")``: both models loaded by Keras, then compared
- ``load both``:    ``keras.models.load_model`` of both files, nothing else (the floor of any in-memory diff)

Reported: wall time, tracemalloc peak (Python + numpy allocations) and peak RSS above the RSS after
``import keras``. Run: ``python benchmarks/diff.py [--model ResNet50] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_files(model_name: str, workdir: Path) -> dict:
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, model_name)(weights=None)
    a, b = workdir / "a.keras", workdir / "b.keras"
    model.save(a)
    rng = np.random.default_rng(0)
    perturbed = 0
    for layer in model.layers:
        if layer.weights and (layer.name.startswith("conv5_") or layer.name == "predictions"):
            layer.set_weights([w + rng.normal(scale=1e-3, size=w.shape).astype(w.dtype) for w in layer.get_weights()])
            perturbed += 1
    model.save(b)
    return {"params": int(model.count_params()), "layers": len(model.layers), "perturbed_layers": perturbed,
            "file_mb": round(a.stat().st_size / 2**20, 1)}


def child(task: str, a: str, b: str) -> dict:
    import keras  # noqa: F401  (baseline includes Keras and TensorFlow)

    sys.path.insert(0, str(ROOT))
    from fmc_jupyter.modeldiff import diff

    base_rss = _current_rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    summary = None
    if task == "load":
        models = [keras.models.load_model(a, compile=False), keras.models.load_model(b, compile=False)]
        summary = f"{len(models)} models, {sum(m.count_params() for m in models):,} parameters"
    else:
        result = diff(a, b, mode=task)
        summary = result.summary
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"task": task, "seconds": seconds, "tracemalloc_peak_mb": peak / 2**20,
            "rss_peak_above_import_mb": _rss_mb() - base_rss, "summary": summary}


def run_child(task: str, a: Path, b: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", task, str(a), str(b)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--child", nargs=3, metavar=("TASK", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fmc-bench-diff-"))
    workdir.mkdir(parents=True, exist_ok=True)
    facts = json.loads(subprocess.run(
        [sys.executable, "-c", f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); "
         f"from benchmarks.diff import make_files; from pathlib import Path; "
         f"print(json.dumps(make_files({args.model!r}, Path({str(workdir)!r}))))"],
        check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1])
    print(f"model: keras.applications.{args.model}(weights=None): {facts['params']:,} parameters, "
          f"{facts['layers']} layers, {facts['file_mb']} MB per .keras file; b = a with "
          f"{facts['perturbed_layers']} layers perturbed (N(0, 1e-3) noise)")
    a, b = workdir / "a.keras", workdir / "b.keras"
    results = {task: run_child(task, a, b) for task in ("files", "memory", "load")}
    names = {"files": "diff, layer by layer from files", "memory": "diff, both models loaded by Keras",
             "load": "load both models (no diff)"}
    print(f"{'task':36s} {'seconds':>8s} {'tracemalloc peak MB':>20s} {'RSS peak above import MB':>25s}")
    for task, r in results.items():
        print(f"{names[task]:36s} {r['seconds']:8.2f} {r['tracemalloc_peak_mb']:20.1f} "
              f"{r['rss_peak_above_import_mb']:25.1f}")
    print(f"summary (files):  {results['files']['summary']}")
    print(f"summary (memory): {results['memory']['summary']}")
    f, m, load = results["files"], results["memory"], results["load"]
    print(f"ratio time          diff-from-files / load-both = {f['seconds'] / load['seconds']:.2f}   "
          f"(diff-in-memory / load-both = {m['seconds'] / load['seconds']:.2f})")
    print(f"ratio RSS peak      diff-from-files / load-both = "
          f"{f['rss_peak_above_import_mb'] / max(load['rss_peak_above_import_mb'], 1e-9):.2f}   "
          f"(diff-in-memory / load-both = {m['rss_peak_above_import_mb'] / max(load['rss_peak_above_import_mb'], 1e-9):.2f})")
    print(f"ratio tracemalloc   diff-from-files / load-both = "
          f"{f['tracemalloc_peak_mb'] / max(load['tracemalloc_peak_mb'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
