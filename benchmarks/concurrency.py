"""16 processes append training runs (with epochs) to one registry file at once.

Prints rows expected vs found, errors seen and rows/s. Target (issue 2): every row present, zero errors.
Usage: python benchmarks/concurrency.py [--procs 16] [--runs 500]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
import traceback
from pathlib import Path

from fmc_jupyter.registry import Registry


def writer(args: tuple[str, int, int]) -> tuple[int, list[str]]:
    path, worker, runs = args
    written, errors = 0, []
    with Registry(path, user=f"worker{worker}") as reg:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "shared.db")
        t0 = time.perf_counter()
        with mp.get_context("spawn").Pool(args.procs) as pool:  # the first opens race to create the schema too
            results = pool.map(writer, [(path, w, args.runs) for w in range(args.procs)])
        seconds = time.perf_counter() - t0
        errors = [e for _, errs in results for e in errs]
        with Registry(path, user="checker") as reg:
            runs = reg.db.execute("SELECT count(*) FROM runs WHERE status = 'finished'").fetchone()[0]
            epochs = reg.db.execute("SELECT count(*) FROM epochs").fetchone()[0]
            integrity = reg.db.execute("PRAGMA integrity_check").fetchone()[0]
        expected = args.procs * args.runs
        # each run is 3 write transactions (start, epoch, finish)
        print(f"processes: {args.procs}, runs each: {args.runs}")
        print(f"runs expected {expected}, found {runs}; epochs expected {expected}, found {epochs}")
        print(f"errors: {len(errors)}" + (f"\nfirst error:\n{errors[0]}" if errors else ""))
        print(f"integrity_check: {integrity}")
        print(f"elapsed {seconds:.1f}s (incl. process start); {runs / seconds:.0f} runs/s, "
              f"{3 * runs / seconds:.0f} write transactions/s")
        print("target: every row present, zero errors ->",
              "met" if runs == epochs == expected and not errors and integrity == "ok" else "NOT met")


if __name__ == "__main__":
    main()
