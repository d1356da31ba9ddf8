"""The side panel in a real browser: Debian Chromium (Playwright) against a real ``jupyter lab``.

Screenshots land in ``test-output/`` at the repository root.
"""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest

from fmc_jupyter.registry import Registry

from _keras_models import tiny_keras_model
from lab_server import REPO, chromium, jupyter_lab, missing_browser_parts

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              # pytest-jupyter's autouse cleanup (when test_server.py shares the session) finds no server here
              pytest.mark.filterwarnings("ignore:coroutine 'ServerApp._cleanup' was never awaited:RuntimeWarning")]

SHOTS = REPO / "test-output"
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><b>bold?</b>'


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
    """A running ``jupyter lab`` (user alice) on a registry with a versioned private model, a run and a ranking."""
    reason = missing_browser_parts()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("lab")
    registry = workdir / "registry.db"
    with Registry(registry, user="alice") as reg:
        facts = {"family": "mobilenet", "domain": "medical", "description": HOSTILE}
        v1 = reg.add_model(tiny_keras_model(workdir / "v1.keras", classes=3), "xray-net", top1=0.71, **facts).id
        v2 = reg.add_model(tiny_keras_model(workdir / "v2.keras", classes=2), "xray-net", top1=0.78, **facts).id
        run = reg.start_run(v1, optimizer="adam", learning_rate=1e-3, epochs=4)
        for epoch, acc in enumerate([0.52, 0.66, 0.74, 0.79]):
            reg.log_epoch(run, epoch, loss=1 - acc, accuracy=acc, val_accuracy=acc - 0.04)
        reg.finish_run(run, outcome="kept", result_model_id=v2)
        rng = np.random.default_rng(0)
        data = reg.add_dataset(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), np.array([0, 1, 0, 1]),
                               "chest-xrays", ["normal", "pneumonia"])
        reg.save_ranking(data, "logme", [{"model_id": v2, "rank": 1, "score": 1.25}])
    (workdir / "notebooks").mkdir()
    (workdir / "notebooks" / "demo.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                   "source": []}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    SHOTS.mkdir(exist_ok=True)
    with jupyter_lab(workdir, registry) as (url, token), chromium() as browser:
        yield {"url": url, "token": token, "browser": browser, "registry": registry}


def open_lab(lab, path: str = "lab"):
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}{path}?token={lab['token']}")
    wait_restored(page)
    return page


def wait_restored(page):
    page.wait_for_selector("#jp-main-dock-panel", state="attached")
    page.wait_for_function("window.jupyterapp !== undefined")
    page.evaluate("window.jupyterapp.restored.then(() => true)")


def open_panel(page):
    """Show the panel (a click on its tab toggles it, so only click when it is not already shown)."""
    if not page.locator("#fmc-jupyter-panel").is_visible():
        page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='fmc-jupyter-panel']")
    page.wait_for_selector("#fmc-jupyter-panel .fmc-result[data-model-id]")


def summary_count(page) -> int:
    return int(re.sub(r"\D", "", page.inner_text("#fmc-jupyter-panel .fmc-summary")))


def test_search_card_insert_code_and_dark_theme(lab):
    page = open_lab(lab, "lab/tree/demo.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
    open_panel(page)
    everything = summary_count(page)
    page.screenshot(path=str(SHOTS / "panel-1-open.png"))

    page.fill("#fmc-jupyter-panel .fmc-query", "family=mobilenet and domain=medical")
    page.press("#fmc-jupyter-panel .fmc-query", "Enter")
    page.wait_for_function("document.querySelector('#fmc-jupyter-panel .fmc-summary').textContent.startsWith('2 ')")
    assert summary_count(page) == 2 < everything
    names = page.locator("#fmc-jupyter-panel .fmc-result .fmc-cell:first-child").all_inner_texts()
    assert sorted(names) == ["xray-net:v1", "xray-net:v2"]
    page.screenshot(path=str(SHOTS / "panel-2-search.png"))

    page.click("#fmc-jupyter-panel .fmc-result:has-text('xray-net:v2')")
    page.wait_for_selector("#fmc-jupyter-panel .fmc-card h3")
    card = page.locator("#fmc-jupyter-panel .fmc-card")
    assert "xray-net:v2" in card.locator("h3").inner_text()
    description = card.locator(".fmc-description")
    assert description.inner_text() == HOSTILE and description.locator("img, b").count() == 0  # text, not HTML
    assert page.evaluate("document.body.dataset.pwned") is None
    assert card.locator(".fmc-versions tr").count() == 2
    assert card.locator(".fmc-run .fmc-chart polyline").count() == 2  # accuracy and val_accuracy
    assert "chest-xrays" in card.locator(".fmc-rankings").inner_text()
    for box in card.locator(".fmc-pick").all():
        box.check()
    card.locator(".fmc-compare").click()
    page.wait_for_selector("#fmc-jupyter-panel .fmc-diff > *:not(.fmc-muted)")
    assert "head replaced: Dense(3) -> Dense(2)" in card.locator(".fmc-diff").inner_text()
    page.screenshot(path=str(SHOTS / "panel-3-card.png"))

    card.locator(".fmc-insert-kind").select_option("show")
    card.locator(".fmc-insert").click()
    page.wait_for_function(
        "document.querySelector('.jp-Notebook .jp-Cell .cm-content').textContent.includes('%findcnn show')")
    cell = page.inner_text(".jp-Notebook .jp-Cell .cm-content")
    assert "%load_ext fmc_jupyter" in cell and '%findcnn show "xray-net:v2"' in cell
    assert "Inserted" in card.locator(".fmc-status").inner_text()
    page.screenshot(path=str(SHOTS / "panel-4-inserted.png"))

    comments = card.locator(".fmc-comments")
    assert "Comments (0)" in comments.inner_text() and "No comments yet." in comments.inner_text()
    comments.locator(".fmc-comment-add").click()  # nothing typed: the server says what is missing
    page.wait_for_selector("#fmc-jupyter-panel .fmc-comments .fmc-error:not(:empty)")
    assert "a comment needs some text" in comments.locator(".fmc-error").inner_text()
    comments.locator(".fmc-comment-input").fill(f"{HOSTILE} v2 beats v1 on night shots")
    comments.locator(".fmc-comment-add").click()
    page.wait_for_selector("#fmc-jupyter-panel .fmc-comments .fmc-comment")
    said = comments.locator(".fmc-comment")
    assert said.count() == 1 and "Comments (1)" in comments.inner_text()
    assert said.locator(".fmc-comment-text").inner_text() == f"{HOSTILE} v2 beats v1 on night shots"
    assert said.locator("img, b").count() == 0  # text, not HTML
    assert page.evaluate("document.body.dataset.pwned") is None
    assert said.locator(".fmc-comment-meta").inner_text().startswith("alice · 20")
    assert comments.locator(".fmc-comment-input").input_value() == ""
    assert comments.locator(".fmc-error").inner_text() == ""
    with Registry(lab["registry"], user="alice") as reg:
        assert list(reg.comments("xray-net:v2")["text"]) == [f"{HOSTILE} v2 beats v1 on night shots"]
    comments.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "panel-7-comments.png"))

    page.wait_for_timeout(1500)  # the layout is saved to the workspace shortly after it changes
    page.reload()
    wait_restored(page)
    assert page.locator("#fmc-jupyter-panel").is_visible()  # ILayoutRestorer brought the panel back
    page.wait_for_selector("#fmc-jupyter-panel .fmc-result[data-model-id]")

    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
    page.wait_for_timeout(500)
    background = page.evaluate("getComputedStyle(document.getElementById('fmc-jupyter-panel')).backgroundColor")
    rgb = [int(v) for v in re.findall(r"\d+", background)[:3]]
    assert sum(rgb) < 3 * 100, background  # the panel follows --jp-layout-color1 into the dark theme
    page.screenshot(path=str(SHOTS / "panel-5-dark.png"))
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.close()


def test_bad_query_hints_and_refresh_on_registry_change(lab):
    page = open_lab(lab)
    open_panel(page)
    before = summary_count(page)
    query = page.locator("#fmc-jupyter-panel .fmc-query")
    query.fill("params<5M and tpoo1 > 70%")  # an unknown field
    query.press("Enter")
    page.wait_for_selector("#fmc-jupyter-panel .fmc-query-error .fmc-caret")
    error = page.inner_text("#fmc-jupyter-panel .fmc-query-error")
    assert "unknown field 'tpoo1'" in error
    caret = page.inner_text("#fmc-jupyter-panel .fmc-caret").splitlines()
    assert caret[1].index("^") == caret[0].index("tpoo1")  # the caret sits under the bad field
    query.fill("to")
    query.dispatch_event("input")
    chips = page.locator("#fmc-jupyter-panel .fmc-hints .fmc-chip").all_inner_texts()
    assert {"top1", "top5"} <= set(chips)
    page.screenshot(path=str(SHOTS / "panel-6-query-error.png"))

    query.fill("")
    query.press("Enter")
    page.wait_for_function(
        f"document.querySelector('#fmc-jupyter-panel .fmc-summary').textContent.startsWith('{before} ')")
    with Registry(lab["registry"], user="alice") as reg:  # another kernel writes to the registry
        reg.insert_models([{"name": "fresh-net", "version": 1, "source_kind": "keras_file", "visibility": "public"}])
    page.wait_for_function(
        f"document.querySelector('#fmc-jupyter-panel .fmc-summary').textContent.startsWith('{before + 1} ')",
        timeout=30_000)
    page.close()
