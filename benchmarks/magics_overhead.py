"""How thin is the ``%findcnn`` skin? Time ``%findcnn search`` against the ``Registry.search`` call it makes.

Prints the median time per call of each (over ``--repeat`` calls, after a warm-up) and their ratio, on a
fresh registry in a temporary folder, for a few queries. Run: ``python benchmarks/magics_overhead.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

QUERIES = [
    "",
    "family=mobilenet and params<2M",
    "domain=natural and (top1>=80% or family=efficientnetv2) and size<100MB",
]


def median_seconds(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from IPython.core.interactiveshell import InteractiveShell

    from fmc_jupyter.registry import Registry

    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Path(tmp) / "registry.db", user="bench")
        shell = InteractiveShell.instance()
        shell.extension_manager.load_extension("fmc_jupyter")
        shell.magics_manager.registry["FindCnnMagics"].registry = reg
        print(f"{'query':<75} {'library ms':>10} {'magic ms':>10} {'ratio':>6}")
        for query in QUERIES:
            lib = median_seconds(lambda: reg.search(query, order_by="-top1", limit=20), args.repeat)
            mag = median_seconds(lambda: shell.run_line_magic("findcnn", f"search {query} --limit 20"), args.repeat)
            print(f"{query or '(all models)':<75} {lib * 1e3:>10.3f} {mag * 1e3:>10.3f} {mag / lib:>6.2f}")
        reg.close()


if __name__ == "__main__":
    main()
