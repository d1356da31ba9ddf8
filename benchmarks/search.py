"""Search latency on a registry of 100,000 synthetic models.

Prints p50/p95 per query over repeated runs, and each shape's first run on the connection. Target (issues 2
and 12): p50 <= 5 ms per query on a 2-core machine, on both backends.
Usage: python benchmarks/search.py [--rows 100000] [--repeat 50] [--registry postgresql://...|postgres]
With --registry the same rows and queries run on PostgreSQL too, printed side by side with SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
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


def measure(reg, repeat: int) -> dict[str, tuple[int, float, float, float]]:
    """label -> (rows returned, p50 ms, p95 ms, first ms) of ``reg.search`` for every query shape; ``first`` is the
    shape's first run on this connection (on SQLite it includes listing the query's words, see
    fmc_jupyter/registry/word_hits.py; on PostgreSQL counting them)."""
    out = {}
    for label, query, order in QUERIES:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            result = reg.search(query, order_by=order, limit=20)
            times.append((time.perf_counter() - t) * 1000)
        first = times[0]
        times.sort()
        out[label] = (len(result), statistics.median(times), times[int(0.95 * (len(times) - 1))], first)
    return out


def fill(reg, rows: list[dict], analyze: str) -> None:
    t0 = time.perf_counter()
    reg.insert_models(rows)
    reg.db.execute(analyze)
    print(f"{reg!r}: inserted {len(rows):,} models in {time.perf_counter() - t0:.1f}s; visible to user7: "
          f"{reg.count():,}")


def start_postgres():
    """A throw-away PostgreSQL server (the tests' helper, tests/_postgres.py); returns (server, url)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _postgres import PostgresServer

    server = PostgresServer().start()
    return server, server.url(server.create_database("fmc_bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--registry", default=None,
                        help="also measure this registry (postgresql://user:pw@host/db, an EMPTY database: the "
                             "benchmark fills it), side by side with a temporary SQLite file; 'postgres' starts a "
                             "throw-away local PostgreSQL server (Debian's postgresql package)")
    args = parser.parse_args()
    rows = synthetic_rows(args.rows)
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        regs = {"sqlite": Registry(Path(tmp) / "bench.db", user="user7")}
        if args.registry:
            url = args.registry
            if url == "postgres":
                server, url = start_postgres()
            from fmc_jupyter.registry.postgres import PostgresRegistry

            regs["postgresql"] = PostgresRegistry(url, user="user7", artifacts=Path(tmp) / "artifacts")
        try:
            results = {}
            for name, reg in regs.items():
                # PostgreSQL: VACUUM as autovacuum would after a bulk load (it also empties the GIN index's
                # pending list, which a search would otherwise scan linearly)
                fill(reg, rows, "ANALYZE" if name == "sqlite" else "VACUUM ANALYZE")
                results[name] = measure(reg, args.repeat)
            names = list(results)
            head = "".join(f" {n + ' p50':>16} {n + ' p95':>16} {n + ' first':>16}" for n in names)
            ratio = "  pg/sqlite p50" if len(names) == 2 else ""
            print(f"\n{'query':<22} {'rows':>5}{head}{ratio}  text")
            for label, query, order in QUERIES:
                cells = "".join(f" {results[n][label][1]:>16.2f} {results[n][label][2]:>16.2f} "
                                f"{results[n][label][3]:>16.2f}" for n in names)
                extra = f"  {results[names[1]][label][1] / results[names[0]][label][1]:>14.2f}" if ratio else ""
                print(f"{label:<22} {results[names[0]][label][0]:>5}{cells}{extra}  {query!r} order {order}")
            for name in names:
                p50s = [v[1] for v in results[name].values()]
                worst = max(p50s)
                print(f"{name}: median of p50s {statistics.median(p50s):.2f} ms; worst p50 {worst:.2f} ms; target "
                      f"p50 <= 5 ms: {'met' if worst <= 5 else 'NOT met'} (ratio worst/target {worst / 5:.2f})")
        finally:
            for reg in regs.values():
                reg.close()
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
