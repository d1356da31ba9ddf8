"""Search latency on a registry of 100,000 synthetic models.

Prints p50/p95 per query over repeated runs. Target (issue 2): p50 <= 5 ms per query on a 2-core machine.
Usage: python benchmarks/search.py [--rows 100000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fmc_jupyter.registry import Registry

QUERIES = [
    ("range filter", "params<5M", "-top1"),
    ("two ranges", "params<10M and top1>=75%", "-top1"),
    ("and/or", "domain=medical and (params<5M or size<20MB)", "-top1"),
    ("text field =", "family=mobilenet", "params"),
    ("contains", "name~net and input>=224", "-top1"),
    ("full text", "efficient", None),
    ("full text + filter", "resnet and top1>70%", "-top1"),
    ("rare full text", "4242", "-top1"),
    ("not", "not family=vgg and params<50M", "size"),
    ("latency", "latency<30ms and domain=natural", "cpu_ms"),
    ("wide and", "domain=natural and task=classification and params>1M and params<100M and top1>60%", "-top1"),
    ("ordered, no filter", "", "-top1"),
    ("aliases + units", "accuracy>=80% and memory<=100MB and resolution=224px", "-params"),
]

FAMILIES = ["mobilenet", "resnet", "efficientnet", "densenet", "vgg", "convnext", "inception", "nasnet"]
DOMAINS = ["natural", "medical", "satellite", "birds", "insects", "documents", "faces", "plants"]


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        family = FAMILIES[rng.integers(len(FAMILIES))]
        params = int(10 ** rng.uniform(5, 8.5))
        rows.append({
            "name": f"{family}-{i}", "version": 1, "family": family, "architecture": family.title(),
            "domain": DOMAINS[rng.integers(len(DOMAINS))], "task": "classification", "source_kind": "keras_file",
            "input_size": int(rng.choice([96, 128, 160, 192, 224, 299, 384])), "params": params,
            "size_mb": round(params * 4 / 1e6, 2), "top1": round(float(rng.uniform(0.4, 0.9)), 4),
            "cpu_ms": round(float(rng.uniform(5, 500)), 1), "description": f"synthetic {family} model number {i}",
            "tags": "synthetic", "owner": f"user{i % 50}", "visibility": "public" if i % 3 else "private",
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Path(tmp) / "bench.db", user="user7")
        t0 = time.perf_counter()
        reg.insert_models(synthetic_rows(args.rows))
        reg.db.execute("ANALYZE")
        print(f"inserted {args.rows:,} models in {time.perf_counter() - t0:.1f}s; visible to user7: {reg.count():,}")
        print(f"{'query':<22} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}  text")
        p50s = []
        for label, query, order in QUERIES:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                result = reg.search(query, order_by=order, limit=20)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p50, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            p50s.append(p50)
            print(f"{label:<22} {len(result):>5} {p50:>8.2f} {p95:>8.2f}  {query!r} order {order}")
        worst = max(p50s)
        print(f"\nmedian of p50s: {statistics.median(p50s):.2f} ms; worst p50: {worst:.2f} ms; target p50 <= 5 ms: "
              f"{'met' if worst <= 5 else 'NOT met'} (ratio worst/target {worst / 5:.2f})")
        reg.close()


if __name__ == "__main__":
    main()
