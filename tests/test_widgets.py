"""The ipywidgets model browser: set widget values, click buttons, check results and the registry."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from fmc_jupyter.widgets import ANY, ModelBrowser, compose_query, ui


@pytest.fixture
def ipython():
    """An IPython shell, as in a kernel, for one test; afterwards no IPython and the real ``__main__`` again."""
    from IPython.core.interactiveshell import InteractiveShell

    main_module, existed = sys.modules["__main__"], InteractiveShell.initialized()
    yield InteractiveShell.instance()
    if not existed:
        InteractiveShell.clear_instance()
    sys.modules["__main__"] = main_module


@pytest.fixture
def browser(tmp_registry) -> ModelBrowser:
    return ui(tmp_registry, namespace={})


def test_compose_query_builds_the_query_language():
    assert compose_query() == ""
    assert compose_query("mobilenet or resnet", max_params_m=5, min_top1=70) == \
        "(mobilenet or resnet) and params<=5M and top1>=70%"
    assert compose_query(max_size_mb=12.5, input_size=224, domain="natural", family="efficientnetv2") == \
        'size<=12.5MB and input=224px and domain="natural" and family="efficientnetv2"'


def test_filters_update_the_results_table(browser, tmp_registry):
    everything = len(browser.results)
    assert everything == min(50, tmp_registry.count(""))
    browser.max_params.value = 5.0
    browser.min_top1.value = 70
    assert browser.query_text == "params<=5M and top1>=70%"
    pd.testing.assert_frame_equal(browser.results, tmp_registry.search(browser.query_text, order_by="-top1", limit=50))
    assert len(browser.results) > 0
    assert (browser.results["params"] <= 5e6).all() and (browser.results["top1"] >= 0.70).all()
    browser.family.value = "mobilenetv3"
    browser.input_size.value = 224
    assert set(browser.results["family"]) == {"mobilenetv3"} and set(browser.results["input_size"]) == {224}
    assert "MobileNetV3Large" in browser.table.value
    browser.max_size.value = 1.5  # no MobileNetV3 is that small
    assert len(browser.results) == 0 and "no rows" in browser.table.value
    assert browser.model.value is None and browser.selected is None


def test_query_box_combines_with_filters_and_reports_errors(browser):
    browser.domain.value = "natural"
    browser.query.value = "family=vgg or family=resnet"
    assert browser.query_text == '(family=vgg or family=resnet) and domain="natural"'
    good = browser.results.copy()
    assert set(good["family"]) == {"vgg", "resnet"}
    browser.query.value = "family=vgg and top9>1"
    assert "unknown field &#x27;top9&#x27;" in browser.status.value
    pd.testing.assert_frame_equal(browser.results, good)  # the last good results stay on screen, marked so
    assert "last valid query" in browser.status.value


def test_results_are_clickable_rows_with_humanised_numbers(browser, tmp_registry):
    browser.query.value = "name=MobileNetV2"
    record = tmp_registry.model("MobileNetV2")
    (label, value), = browser.model.options
    assert value == record.id and label.startswith("MobileNetV2:v1 · 3.5M params · ") and "top-1 71.3%" in label
    assert "3504872" not in browser.table.value and "3.5M" in browser.table.value
    assert "fmc-widget-table" in browser.table.value and "fmc-table" not in browser.table.value.replace("fmc-widget-table", "")
    browser.query.value = "family=vgg"
    browser.model.value = browser.model.options[1][1]  # a click on the second row shows its card
    assert browser.selected.id == browser.model.options[1][1]


def test_an_action_in_progress_disables_the_buttons_and_says_so(browser):
    browser.finetune_button.disabled = False
    with browser._busy("ranking 3 model(s) on x / y…"):
        assert browser.rank_button.disabled and browser.finetune_button.disabled and browser.refresh_button.disabled
        assert "ranking 3 model(s)" in browser.status.value
    assert not browser.rank_button.disabled and not browser.finetune_button.disabled


def test_model_card_shows_metadata_versions_and_runs(browser, tmp_registry):
    run_id = tmp_registry.start_run("MobileNet_0.25_224", optimizer="adam", epochs=1)
    tmp_registry.finish_run(run_id)
    browser.query.value = "name=MobileNet_0.25_224"
    record = tmp_registry.model("MobileNet_0.25_224")
    assert browser.model.value == record.id and browser.selected.id == record.id
    card = browser.card.value
    assert "MobileNet_0.25_224:v1" in card and "versions" in card and "training runs" in card
    assert f"<td>{run_id}</td>" in card
    browser.query.value = "family=vgg"
    assert browser.selected.family == "vgg" and "VGG" in browser.card.value


def test_model_card_shows_comments_escaped_and_the_comment_box_adds_one(browser, tmp_registry):
    tmp_registry.add_comment("MobileNet_0.25_224", "<script>alert(1)</script> tiny & fast")
    browser.query.value = "name=MobileNet_0.25_224"
    card = browser.card.value
    assert "comments (1)" in card and "&lt;script&gt;alert(1)&lt;/script&gt; tiny &amp; fast" in card
    assert "<script>" not in card and "<td>alice</td>" in card
    browser.comment_text.value = "   "
    browser.comment_button.click()
    assert "a comment needs some text" in browser.status.value and "comments (1)" in browser.card.value
    browser.comment_text.value = "worth fine-tuning"
    browser.comment_button.click()
    assert browser.comment_text.value == "" and "commented on MobileNet_0.25_224:v1" in browser.status.value
    assert "comments (2)" in browser.card.value and "worth fine-tuning" in browser.card.value
    assert list(tmp_registry.comments("MobileNet_0.25_224")["text"])[-1] == "worth fine-tuning"
    browser.max_size.value = 1.0  # nothing chosen: the box says what to do
    browser.comment_text.value = "lost?"
    assert browser.selected is None and browser.comment_selected() is None
    assert "choose a model" in browser.status.value


def test_variables_are_offered_and_missing_ones_reported(tmp_registry):
    namespace = {"x_train": np.zeros((4, 8, 8, 3)), "y_train": np.arange(4), "note": "text", "_hidden": np.ones(2)}
    browser = ui(tmp_registry, namespace=namespace)
    assert list(browser.x_var.options) == ["x_train", "y_train"]
    assert (browser.x_var.value, browser.y_var.value) == ("x_train", "y_train")
    namespace["labels"] = np.arange(4)
    browser.refresh_button.click()
    assert "labels" in browser.y_var.options and browser.y_var.value == "y_train"

    empty = ui(tmp_registry, namespace={})
    empty.rank_button.click()
    assert "choose the notebook variables" in empty.status.value and empty.ranking is None


def test_ui_opens_the_default_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("FMC_REGISTRY", str(tmp_path / "default.db"))
    browser = ui(query="family=xception and source=keras_application", namespace={})
    assert browser.registry.path == (tmp_path / "default.db").resolve()
    assert "Xception" in list(browser.results["name"]) and set(browser.results["family"]) == {"xception"}
    assert browser.input_size.options[0] == ANY
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def sign_digits(shared_data, per_class: int, seed: int = 0):
    """A small stratified slice of the real Sign Language Digits images (100x100 RGB, 10 classes)."""
    from fmc_jupyter.arrays import stratified_indices

    with np.load(shared_data / "datasets" / "sign_digits.npz") as npz:
        images, labels = npz["x"], npz["y"]
    pick = stratified_indices(labels, per_class, seed=seed)
    return images[pick], labels[pick]


@pytest.mark.slow
def test_finetune_button_plots_each_epoch_and_keep_stores_a_version(tmp_registry, shared_data):
    x, y = sign_digits(shared_data, 6)
    browser = ui(tmp_registry, query="name=MobileNet_0.25_224", namespace={"x": x, "y": y})
    browser.epochs.value = 2
    assert browser.keep_button.disabled
    browser.finetune_button.click()
    run = browser.training_run
    assert run is not None and len(run.history) == 2
    assert browser.plot.value.startswith("<img") and "base64" in browser.plot.value
    stored = tmp_registry.run(run.run_id)
    assert stored.status == "finished" and len(stored.history) == 2
    assert f"<td>{run.run_id}</td>" in browser.card.value  # the card lists the new run
    browser.keep_button.click()
    kept = tmp_registry.model("MobileNet_0.25_224")
    assert kept.version == 2 and kept.owner == "alice" and kept.run_id == run.run_id
    assert tmp_registry.run(run.run_id).outcome == "kept"
    assert "kept as MobileNet_0.25_224:v2" in browser.status.value
    assert browser.keep_button.disabled
    browser.keep_button.click()  # no second outcome: the button is off, and decide() refuses too
    assert browser.decide("discard") is None and "already kept" in browser.status.value


def test_finetune_without_a_model_says_so(tmp_registry):
    browser = ui(tmp_registry, query="name=NoSuchModel", namespace={"x": np.zeros((4, 8, 8, 3)), "y": np.arange(4)})
    browser.finetune_button.click()
    assert "choose a model" in browser.status.value and browser.training_run is None


@pytest.mark.slow
def test_rank_button_ranks_the_listed_models_on_the_chosen_variables(tmp_registry, shared_data, ipython):
    # as in a kernel (see the ipython fixture): the Output widget then swallows exceptions raised inside it
    tflite = tmp_registry.add_model(shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                                    name="mnv1-quant", family="mobilenet")
    x, y = sign_digits(shared_data, 4)
    namespace = {"images": x, "labels": y, "other": np.zeros(3)}
    browser = ui(tmp_registry, query="name=MobileNet_0.25_224 or name=mnv1-quant", namespace=namespace)
    assert (browser.x_var.value, browser.y_var.value) == ("images", "labels")
    seen = []
    browser.rank_button.observe(lambda change: seen.append((change["new"], browser.status.value)), names="disabled")
    browser.rank_button.click()
    assert seen[0][0] is True and "ranking 2 model(s) on images / labels" in seen[0][1]  # feedback while it runs
    assert seen[-1][0] is False
    ranking = browser.ranking
    assert ranking is not None and "ranked 2 model(s) on images / labels" in browser.status.value
    assert set(ranking["model_id"]) == {tflite.id, tmp_registry.model("MobileNet_0.25_224").id}
    assert set(tmp_registry.rankings()["ranking_id"]) == {ranking.ranking_id}
    # wrong variables: the library's message, shown in the status line
    browser.y_var.value = "other"
    browser.rank_button.click()
    assert "x has 40 images but y has 3 labels" in browser.status.value and browser.ranking is ranking
