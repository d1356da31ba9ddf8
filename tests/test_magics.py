"""``%findcnn`` / ``%%findcnn`` in a real IPython InteractiveShell, against a real registry file."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from _ipython import load_magics
from fmc_jupyter.magics import FindCnnMagics, split_line
from fmc_jupyter.records import DatasetRecord, ModelRecord, RunRecord
from fmc_jupyter.widgets import ModelBrowser


@pytest.fixture
def shell(ipython, tmp_registry):
    """The shell with a fresh namespace, the extension loaded, its magics pointed at ``tmp_registry``."""
    yield load_magics(ipython, tmp_registry)
    ipython.reset(new_session=False)


def findcnn(sh, line, cell=None):
    if cell is None:
        return sh.run_line_magic("findcnn", line)
    return sh.run_cell_magic("findcnn", line, cell)


@pytest.fixture
def own_model(tmp_registry) -> int:
    """A private model row owned by alice (bulk-inserted: no file needed for visibility changes)."""
    (model_id,) = tmp_registry.insert_models([{"name": "alices-net", "version": 1, "source_kind": "keras_file",
                                               "family": "mobilenet", "params": 123456, "visibility": "private"}])
    return model_id


def test_load_extension_registers_line_and_cell_magics(shell):
    magics = shell.magics_manager.magics
    assert "findcnn" in magics["line"] and "findcnn" in magics["cell"]
    assert isinstance(shell.magics_manager.registry["FindCnnMagics"], FindCnnMagics)


def test_search_returns_the_registry_result_and_o_stores_it(shell, tmp_registry):
    result = findcnn(shell, "search family=mobilenet and params<2M --limit 5 -o hits")
    expected = tmp_registry.search("family=mobilenet and params<2M", order_by="-top1", limit=5)
    assert isinstance(result, pd.DataFrame)
    pd.testing.assert_frame_equal(result, expected)
    assert shell.user_ns["hits"] is result
    assert list(result["top1"]) == sorted(result["top1"], reverse=True)


def test_search_order_with_a_dash_value_and_ascending(shell):
    down = findcnn(shell, "search family=resnet --order -params --limit 0")
    up = findcnn(shell, "search family=resnet --order params --limit 0")
    assert len(down) == len(up) > 3
    assert list(down["params"]) == sorted(down["params"], reverse=True)
    assert list(up["params"]) == sorted(up["params"])


def test_quoted_phrase_survives_tokenising(shell, tmp_registry):
    result = findcnn(shell, 'search description~"alpha=0.25" --limit 0')
    assert len(result) and all("alpha=0.25" in d for d in result["description"])
    assert split_line('a~"b c" --order -top1', ("--order",)) == ['a~"b c"', "--order=-top1"]


def test_cell_magic_takes_the_long_query_from_the_body(shell, tmp_registry):
    body = "domain=natural\n  and (family=mobilenet or family=efficientnet)\n  and top1 >= 70%\n"
    result = findcnn(shell, "search --limit 0 -o long", body)
    expected = tmp_registry.search(body, order_by="-top1", limit=None)
    pd.testing.assert_frame_equal(result, expected)
    assert set(result["family"]) <= {"mobilenet", "efficientnet"} and (result["top1"] >= 0.70).all()
    assert len(result) > 0 and shell.user_ns["long"] is result


def test_quotes_and_comments_as_the_panel_writes_them(shell, tmp_registry):
    plain = findcnn(shell, "search family=vgg --limit 0")
    pd.testing.assert_frame_equal(findcnn(shell, 'search "family=vgg" --limit 0'), plain)
    pd.testing.assert_frame_equal(findcnn(shell, "search family=vgg --limit 0   # the VGGs"), plain)
    pd.testing.assert_frame_equal(findcnn(shell, "search --limit 0", "# the VGGs\nfamily=vgg\n"), plain)
    assert findcnn(shell, 'show "MobileNetV2:v1"').name == "MobileNetV2"
    assert len(findcnn(shell, 'runs "MobileNetV2"')) == 0
    assert findcnn(shell, 'search name~"a # b"').empty  # a "#" inside quotes is text


def test_show_by_name_version_and_id(shell, tmp_registry):
    card = findcnn(shell, "show MobileNetV2")
    assert isinstance(card, ModelRecord) and card.name == "MobileNetV2"
    assert findcnn(shell, "show MobileNetV2:v1").id == card.id
    assert findcnn(shell, f"show {card.id} -o card").name == "MobileNetV2"
    assert shell.user_ns["card"].id == card.id
    assert "MobileNetV2:v1" in card._repr_html_()


def test_comment_adds_a_comment_that_show_displays_escaped(shell, tmp_registry, own_model):
    comments = findcnn(shell, "comment alices-net:v1 <b>v1</b> is biased & slow")
    assert isinstance(comments, pd.DataFrame)
    assert list(comments[["author", "text"]].itertuples(index=False, name=None)) == [
        ("alice", "<b>v1</b> is biased & slow")]
    findcnn(shell, "comment alices-net \"it's fine\" -o after")
    long = findcnn(shell, "comment alices-net", "# not part of it\ntwo\nlines\n")
    assert list(long["text"]) == ["<b>v1</b> is biased & slow", "it's fine", "two\nlines"]
    assert list(shell.user_ns["after"]["text"]) == ["<b>v1</b> is biased & slow", "it's fine"]
    assert list(tmp_registry.comments(own_model)["text"]) == list(long["text"])

    card = findcnn(shell, f"show {own_model}")
    assert isinstance(card, ModelRecord) and card.id == own_model and len(card.comments) == 3
    page = card._repr_html_()
    assert "&lt;b&gt;v1&lt;/b&gt; is biased &amp; slow" in page and "<b>v1</b>" not in page
    assert "alices-net:v1" in page and "comments (3)" in page and "it&#x27;s fine" in page
    assert "alice (" in repr(card) and "it's fine" in repr(card)
    assert "no comments yet" in findcnn(shell, "show MobileNetV2")._repr_html_()


@pytest.mark.parametrize("line, message", [
    ("comment MobileNetV2", "the following arguments are required: text"),
    ('comment MobileNetV2 "   "', "a comment needs some text"),
    ("comment MobileNetV9 hello", "Did you mean 'MobileNetV2'"),
])
def test_comment_errors_are_usage_errors_and_store_nothing(shell, tmp_registry, line, message):
    with pytest.raises(UsageError) as info:
        findcnn(shell, line)
    assert message in str(info.value)
    assert tmp_registry.comments("MobileNetV2").empty


def test_runs_lists_and_shows_runs(shell, tmp_registry):
    run_id = tmp_registry.start_run("MobileNet_0.25_224", optimizer="adam", learning_rate=1e-3, epochs=1)
    tmp_registry.log_epoch(run_id, 1, loss=0.9, accuracy=0.5, val_accuracy=0.4)
    tmp_registry.finish_run(run_id)
    table = findcnn(shell, "runs MobileNet_0.25_224")
    assert list(table["id"]) == [run_id] and table.iloc[0]["status"] == "finished"
    assert len(findcnn(shell, "runs MobileNetV2")) == 0
    run = findcnn(shell, f"runs --id {run_id}")
    assert isinstance(run, RunRecord) and run.history[0]["val_accuracy"] == pytest.approx(0.4)


def test_dataset_add_and_datasets(shell, tmp_registry):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (12, 8, 8, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 4)
    shell.user_ns.update(x=x, y=y, names=["a", "b", "c"])
    before = x.copy()
    record = findcnn(shell, "dataset add x y --name tiny --class-names names -o ds")
    assert isinstance(record, DatasetRecord) and record.name == "tiny" and record.class_names == ["a", "b", "c"]
    assert shell.user_ns["ds"] is record
    np.testing.assert_array_equal(x, before)
    loaded = tmp_registry.load_dataset("tiny")
    np.testing.assert_array_equal(loaded.x, x)
    # an expression over notebook variables is a valid <x>/<y>
    sub = findcnn(shell, "dataset add x[:6] y[:6] --name 'tiny head'")
    assert sub.num_examples == 6 and sub.name == "tiny head"
    assert list(findcnn(shell, "datasets")["name"]) == ["tiny", "tiny head"]


def test_publish_and_unpublish_change_visibility(shell, tmp_registry, bob_registry, own_model):
    assert bob_registry.count("name=alices-net") == 0
    published = findcnn(shell, "publish alices-net")
    assert published.visibility == "public" and bob_registry.count("name=alices-net") == 1
    assert findcnn(shell, f"unpublish {own_model}").visibility == "private"
    assert tmp_registry.model(own_model).visibility == "private" and bob_registry.count("name=alices-net") == 0


def test_ui_subcommand_returns_the_browser(shell):
    browser = findcnn(shell, "ui family=vgg")
    assert isinstance(browser, ModelBrowser)
    assert set(browser.results["family"]) == {"vgg"}


@pytest.mark.parametrize("line, message", [
    ("search top9>3", "unknown field 'top9'"),
    ("search params<<5M", "params"),
    ("show MobileNetV9", "Did you mean 'MobileNetV2'"),
    ("show", "the following arguments are required: model"),
    ("frobnicate", "unknown subcommand 'frobnicate'"),
    ("serch family=vgg", "Did you mean search"),
    ("search --limit many", "not a whole number"),
    ("search --bogus 3", "unrecognized arguments: --bogus"),
    ("dataset add nope y --name z", "no variable 'nope'"),
    ("dataset add x[::0] x --name z", "cannot evaluate 'x[::0]'"),
    ("dataset remove x y --name z", "invalid choice: 'remove'"),
    ("dataset add x y", "--name"),
    ("publish MobileNet", "belongs to catalog"),
    ("runs --id 999", "no training run 999"),
    ("search family=vgg -o 1bad", "-o needs a variable name"),
    ('search name~"open', "no closing quotation"),
])
def test_user_errors_are_one_usage_error(shell, line, message):
    shell.user_ns["x"] = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(UsageError) as info:
        findcnn(shell, line)
    assert message in str(info.value)
    assert "Traceback" not in str(info.value)


def test_errors_in_a_cell_print_one_line_and_no_traceback(shell, capsys):
    result = shell.run_cell("%findcnn show MobileNetV9")
    captured = capsys.readouterr()
    assert isinstance(result.error_in_exec, UsageError)
    text = captured.out + captured.err
    assert "UsageError: no model 'MobileNetV9'" in text
    assert "Traceback" not in text and "File " not in text
    # argparse problems do not raise SystemExit (which would stop the kernel's cell silently)
    result = shell.run_cell("%findcnn search --limit")
    assert isinstance(result.error_in_exec, UsageError)


def test_help_prints_real_help_and_returns_nothing(shell, capsys):
    shell.run_cell("%findcnn?")
    overview = capsys.readouterr().out
    for sub in ("search", "show", "comment", "rank", "finetune", "runs", "evaluate", "diff", "datasets", "dataset", "publish",
                "unpublish", "registry", "auto", "ui"):
        assert f"%findcnn {sub}" in overview
    assert findcnn(shell, "search --help") is None
    search_help = capsys.readouterr().out
    assert "usage: findcnn search" in search_help and "--order" in search_help and "top1" in search_help
    assert findcnn(shell, "") is None
    assert "Subcommands:" in capsys.readouterr().out


def test_registry_subcommand_shows_and_switches_the_registry(shell, tmp_registry, tmp_path):
    from fmc_jupyter.registry import Registry

    assert findcnn(shell, "registry") is tmp_registry
    other = findcnn(shell, f"registry {tmp_path / 'other' / 'registry.db'} -o other")
    assert isinstance(other, Registry) and other.path == (tmp_path / "other" / "registry.db").resolve()
    assert findcnn(shell, "registry") is other and shell.user_ns["other"] is other
    shell.user_ns["mine"] = tmp_registry
    assert findcnn(shell, "registry mine") is tmp_registry
    assert findcnn(shell, "show MobileNetV2").id == tmp_registry.model("MobileNetV2").id
    with pytest.raises(UsageError, match="cannot tell where the registry service is"):
        findcnn(shell, "registry hub")


def test_default_registry_follows_fmc_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("FMC_REGISTRY", str(tmp_path / "a" / "registry.db"))
    magics = FindCnnMagics(shell=None)
    assert magics.registry.path == (tmp_path / "a" / "registry.db").resolve()
    monkeypatch.setenv("FMC_REGISTRY", str(tmp_path / "b" / "registry.db"))
    assert magics.registry.path == (tmp_path / "b" / "registry.db").resolve()


def sign_digits(shared_data, per_class: int, seed: int = 0):
    """A small stratified slice of the real Sign Language Digits images (100x100 RGB, 10 classes)."""
    from fmc_jupyter.arrays import stratified_indices

    with np.load(shared_data / "datasets" / "sign_digits.npz") as npz:
        images, labels = npz["x"], npz["y"]
    pick = stratified_indices(labels, per_class, seed=seed)
    return images[pick], labels[pick]


@pytest.mark.slow
def test_finetune_records_a_run_and_o_stores_it(shell, tmp_registry, shared_data):
    from fmc_jupyter.finetuning import TrainingRun

    x, y = sign_digits(shared_data, 6)
    shell.user_ns.update(x=x, y=y)
    signs = findcnn(shell, "dataset add x y --name signs")
    run = findcnn(shell, "finetune MobileNet_0.25_224 x y --epochs 2 --lr 0.003 --batch-size 16 --checkpoints 1 -o run")
    assert isinstance(run, TrainingRun) and shell.user_ns["run"] is run
    assert len(run.history) == 2
    assert [c.ref for c in run.checkpoints] == ["MobileNet_0.25_224:v2"]  # stored after epoch 1
    stored = tmp_registry.run(run.run_id)
    assert stored.status == "finished" and stored.epochs == 2 and stored.learning_rate == pytest.approx(0.003)
    assert [e["epoch"] for e in stored.history] == [0, 1]
    assert stored.dataset_id == signs.id  # the same images are the same dataset
    # a registry dataset by name stands for x and y
    # (quoted model and trailing comment: the line the JupyterLab panel's "insert code" writes)
    again = findcnn(shell, 'finetune "MobileNet_0.25_224:v1" signs --epochs 1 --unfreeze 0   # signs: a dataset')
    assert tmp_registry.run(again.run_id).dataset_id == signs.id and len(again.history) == 1
    # keep it and diff it against its base
    shell.user_ns["kept"] = again.keep()
    change = findcnn(shell, "diff MobileNet_0.25_224:v1 kept -o change")
    assert type(change).__name__ == "ModelDiff" and shell.user_ns["change"] is change
    assert change.a == "MobileNet_0.25_224:v1" and change.b == "MobileNet_0.25_224:v3" and not change.identical
    assert "head added" in change.summary
    # evaluate the kept version; the evaluation joins the dataset's leaderboard
    evaluation = findcnn(shell, "evaluate kept signs -o evaluation")
    assert type(evaluation).__name__ == "Evaluation" and shell.user_ns["evaluation"] is evaluation
    assert evaluation.model.id == shell.user_ns["kept"].id and 0 <= evaluation.accuracy <= 1
    board = tmp_registry.leaderboard("signs")
    assert list(board["model_id"]) == [shell.user_ns["kept"].id]
    assert board.iloc[0]["accuracy"] == pytest.approx(evaluation.accuracy)


@pytest.mark.parametrize("line, message", [
    ("diff NoSuchNet MobileNetV2", "no model 'NoSuchNet'"),
    ("diff MobileNetV2", "the following arguments are required: b"),
    ("diff MobileNetV2 MobileNet --mode fast", "invalid choice: 'fast'"),
    ("diff MobileNetV2 MobileNet --tolerance -1", "tolerance must be a number >= 0"),
])
def test_diff_user_errors(shell, line, message):
    with pytest.raises(UsageError, match=message):
        findcnn(shell, line)


@pytest.mark.slow
def test_rank_scores_candidates_and_stores_the_ranking(shell, tmp_registry, shared_data):
    from fmc_jupyter.ranking import Ranking

    tflite = tmp_registry.add_model(shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                                    name="mnv1-quant", family="mobilenet")
    x, y = sign_digits(shared_data, 5)
    shell.user_ns.update(x=x, y=y)
    ranking = findcnn(shell, 'rank x y --models "name=MobileNet_0.25_224 or name=mnv1-quant" --per-class 4 '
                             "--methods logme,knn -o ranking")
    assert isinstance(ranking, Ranking) and shell.user_ns["ranking"] is ranking
    assert set(ranking["model_id"]) == {tflite.id, tmp_registry.model("MobileNet_0.25_224").id}
    assert ranking["error"].isna().all() and ranking.methods == ("logme", "knn")
    stored = tmp_registry.rankings()
    assert set(stored["ranking_id"]) == {ranking.ranking_id} and set(stored["per_class"]) == {4}
    # the cell body is the --models query; a registry dataset name stands for x and y
    findcnn(shell, "dataset add x y --name signs")
    again = findcnn(shell, "rank signs --per-class 4 --methods knn --models", "name=mnv1-quant\n")
    assert list(again["model_id"]) == [tflite.id] and (again.num_examples, again.num_classes) == (40, 10)


@pytest.mark.slow
def test_rank_with_a_budget_shows_each_models_stage(shell, tmp_registry, shared_data, capsys):
    """``%findcnn rank ... --budget`` shows the same per-model stage progress as ``fmc.rank(..., budget=...)``
    (outside a kernel: a text bar and, after each rung, the models grouped by stage)."""
    tflite = tmp_registry.add_model(shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                                    name="mnv1-quant", family="mobilenet")
    x, y = sign_digits(shared_data, 10)
    shell.user_ns.update(x=x, y=y)
    capsys.readouterr()
    ranking = findcnn(shell, 'rank x y --models "name=MobileNet_0.25_224 or name=mnv1-quant" --per-class 10 '
                             "--methods knn --budget 1h")
    err = " ".join(capsys.readouterr().err.replace("\r", "\n").split())
    rows = ranking.table.set_index("model_id")
    best, other = (int(i) for i in ranking.table["model_id"])
    assert list(ranking.table["stage"]) == ["10/class", "5/class"] and ranking.rungs == (5, 10)
    assert list(ranking.table["images_used"]) == [50 + 100, 50]
    refs = {tflite.id: tflite.ref, tmp_registry.model("MobileNet_0.25_224").id: "MobileNet_0.25_224:v1"}
    assert set(rows.index) == set(refs)
    assert "5/class: 2 model(s) in" in err and "10/class: 1 model(s) in" in err
    assert f"5/class ✓ kept: {refs[best]}" in err and f"stopped at 5/class (dropped by halving): {refs[other]}" in err
    assert f"10/class ✓ done: {refs[best]}" in err and "3/3" in err


@pytest.mark.slow
def test_auto_ranks_tries_and_fine_tunes_the_winner(shell, tmp_registry, shared_data):
    tflite = tmp_registry.add_model(shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                                    name="mnv1-quant", family="mobilenet")
    x, y = sign_digits(shared_data, 5)
    shell.user_ns.update(x=x, y=y)
    result = findcnn(shell, "auto x y --models name=MobileNet_0.25_224 or name=mnv1-quant --per-class 4 --k 2 "
                            "--trial-epochs 1 --epochs 2 -o result")
    assert shell.user_ns["result"] is result
    assert result.winner.name == "MobileNet_0.25_224" and len(result.run.history) == 2
    trials = result.trials.set_index("model_id")
    assert "only Keras" in trials.loc[tflite.id, "error"]  # TFLite files are ranked, not trained
    runs = tmp_registry.runs()
    assert set(runs["kind"]) == {"trial", "finetune"}
    assert runs.set_index("id").loc[result.run.run_id, "status"] == "finished"
    with pytest.raises(UsageError, match="k must be a whole number in \\[1, 1000\\]"):
        findcnn(shell, "auto x y --k 0")


@pytest.mark.parametrize("line, message", [
    ("rank x y --per-class 1", "per_class must be a whole number >= 2"),
    ("rank x y --methods bogus", "bogus"),
    ("rank x y --models name=NoSuchNet", "no model you can see matches"),
    ("rank x", "'x' holds a ndarray"),
    ("rank x y --per-class many", "'many' is not a whole number"),
    ("evaluate NoSuchNet x y", "no model 'NoSuchNet'"),
    ("evaluate MobileNetV2 x", "'x' holds a ndarray"),
])
def test_rank_and_evaluate_user_errors(shell, line, message):
    shell.user_ns.update(x=np.zeros((8, 32, 32, 3), dtype=np.uint8), y=np.repeat([0, 1], 4))
    with pytest.raises(UsageError, match=message):
        findcnn(shell, line)


@pytest.mark.parametrize("line, message", [
    ("finetune NoSuchNet x y", "no model 'NoSuchNet'"),
    ("finetune MobileNet_0.25_224 x y --epochs 0", "epochs must be a whole number in"),
    ("finetune MobileNet_0.25_224 x y --lr fast", "'fast' is not a number"),
    ("finetune MobileNet_0.25_224 x nope", "no variable 'nope'"),
    ("finetune MobileNet_0.25_224 no-such-dataset", "no-such-dataset"),
])
def test_finetune_user_errors(shell, line, message):
    shell.user_ns.update(x=np.zeros((8, 32, 32, 3), dtype=np.uint8), y=np.repeat([0, 1], 4))
    with pytest.raises(UsageError, match=message):
        findcnn(shell, line)
