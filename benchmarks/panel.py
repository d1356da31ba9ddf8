"""Time from opening the Find My CNN side panel to its first rendered rows, with 10,000 models in the registry.

Runs a real ``jupyter lab`` and Debian's Chromium (Playwright), like tests/test_browser.py. Target: < 1 s.

    python benchmarks/panel.py [--models 10000] [--repeat 3]

Prints, per cold page load: the wall time from the click on the panel's tab to the first result row in the DOM
(seen from Python through Playwright), the panel's own measure (shown -> rows rendered, ``data-first-rows-ms``),
the time to scroll to the end of the list and see its rows, and the server's time for one page of 200 rows.
Then the main-area views: a model page (command -> its versions and runs rendered) and a diff view of two stored
.keras versions (command -> its layer table rendered; the first diff starts the diff's child process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab_server import chromium, jupyter_lab, missing_browser_parts  # noqa: E402

from fmc_jupyter.registry import Registry  # noqa: E402

TARGET_S = 1.0
PAGE_TARGET_S = 1.0  # model page: command -> rendered
DIFF_TARGET_S = 2.0  # diff view of two small stored models, child process already started
TAB = ".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='fmc-jupyter-panel']"
ROW = "#fmc-jupyter-panel .fmc-result[data-model-id]"


def fill_registry(path: Path, n: int) -> int:
    rng = np.random.default_rng(0)
    families = ["mobilenet", "resnet", "efficientnet", "convnext", "vit", "densenet", "regnet", "squeezenet"]
    domains = ["natural", "medical", "satellite", "birds", "insects", "plants", "faces", "documents"]
    rows = [{"name": f"bulk-{i:05d}", "version": 1, "source_kind": "keras_file", "family": families[i % 8],
             "domain": domains[(i // 8) % 8], "params": int(rng.integers(200_000, 90_000_000)),
             "size_mb": float(rng.uniform(1, 400)), "top1": float(rng.uniform(0.4, 0.9)),
             "visibility": "public" if i % 3 else "private", "description": f"bulk model {i}"} for i in range(n)]
    with Registry(path, user="alice") as reg:
        t0 = time.perf_counter()
        reg.insert_models(rows)
        print(f"inserted {n:,} models in {time.perf_counter() - t0:.2f} s")
        return reg.count("")


def add_diffable_line(path: Path, workdir: Path) -> tuple[int, int]:
    """Two stored .keras versions of one line (v2 from v1) with a run of 10 epochs: the model page and diff."""
    from _keras_models import tiny_keras_model

    with Registry(path, user="alice") as reg:
        v1 = reg.add_model(tiny_keras_model(workdir / "v1.keras", classes=3), "bench-net", top1=0.7).id
        run = reg.start_run(v1, optimizer="adam", learning_rate=1e-3, epochs=10)
        for epoch in range(10):
            reg.log_epoch(run, epoch, loss=1 / (epoch + 1), accuracy=0.5 + epoch * 0.04, val_accuracy=0.45 + epoch * 0.04)
        v2 = reg.add_model(tiny_keras_model(workdir / "v2.keras", classes=2), "bench-net", top1=0.8, parent=v1).id
        reg.finish_run(run, outcome="kept", result_model_id=v2)
        return v1, v2


def time_view(page, command: str, args: str, selector: str) -> float:
    t0 = time.perf_counter()
    page.evaluate(f"window.jupyterapp.commands.execute('{command}', {args})")
    page.wait_for_selector(selector, timeout=300_000)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reason = missing_browser_parts()
    if reason:
        sys.exit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory(prefix="fmc-panel-bench-") as tmp:
        workdir = Path(tmp)
        registry = workdir / "registry.db"
        fill_registry(registry, args.models)
        v1, v2 = add_diffable_line(registry, workdir)
        with Registry(registry, user="alice") as reg:
            visible = reg.count("")
        print(f"models visible to alice: {visible:,}")
        with jupyter_lab(workdir, registry) as (url, token), chromium() as browser:
            api = []
            for _ in range(5):
                req = urllib.request.Request(f"{url}fmc/api/models?order=-top1&limit=200",
                                             headers={"Authorization": f"token {token}"})
                t0 = time.perf_counter()
                urllib.request.urlopen(req).read()
                api.append(time.perf_counter() - t0)
            clicks, inner, scrolls, pages, diffs = [], [], [], [], []
            for i in range(args.repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(60_000)
                page.goto(f"{url}lab?token={token}&reset")  # a fresh workspace: the panel starts closed
                page.wait_for_function("window.jupyterapp !== undefined")
                page.evaluate("window.jupyterapp.restored.then(() => true)")
                page.wait_for_selector(TAB)
                t0 = time.perf_counter()
                page.click(TAB)
                page.wait_for_selector(ROW)
                clicks.append(time.perf_counter() - t0)
                page.wait_for_function("document.getElementById('fmc-jupyter-panel').dataset.firstRowsMs")
                inner.append(float(page.get_attribute("#fmc-jupyter-panel", "data-first-rows-ms")) / 1000)
                last = visible - 1
                t0 = time.perf_counter()
                page.eval_on_selector("#fmc-jupyter-panel .fmc-viewport", "v => { v.scrollTop = v.scrollHeight; }")
                page.wait_for_function(
                    "(() => { const rows = [...document.querySelectorAll('#fmc-jupyter-panel .fmc-result')];"
                    f" return rows.some(r => r.dataset.index === '{last}' && r.dataset.modelId); }})()")
                scrolls.append(time.perf_counter() - t0)
                rendered = page.locator("#fmc-jupyter-panel .fmc-result").count()
                pages.append(time_view(page, "fmc-jupyter:open-model", f"{{ref: {v1}}}",
                                       f".fmc-main .fmc-model-page[data-ref='bench-net:v1'] .fmc-runs-table"))
                diffs.append(time_view(page, "fmc-jupyter:diff", f"{{a: {v1}, b: {v2}}}",
                                       ".fmc-main .fmc-diff-view .fmc-layer-diff"))
                page.close()
                print(f"run {i + 1}: click -> first rows {clicks[-1]:.3f} s (panel's own measure {inner[-1]:.3f} s); "
                      f"scroll to row {visible:,} -> rows {scrolls[-1]:.3f} s; rows in the DOM: {rendered}; "
                      f"model page {pages[-1]:.3f} s; diff view {diffs[-1]:.3f} s")
    print(f"server: one page of 200 rows of {visible:,}: median {statistics.median(api) * 1000:.1f} ms")
    best, median = min(clicks), statistics.median(clicks)
    print(f"open panel -> first rendered rows with {visible:,} models: median {median:.3f} s, best {best:.3f} s; "
          f"target {TARGET_S:.1f} s; median/target = {median / TARGET_S:.2f}")
    print(f"scroll to the end -> rows: median {statistics.median(scrolls):.3f} s")
    page_median = statistics.median(pages)
    print(f"model page: command -> versions and runs rendered: median {page_median:.3f} s; target {PAGE_TARGET_S:.1f} s; "
          f"median/target = {page_median / PAGE_TARGET_S:.2f}")
    warm = diffs[1:] or diffs
    print(f"diff view: command -> layer table rendered: first (starts the child process) {diffs[0]:.3f} s; "
          f"later median {statistics.median(warm):.3f} s; target {DIFF_TARGET_S:.1f} s; "
          f"median/target = {statistics.median(warm) / DIFF_TARGET_S:.2f}")


if __name__ == "__main__":
    main()
