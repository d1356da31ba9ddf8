"""16 processes append training runs (with epochs) to one registry at once: SQLite file and, side by side, PostgreSQL.

Prints rows expected vs found, errors seen and rows/s per backend. Target (issue 2): every row present, zero errors.
Usage: python benchmarks/concurrency.py [--procs 16] [--runs 500] [--registry postgresql://...|postgres]
``--registry postgres`` starts a throw-away local PostgreSQL server (Debian's postgresql package); a URL must name
an EMPTY database.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fmc_jupyter.registry import open_registry


def writer(args: tuple[str, str, int, int]) -> tuple[int, list[str]]:
    target, artifacts, worker, runs = args
    written, errors = 0, []
    if target.startswith("postgres"):
        from fmc_jupyter.registry.postgres import PostgresRegistry

        reg = PostgresRegistry(target, user=f"worker{worker}", artifacts=artifacts)
    else:
        reg = open_registry(target, user=f"worker{worker}")
    with reg:
        for i in range(runs):
            try:
                run_id = reg.start_run("MobileNetV2", optimizer="adam", batch_size=32, epochs=1,
                                       config={"worker": worker, "i": i})
                reg.log_epoch(run_id, 0, loss=1.0, accuracy=0.5, val_loss=1.1, val_accuracy=0.45)
                reg.finish_run(run_id, metrics={"val_accuracy": 0.45})
                written += 1
            except Exception:  # counted and printed, never hidden
                errors.append(traceback.format_exc(limit=1))
    return written, errors


def measure(name: str, target: str, artifacts: str, procs: int, runs: int) -> dict:
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(procs) as pool:  # the first opens race to create the schema too
        results = pool.map(writer, [(target, artifacts, w, runs) for w in range(procs)])
    seconds = time.perf_counter() - t0
    errors = [e for _, errs in results for e in errs]
    if name == "postgresql":
        from fmc_jupyter.registry.postgres import PostgresRegistry

        reg = PostgresRegistry(target, user="checker", artifacts=artifacts)
        integrity = "n/a"
    else:
        reg = open_registry(target, user="checker")
        integrity = reg.db.execute("PRAGMA integrity_check").fetchone()[0]
    with reg:
        found = reg.db.execute("SELECT count(*) FROM runs WHERE status = 'finished'").fetchone()[0]
        distinct = reg.db.execute("SELECT count(DISTINCT config) FROM runs").fetchone()[0]
        epochs = reg.db.execute("SELECT count(*) FROM epochs").fetchone()[0]
    expected = procs * runs
    ok = found == epochs == distinct == expected and not errors and integrity in ("ok", "n/a")
    return {"name": name, "expected": expected, "found": found, "distinct": distinct, "epochs": epochs,
            "errors": errors, "integrity": integrity, "seconds": seconds, "ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--registry", default=None, help="also run on postgresql://... (an EMPTY database), or "
                                                         "'postgres' for a throw-away local server")
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": str(Path(tmp) / "shared.db")}
        if args.registry:
            url = args.registry
            if url == "postgres":
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from _postgres import PostgresServer

                server = PostgresServer().start()
                url = server.url(server.create_database("fmc_bench"))
            targets["postgresql"] = url
        try:
            results = [measure(name, target, str(Path(tmp) / "artifacts"), args.procs, args.runs)
                       for name, target in targets.items()]
        finally:
            if server is not None:
                server.stop()
    print(f"processes: {args.procs}, runs each: {args.runs} (3 write transactions per run: start, epoch, finish)")
    print(f"{'backend':<11} {'expected':>8} {'found':>6} {'distinct':>8} {'epochs':>6} {'errors':>6} {'seconds':>8} "
          f"{'runs/s':>7} {'writes/s':>8}  check")
    for r in results:
        print(f"{r['name']:<11} {r['expected']:>8} {r['found']:>6} {r['distinct']:>8} {r['epochs']:>6} "
              f"{len(r['errors']):>6} {r['seconds']:>8.1f} {r['found'] / r['seconds']:>7.0f} "
              f"{3 * r['found'] / r['seconds']:>8.0f}  integrity {r['integrity']}")
        if r["errors"]:
            print(f"  first error:\n{r['errors'][0]}")
    if len(results) == 2:
        print(f"postgresql/sqlite runs/s ratio: {results[1]['seconds'] and results[0]['seconds'] / results[1]['seconds']:.2f}")
    print("target: every row present, zero errors ->", "met" if all(r["ok"] for r in results) else "NOT met")


if __name__ == "__main__":
    main()
