"""The side panel, the model page and the diff view in a real browser: Debian Chromium (Playwright) against a
real ``jupyter lab`` serving this checkout's build of the extension.

Each behaviour is checked with the side bar at 250 px (JupyterLab's default width) and, where layout matters,
at 700 px, in the light and the dark theme. Screenshots land in ``$FMC_SCREENSHOTS`` (default
``test-output/screenshots/`` at the repository root, git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from fmc_jupyter.registry import Registry

from _keras_models import tiny_keras_model
from lab_server import REPO, chromium, jupyter_lab, missing_browser_parts

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              # pytest-jupyter's autouse cleanup (when test_server.py shares the session) finds no server here
              pytest.mark.filterwarnings("ignore:coroutine 'ServerApp._cleanup' was never awaited:RuntimeWarning")]

SHOTS = Path(os.environ.get("FMC_SCREENSHOTS") or REPO / "test-output" / "screenshots")
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><b>bold?</b>'
PANEL = "#fmc-jupyter-panel"
ROWS = f"{PANEL} .fmc-result[data-model-id]"


@pytest.fixture
def jp_asyncio_loop():
    """Stands in for pytest-jupyter's autouse per-test event loop (active when tests/test_server.py runs in the
    same session): Playwright's sync API keeps the current loop running, and closing that one at teardown fails.
    This loop is private: never set as current, closed at teardown."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running ``jupyter lab`` (user alice) on a registry with a versioned private model, two runs (one with an
    HTML report), a ranking, an evaluation, and a model with a long name and millions of parameters."""
    reason = missing_browser_parts()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("lab")
    registry = workdir / "registry.db"
    with Registry(registry, user="alice") as reg:
        facts = {"family": "mobilenet", "domain": "medical", "description": HOSTILE, "tags": "pre"}
        v1 = reg.add_model(tiny_keras_model(workdir / "v1.keras", classes=3), "xray-net", top1=0.71, **facts).id
        run = reg.start_run(v1, optimizer="adam", learning_rate=1e-3, epochs=4)
        for epoch, acc in enumerate([0.52, 0.66, 0.74, 0.79]):
            reg.log_epoch(run, epoch, loss=1 - acc, accuracy=acc, val_loss=1.1 - acc, val_accuracy=acc - 0.04)
        v2 = reg.add_model(tiny_keras_model(workdir / "v2.keras", classes=2), "xray-net", top1=0.78, parent=v1,
                           **facts).id
        report = workdir / "run-report.html"
        report.write_text("<html><body><h1>Training run report</h1></body></html>")
        reg.finish_run(run, outcome="kept", result_model_id=v2, metrics={"report": str(report)})
        run2 = reg.start_run(v1, optimizer="sgd", learning_rate=1e-2, epochs=3)
        for epoch, acc in enumerate([0.40, 0.55, 0.61]):
            reg.log_epoch(run2, epoch, loss=1.2 - acc, accuracy=acc, val_loss=1.3 - acc, val_accuracy=acc - 0.05)
        reg.finish_run(run2, outcome="discarded")
        rng = np.random.default_rng(0)
        data = reg.add_dataset(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), np.array([0, 1, 0, 1]),
                               "chest-xrays", ["normal", "pneumonia"])
        reg.save_ranking(data, "logme", [{"model_id": v2, "rank": 1, "score": 1.25}])
        reg.add_evaluation(v2, data, accuracy=0.8, num_examples=4)
        reg.insert_models([{"name": "MobileNet_0.25_224", "version": 7,
                            "source_kind": "keras_file", "visibility": "public", "params": 4_300_000,
                            "size_mb": 17.2, "top1": 0.99, "family": "efficientnet", "domain": "medical"}])
    (workdir / "notebooks").mkdir()
    (workdir / "notebooks" / "demo.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                   "source": ["print('my own code')"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with jupyter_lab(workdir, registry) as (url, token), chromium() as browser:
        yield {"url": url, "token": token, "browser": browser, "registry": registry, "v1": v1, "v2": v2,
               "run": run, "run2": run2}


def open_lab(lab, path: str = "lab"):
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}{path}?token={lab['token']}&reset")
    wait_restored(page)
    if page.get_attribute("body", "data-jp-theme-light") != "true":  # a test that failed in the dark theme
        set_theme(page, False)
    return page


def wait_restored(page):
    page.wait_for_selector("#jp-main-dock-panel", state="attached")
    page.wait_for_function("window.jupyterapp !== undefined")
    page.evaluate("window.jupyterapp.restored.then(() => true)")
    page.wait_for_selector("body[data-jp-theme-name]", state="attached")  # the theme (fonts, sizes) is applied
    page.evaluate("document.fonts.ready.then(() => true)")


def open_panel(page, width: int = 250):
    """Show the panel at ``width`` px (a click on its tab toggles it, so only click when it is not shown)."""
    if not page.locator(PANEL).is_visible():
        page.click(f".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='fmc-jupyter-panel']")
    set_width(page, width)
    page.wait_for_selector(ROWS)


def set_width(page, width: int):
    """Drag the side bar's split handle until the panel is ``width`` px wide."""
    box = page.locator(PANEL).bounding_box()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    hb = handle.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(hb["x"] + hb["width"] / 2 + (width - box["width"]), hb["y"] + hb["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_function(f"Math.abs(document.querySelector('{PANEL}').getBoundingClientRect().width - {width}) < 12")
    page.wait_for_timeout(200)


def set_theme(page, dark: bool):
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
    page.wait_for_selector(f"body[data-jp-theme-light='{'false' if dark else 'true'}']", state="attached")
    page.wait_for_timeout(600)


def shot(page, name: str):
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def summary_count(page) -> int:
    return int(re.sub(r"\D", "", page.inner_text(f"{PANEL} .fmc-summary")))


def search(page, text: str):
    query = page.locator(f"{PANEL} .fmc-query")
    query.fill(text)
    query.press("Enter")


def luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(page, selector: str) -> float:
    fg, bg = page.eval_on_selector(selector, "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    hi, lo = sorted([luminance(fg), luminance(bg)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def server_pid(lab) -> int:
    port = lab["url"].rstrip("/").rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"--port={port}".encode() in cmd and b"jupyterlab" in cmd:
                return int(entry.name)
    raise AssertionError("the jupyter lab process was not found")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_sidebar_reads_at_250_and_uses_the_room_at_700(lab, dark):
    page = open_lab(lab)
    open_panel(page, 250)
    set_theme(page, dark)
    theme = "dark" if dark else "light"
    search(page, "domain=medical and source=keras_file")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('3 ')")
    rows = page.locator(ROWS)
    names = rows.locator(".fmc-name").all_inner_texts()
    assert "xray-net:v1" in names and "xray-net:v2" in names  # the full name:version, not "xray-n..."
    for name in rows.locator(".fmc-name").all():
        assert name.evaluate("e => e.scrollWidth <= e.clientWidth"), name.inner_text()
    big = rows.filter(has_text="MobileNet_0.25_224")
    facts = big.locator(".fmc-line2").inner_text()
    assert "4.3M params" in facts and "99.0%" in facts and "4300000" not in facts  # humanised
    small = rows.filter(has_text="xray-net:v1").locator(".fmc-line2").inner_text()
    assert re.match(r"127 params · 0\.\d+ MB · top-1 71\.0% · mobilenet · medical$", small), small
    # private marker: a word with an explanation, readable in this theme
    mark = rows.filter(has_text="xray-net:v1").locator(".fmc-private-mark")
    assert mark.inner_text() == "private" and "only you" in mark.get_attribute("title")
    assert contrast(page, f"{ROWS}.fmc-private .fmc-private-mark") >= 4.5
    # sort buttons are all visible in the narrow header
    for sort in page.locator(f"{PANEL} .fmc-head .fmc-sort").all():
        assert sort.is_visible() and sort.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), sort.inner_text()
    # the filter bar is one line: toggle, mine, count
    bar = page.locator(f"{PANEL} .fmc-filters").bounding_box()
    assert bar["height"] < 30
    shot(page, f"sidebar-250-{theme}")
    page.click(f"{PANEL} .fmc-filter-toggle")
    family = page.locator(f"{PANEL} .fmc-filter-family")
    options = family.locator("option").all_inner_texts()
    assert "mobilenet (2)" in options and "efficientnet (1)" in options  # counts among the query's models
    family.select_option("mobilenet")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    assert "Filters (1)" in page.inner_text(f"{PANEL} .fmc-filter-toggle")
    shot(page, f"sidebar-250-filters-{theme}")
    family.select_option("")
    page.click(f"{PANEL} .fmc-filter-toggle")

    set_width(page, 700)
    page.wait_for_selector(f"{PANEL} .fmc-results.fmc-wide")
    page.wait_for_selector(f"{ROWS} .fmc-col-family")
    header = page.locator(f"{PANEL} .fmc-head .fmc-sort").all_inner_texts()
    assert [h.split(" ")[0] for h in header] == ["Model", "Family", "Domain", "Params", "MB", "Top-1"]
    row = rows.filter(has_text="MobileNet_0.25_224")
    assert row.locator(".fmc-col-params").inner_text() == "4.3M" and row.locator(".fmc-col-size").inner_text() == "17"
    assert row.locator(".fmc-col-name").evaluate("e => e.scrollWidth <= e.clientWidth")  # the room is used
    shot(page, f"sidebar-700-{theme}")
    set_theme(page, False)
    page.close()


def test_first_click_lands_while_the_query_box_has_focus(lab):
    page = open_lab(lab)
    open_panel(page, 250)
    viewport = page.locator(f"{PANEL} .fmc-viewport")
    page.wait_for_timeout(500)
    before = viewport.bounding_box()
    query = page.locator(f"{PANEL} .fmc-query")
    query.click()
    query.type("params<5")  # a value is being typed: no field hints
    assert page.locator(f"{PANEL} .fmc-hints .fmc-chip").count() == 0
    query.fill("")
    query.type("to")
    page.wait_for_selector(f"{PANEL} .fmc-hints .fmc-chip")
    assert {"top1", "top5"} <= set(page.locator(f"{PANEL} .fmc-hints .fmc-chip").all_inner_texts())
    assert viewport.bounding_box() == before  # the hints float over the list: it does not move
    shot(page, "hints-250")
    query.fill("")
    query.type("xray-net")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    # one click on a sort header while the query box has focus: it sorts
    page.click(f"{PANEL} .fmc-head .fmc-col-name")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-head .fmc-col-name').textContent.includes('▲')")
    # one click on a row while the query box has focus and hints show: the card opens
    query.click()
    query.press("End")
    query.type(" pr")  # "pr" could be a field (pretrained, preprocessing) and is a search word (tag "pre")
    page.wait_for_selector(f"{PANEL} .fmc-hints .fmc-chip")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    page.wait_for_selector(ROWS)
    page.locator(ROWS).first.click()
    page.wait_for_selector(f"{PANEL} .fmc-card .fmc-title")
    page.close()


def test_bad_query_clears_the_results_and_offers_the_fix(lab):
    page = open_lab(lab)
    open_panel(page, 250)
    assert summary_count(page) >= 3
    search(page, "params<5M and tpoo1 > 70%")
    page.wait_for_selector(f"{PANEL} .fmc-query-error .fmc-caret")
    assert page.locator(ROWS).count() == 0  # the previous results are gone
    assert "fix the query" in page.inner_text(f"{PANEL} .fmc-summary")
    assert page.get_attribute(f"{PANEL} .fmc-query", "aria-invalid") == "true"
    message = page.inner_text(f"{PANEL} .fmc-error-message")
    assert "unknown field 'tpoo1'" in message and "architecture" not in message  # not all 24 fields
    assert not page.locator(f"{PANEL} .fmc-all-fields > div").is_visible()
    caret = page.inner_text(f"{PANEL} .fmc-caret").splitlines()
    assert caret[1].index("^") == caret[0].index("tpoo1")  # the caret sits under the bad field
    for dark in (False, True):
        set_theme(page, dark)
        shot(page, f"bad-query-250-{'dark' if dark else 'light'}")
    set_theme(page, False)
    page.click(f"{PANEL} .fmc-did-you-mean")
    page.wait_for_selector(ROWS)
    assert page.input_value(f"{PANEL} .fmc-query") == "params<5M and top1 > 70%"
    assert page.locator(f"{PANEL} .fmc-query-error").inner_text() == ""
    page.close()


def test_card_insert_snippet_as_new_cell_and_comments(lab):
    page = open_lab(lab, "lab/tree/demo.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    page.click(".jp-Notebook .jp-Cell .cm-content")
    open_panel(page, 250)
    search(page, "xray-net")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    page.click(f"{ROWS}:has-text('xray-net:v2')")
    card = page.locator(f"{PANEL} .fmc-card")
    page.wait_for_selector(f"{PANEL} .fmc-card .fmc-title")
    title = card.locator(".fmc-title")
    assert title.inner_text() == "xray-net:v2"
    assert title.evaluate("e => e.getBoundingClientRect().height") < 40  # one line, not ":v / 2"
    description = card.locator(".fmc-description")
    assert description.inner_text() == HOSTILE and description.locator("img, b").count() == 0  # text, not HTML
    assert page.evaluate("document.body.dataset.pwned") is None
    versions = card.locator(".fmc-versions tr")
    assert versions.count() == 2 and f"run {lab['run']}" in versions.nth(1).inner_text()  # the run that made v2
    assert card.locator(".fmc-open-page").is_visible() and card.locator(".fmc-insert").is_visible()
    for dark in (False, True):
        set_theme(page, dark)
        shot(page, f"card-250-{'dark' if dark else 'light'}")
    set_theme(page, False)

    card.locator(".fmc-insert-kind").select_option("finetune")
    card.locator(".fmc-insert").click()
    page.wait_for_function("document.querySelectorAll('.jp-Notebook .jp-Cell').length === 2")
    cells = page.locator(".jp-Notebook .jp-Cell .cm-content").all_inner_texts()
    assert cells[0] == "print('my own code')"  # the user's cell is untouched
    assert "x = ...  # FILL IN" in cells[1] and 'fmc.finetune("xray-net:v2", x, y' in cells[1]
    assert "x_train" not in cells[1]
    assert "new cell" in card.locator(".fmc-status").inner_text()
    shot(page, "snippet-inserted-250")

    comments = card.locator(".fmc-comments")
    assert "Comments (0)" in comments.inner_text()
    comments.locator(".fmc-comment-add").click()  # nothing typed: the server says what is missing
    page.wait_for_selector(f"{PANEL} .fmc-comments .fmc-error:not(:empty)")
    assert "a comment needs some text" in comments.locator(".fmc-error").inner_text()
    comments.locator(".fmc-comment-input").fill(f"{HOSTILE} v2 beats v1 on night shots")
    comments.locator(".fmc-comment-add").click()
    page.wait_for_selector(f"{PANEL} .fmc-comments .fmc-comment")
    said = comments.locator(".fmc-comment")
    assert said.count() == 1 and said.locator(".fmc-comment-text").inner_text() == f"{HOSTILE} v2 beats v1 on night shots"
    assert said.locator("img, b").count() == 0 and page.evaluate("document.body.dataset.pwned") is None
    with Registry(lab["registry"], user="alice") as reg:
        assert list(reg.comments("xray-net:v2")["text"]) == [f"{HOSTILE} v2 beats v1 on night shots"]
    page.close()


def test_model_page_compares_runs_and_edits_what_you_own(lab):
    page = open_lab(lab)
    open_panel(page, 250)
    search(page, "xray-net")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    page.click(f"{ROWS}:has-text('xray-net:v1')")
    page.click(f"{PANEL} .fmc-card .fmc-open-page")
    view = page.locator(".fmc-main .fmc-model-page")
    page.wait_for_selector(".fmc-main .fmc-model-page .fmc-runs-table")
    assert view.locator(".fmc-title").inner_text() == "xray-net:v1"
    assert page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text().strip() == "xray-net:v1"
    runs = view.locator(".fmc-runs-table tbody tr")
    assert runs.count() == 2
    made = runs.filter(has_text=f"{lab['run']} (v1)")
    assert "→ v2" in made.inner_text() and made.locator("a.fmc-report-link").count() == 1
    href = made.locator("a.fmc-report-link").get_attribute("href")
    answer = page.request.get(href)
    assert answer.status == 200 and "Training run report" in answer.text()
    # both runs ticked: loss and accuracy charts, each with a train and a val line per run, axes and a legend
    charts = view.locator(".fmc-charts svg.fmc-chart")
    assert charts.count() == 2
    assert charts.nth(0).locator("polyline").count() == 4 and charts.nth(1).locator("polyline").count() == 4
    legend = [t.strip() for t in charts.nth(1).locator(".fmc-legend-item").all_text_contents()]
    assert f"run {lab['run']} train" in legend and f"run {lab['run2']} val" in legend
    ticks = charts.nth(1).locator(".fmc-chart-axes text").all_text_contents()
    assert "1" in ticks and "4" in ticks and "epoch" in ticks and "1.25" not in ticks  # integer epochs from 1
    runs.filter(has_text=f"{lab['run2']} (v1)").locator("input").uncheck()
    assert charts.nth(0).locator("polyline").count() == 2
    for dark in (False, True):
        set_theme(page, dark)
        shot(page, f"model-page-{'dark' if dark else 'light'}")
    set_theme(page, False)
    # the owner edits the description and tags
    view.locator(".fmc-edit-description").fill("A chest X-ray classifier.")
    view.locator(".fmc-edit-tags").fill("xray, medical")
    view.locator(".fmc-save").click()
    page.wait_for_function("document.querySelector('.fmc-main .fmc-status').textContent.includes('Saved')")
    # another process sees what was saved (the earlier tests' registry handles in this process and the server's
    # worker threads once dropped the server's SQLite locks, and a closing handle here deleted the WAL it wrote to)
    with Registry(lab["registry"], user="alice") as reg:
        record = reg.model("xray-net:v1")
        assert (record.description, record.tags) == ("A chest X-ray classifier.", "xray,medical")
        reg.update_model("xray-net:v1", description=HOSTILE)
    page.wait_for_function("document.querySelector('.fmc-main .fmc-edit-tags').value === 'xray,medical'")
    # the command opens a page too, without the panel
    page.evaluate(f"window.jupyterapp.commands.execute('fmc-jupyter:open-model', {{ref: {lab['v2']}}})")
    page.wait_for_selector(".fmc-main .fmc-model-page[data-ref='xray-net:v2'] .fmc-versions")
    page.close()


def test_diff_view_side_by_side_folded_without_tensorflow_in_the_server(lab):
    page = open_lab(lab)
    open_panel(page, 250)
    search(page, "xray-net")
    page.wait_for_function(f"document.querySelector('{PANEL} .fmc-summary').textContent.startsWith('2 ')")
    page.click(f"{ROWS}:has-text('xray-net:v2')")
    page.wait_for_selector(f"{PANEL} .fmc-card .fmc-pick")
    for box in page.locator(f"{PANEL} .fmc-card .fmc-pick").all():
        box.check()
    page.click(f"{PANEL} .fmc-card .fmc-compare")
    page.wait_for_selector(".fmc-main .fmc-diff-view .fmc-layer-diff", timeout=120_000)
    view = page.locator(".fmc-main .fmc-diff-view")
    assert view.locator(".fmc-diff-title").inner_text() == "xray-net:v1 → xray-net:v2"
    assert "head replaced: Dense(3) -> Dense(2)" in view.locator(".fmc-diff-summary").inner_text()
    meta = view.locator(".fmc-meta-diff")
    assert meta.locator("thead th").all_inner_texts()[1:] == ["xray-net:v1", "xray-net:v2"]  # side by side
    differing = meta.locator("tr.fmc-differs th").all_inner_texts()
    assert "ref" in differing and "id" in differing and "family" not in differing
    assert not meta.locator("tr.fmc-same").first.is_visible()  # identical fields folded away
    layers = view.locator(".fmc-layer-diff tbody tr")
    assert layers.filter(has_text="Dense").count() >= 1
    for dark in (False, True):
        set_theme(page, dark)
        shot(page, f"diff-view-{'dark' if dark else 'light'}")
    set_theme(page, False)
    maps = Path(f"/proc/{server_pid(lab)}/maps").read_text()
    assert "tensorflow" not in maps.lower() and "keras" not in maps.lower()  # the diff ran in a child process
    page.close()


def test_datasets_view_leaderboard_keyboard_palette_and_css_scope(lab):
    page = open_lab(lab)
    open_panel(page, 250)
    page.click(f"{PANEL} .fmc-tab:has-text('Datasets')")
    page.click(f"{PANEL} .fmc-dataset:has-text('chest-xrays')")
    page.wait_for_selector(f"{PANEL} .fmc-leaderboard")
    board = page.inner_text(f"{PANEL} .fmc-leaderboard")
    assert "xray-net:v2" in board and "80.0%" in board
    shot(page, "datasets-250")
    page.click(f"{PANEL} .fmc-leaderboard .fmc-link")
    page.wait_for_selector(".fmc-main .fmc-model-page[data-ref='xray-net:v2']")
    page.click(f"{PANEL} .fmc-tab:has-text('Models')")
    # keyboard: from the query box, Tab reaches the sort headers and then a row; Enter opens it
    page.focus(f"{PANEL} .fmc-query")
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.className"))
        if "fmc-result" in reached[-1]:
            break
    assert any("fmc-sort" in r for r in reached) and "fmc-result" in reached[-1], reached
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{PANEL} .fmc-card .fmc-title")
    # command palette entries
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("Find My CNN")
    items = page.locator(".lm-CommandPalette-item").all_inner_texts()
    assert any("Open the Model Panel" in i for i in items) and any("Datasets and Leaderboards" in i for i in items)
    page.keyboard.press("Escape")
    # the panel's CSS reaches no notebook output: the widget browser's table and the cards keep their looks
    page.evaluate("""() => {
        const out = document.createElement('div');
        out.className = 'jp-OutputArea-output';
        out.innerHTML = '<table class="fmc-table fmc-results"><tr><td>a</td><td>b</td></tr></table>' +
                        '<div class="fmc-card"><h3 id="probe-h3">card</h3></div><div class="fmc-row" id="probe-row"></div>';
        document.body.appendChild(out);
    }""")
    assert page.eval_on_selector(".jp-OutputArea-output table.fmc-table", "e => getComputedStyle(e).display") == "table"
    assert page.eval_on_selector("#probe-row", "e => getComputedStyle(e).display") == "block"
    unscoped = page.evaluate("""() => [...document.styleSheets].flatMap(s => { try { return [...s.cssRules]; }
        catch { return []; } }).flatMap(r => r.selectorText ? r.selectorText.split(',') : [])
        .map(s => s.trim()).filter(s => s.includes('.fmc-') && !/^(body\\[[^\\]]*\\] )?\\.fmc-lab\\b/.test(s))""")
    assert unscoped == []
    page.close()
