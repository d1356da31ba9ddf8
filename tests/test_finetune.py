"""fmc.finetune on real images with real ImageNet weights: accuracy, records, versions, report, OOM, Ctrl-C."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from _finetune_support import MODEL, keras_weights, sign_digits
from fmc_jupyter.errors import FmcError, InputError, NotFoundError
from fmc_jupyter.report import classification_metrics
from fmc_jupyter.training.batching import auto_batch_size, is_out_of_memory
from fmc_jupyter.training.data import stratified_split


# ---------------------------------------------------------------- fast checks (no Keras training)
def test_stratified_split_keeps_every_class_on_both_sides():
    labels = np.repeat(np.arange(4), [10, 5, 2, 1])
    train, val = stratified_split(labels, 0.2, seed=3)
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(labels)
    assert np.bincount(labels[val], minlength=4).tolist() == [2, 1, 1, 0]
    assert set(labels[train]) == {0, 1, 2, 3}
    with pytest.raises(InputError):
        stratified_split(labels, 1.5)


def test_classification_metrics_match_a_naive_count():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    m = classification_metrics(y, p, 4)
    for c in range(4):
        tp = np.sum((y == c) & (p == c))
        assert m.confusion[c].sum() == np.sum(y == c)
        assert m.precision[c] == pytest.approx(tp / np.sum(p == c))
        assert m.recall[c] == pytest.approx(tp / np.sum(y == c))
    assert m.accuracy == pytest.approx(np.mean(y == p))


def test_out_of_memory_is_recognised_by_type_and_auto_batch_is_bounded():
    import tensorflow as tf

    assert is_out_of_memory(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))
    assert not is_out_of_memory(ValueError("shapes do not match"))
    assert auto_batch_size(300, frozen_features=True) == 32
    assert auto_batch_size(100_000, frozen_features=False) == 128
    assert auto_batch_size(20, frozen_features=True) == 8


# ---------------------------------------------------------------- real training
@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    keras_weights()
    from fmc_jupyter.registry import open_registry

    return open_registry(tmp_path_factory.mktemp("ft") / "registry.db", user="alice")


@pytest.fixture(scope="module")
def signs():
    """30 train / 10 validation / 10 test images per class (real sign-digit photos, 100x100 RGB)."""
    return dict(zip(("train", "val", "test"), sign_digits(30, 10, 10)))


@pytest.fixture(scope="module")
def features():
    """One feature cache for the module: the backbone runs over the images once, every later run reuses it."""
    return {}


@pytest.fixture(scope="module")
def trained(reg, signs, features):
    import fmc_jupyter as fmc

    x, y = signs["train"]
    return fmc.finetune(MODEL, x, y, validation_data=signs["val"], epochs=8, registry=reg, feature_cache=features,
                        progress=False)


@pytest.mark.slow
def test_frozen_finetune_beats_chance_and_records_every_epoch(trained, reg):
    assert trained.val_accuracy >= 0.45  # chance is 0.10 on 10 classes
    rec = reg.run(trained.run_id)
    assert rec.status == "finished" and rec.error is None
    assert rec.model_id == reg.model(MODEL).id and rec.dataset_id is not None
    assert rec.kind == "finetune" and rec.loss == "sparse_categorical_crossentropy"
    assert rec.optimizer == "adam" and rec.optimizer_config["learning_rate"] == pytest.approx(3e-3)
    assert rec.device.startswith(("tensorflow:", "jax:", "torch:")) and rec.duration_s > 0
    assert rec.config["features_once"] is True and rec.config["mode"] == "head" and rec.config["fresh_head"]
    assert [e["epoch"] for e in rec.history] == list(range(8))
    for e in rec.history:
        assert all(e[k] is not None for k in ("loss", "accuracy", "val_loss", "val_accuracy", "batch_size"))
    assert rec.history[-1]["val_accuracy"] == pytest.approx(trained.val_accuracy)
    assert np.asarray(rec.confusion).sum() == 100 and np.trace(rec.confusion) / 100 == pytest.approx(
        trained.val_accuracy)
    assert set(rec.metrics["per_class"]) == {str(c) for c in range(10)}
    assert list(trained.history.columns[:5]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert trained.history["loss"].iloc[-1] < trained.history["loss"].iloc[0]


def test_the_run_card_counts_epochs_from_one_and_draws_the_curves_once(trained):
    card = trained._repr_html_()
    epochs = [int(e) for e in re.findall(r"<tr>\s*<td>(\d+)</td>", card)]  # each row's first cell
    assert epochs == list(range(1, len(trained.history) + 1))
    assert "data:image/png;base64," in card  # no live plot drew them (outside a notebook): the card does
    trained.curves_shown = True
    try:
        assert "data:image/png;base64," not in trained._repr_html_()
    finally:
        trained.curves_shown = False


@pytest.mark.slow
def test_report_is_written_as_a_standalone_html_file(trained, reg, tmp_path):
    report = trained.report()
    text = report.path.read_text()
    assert report.path.parent == reg.artifacts_root / "reports"
    assert text.startswith("<!DOCTYPE html>") and text.count("data:image/png;base64,") >= 2
    assert "Per-class precision and recall" in text and "confusion" in text
    assert reg.run(trained.run_id).metrics["report"] == str(report.path)
    assert "data:image/png;base64," in report._repr_html_()
    other = trained.report(tmp_path / "r.html")
    assert other.path.is_file() and not list(tmp_path.glob(".r.html.*"))  # no temporary file left behind


@pytest.mark.slow
def test_keep_stores_the_next_version_linked_to_its_base_and_run(trained, reg, signs):
    base = reg.model(MODEL)
    kept = trained.keep()
    assert kept.name == base.name == "MobileNet_0.25_224" and kept.version == base.version + 1 and kept.parent_id == base.id
    assert kept.run_id == trained.run_id and kept.owner == "alice" and kept.visibility == "private"
    assert kept.labels == [str(c) for c in range(10)] and kept.num_classes == 10 and kept.input_size == 224
    stored = reg.artifact_path(kept)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == kept.sha256
    rec = reg.run(trained.run_id)
    assert rec.outcome == "kept" and rec.result_model_id == kept.id
    assert reg.model("MobileNet_0.25_224:v2").id == kept.id == reg.model("MobileNet_0.25_224").id
    with pytest.raises(FmcError, match="already kept"):
        trained.keep_both("another-name")
    # the stored file is the trained classifier: same predictions as the in-memory model
    from fmc_jupyter.zoo import build_keras_model, preprocess_images

    loaded = build_keras_model(kept, reg)
    x = preprocess_images(kept, signs["test"][0][:16])
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), trained.predict(signs["test"][0][:16]),
                               atol=1e-4)


@pytest.mark.slow
def test_a_kept_version_trains_on_with_its_own_head(trained, reg, signs):
    import fmc_jupyter as fmc

    kept = trained.result or trained.keep()
    x, y = signs["test"]
    run = fmc.finetune(kept.ref, x, y, epochs=1, validation_split=0.5, registry=reg, progress=False)
    assert run.config["fresh_head"] is False  # same labels: the trained output layer is kept
    assert reg.run(run.run_id).model_id == kept.id
    assert run.val_accuracy >= 0.45


@pytest.mark.slow
def test_keep_both_starts_a_new_line_derived_from_the_base(reg, signs, features):
    import fmc_jupyter as fmc

    run = fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=2, registry=reg,
                       feature_cache=features, progress=False)
    new = run.keep_both("sign-digits-mobilenet")
    assert new.name == "sign-digits-mobilenet" and new.version == 1
    assert new.parent_id == reg.model(MODEL).id and new.run_id == run.run_id
    assert reg.run(run.run_id).outcome == "kept_both"
    with pytest.raises(InputError, match="exists already"):
        fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=1, registry=reg,
                     feature_cache=features, progress=False).keep_both("sign-digits-mobilenet")


@pytest.mark.slow
def test_discard_drops_the_weights_and_keeps_the_record(reg, signs, features):
    import fmc_jupyter as fmc

    run = fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=2, registry=reg,
                       feature_cache=features, progress=False)
    run.discard()
    assert run.model is None
    rec = reg.run(run.run_id)
    assert rec.outcome == "discarded" and rec.status == "finished" and len(rec.history) == 2
    assert rec.result_model_id is None
    with pytest.raises(FmcError):
        run.keep()


def test_checkpoints_at_chosen_epochs_become_versions(reg, signs, features):
    import fmc_jupyter as fmc
    from fmc_jupyter.zoo import load_keras_file

    run = fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=3, registry=reg,
                       feature_cache=features, progress=False, checkpoints=[1, 3])
    assert [c.parent_id for c in run.checkpoints] == [run.base.id, run.base.id]
    table = reg.checkpoints(run.run_id)
    assert list(table["epoch"]) == [0, 2]  # the run's 0-based epoch index
    assert list(table["val_accuracy"]) == pytest.approx(list(run.history["val_accuracy"].iloc[[0, 2]]))
    first, last = (load_keras_file(reg.artifact_path(c)) for c in run.checkpoints)
    head_weights = [m.get_layer("head").get_weights()[0] for m in (first, last, run.model)]
    assert not np.allclose(head_weights[0], head_weights[1])  # training moved on after epoch 1
    np.testing.assert_allclose(head_weights[1], head_weights[2])  # epoch 3 is the final model
    with pytest.raises(InputError, match="after the last epoch"):
        fmc.finetune(MODEL, *signs["train"], epochs=2, checkpoints=[3], registry=reg, progress=False)
    with pytest.raises(InputError, match="counted from 1"):
        fmc.finetune(MODEL, *signs["train"], epochs=2, checkpoints=[0], registry=reg, progress=False)


def _oom_error(message: str):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.errors.ResourceExhaustedError(None, None, message)
    import jax

    return jax.errors.JaxRuntimeError(f"RESOURCE_EXHAUSTED: {message}")


@pytest.mark.slow
def test_out_of_memory_halves_the_batch_and_the_same_training_continues(reg, signs, features, monkeypatch):
    import keras

    import fmc_jupyter as fmc

    real = keras.Model.train_on_batch
    seen: list[int] = []

    def train_on_batch(self, x, y=None, *args, **kwargs):
        seen.append(len(x))
        if len(x) >= 32 and not getattr(train_on_batch, "raised", False):  # the first large batch
            train_on_batch.raised = True
            raise _oom_error(f"OOM when allocating tensor with shape[{len(x)},256]")
        return real(self, x, y, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "train_on_batch", train_on_batch)
    run = fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=3, batch_size=32,
                       registry=reg, feature_cache=features, progress=False)
    rec = reg.run(run.run_id)
    assert rec.status == "finished" and len(rec.history) == 3
    assert seen[0] == 32 and seen[1] == 16 and max(seen[1:]) == 16  # no restart at 32, continued at 16
    assert sum(seen[1:]) == 3 * 300  # every example of every epoch was trained on exactly once
    [change] = rec.batch_size_changes
    assert (change["epoch"], change["step"], change["from"], change["to"]) == (0, 0, 32, 16)
    assert "OOM" in change["reason"] and rec.batch_size == 16
    assert [e["batch_size"] for e in rec.history] == [16, 16, 16]
    assert run.val_accuracy > 0.2


@pytest.mark.slow
def test_ctrl_c_leaves_the_epochs_so_far_and_status_interrupted(reg, signs, features):
    import keras

    import fmc_jupyter as fmc

    class PressCtrlC(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=5, registry=reg,
                     feature_cache=features, progress=False, callbacks=[PressCtrlC()])
    last = reg.runs().iloc[0]
    rec = reg.run(int(last["id"]))
    assert rec.status == "interrupted" and "KeyboardInterrupt" in rec.error
    assert [e["epoch"] for e in rec.history] == [0, 1] and rec.finished_at and rec.duration_s > 0


@pytest.mark.slow
def test_a_crash_marks_the_run_failed_with_its_error(reg, signs, features):
    import keras

    import fmc_jupyter as fmc

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=3, registry=reg,
                     feature_cache=features, progress=False, callbacks=[Crash()])
    rec = reg.run(int(reg.runs().iloc[0]["id"]))
    assert rec.status == "failed" and "disk on fire" in rec.error and len(rec.history) == 1


@pytest.mark.slow
def test_outside_a_notebook_progress_is_plain_text(reg, signs, features, capfd):
    import fmc_jupyter as fmc

    fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=2, registry=reg,
                 feature_cache=features)
    err = capfd.readouterr().err
    assert "epoch 1: loss=" in err and "epoch 2: loss=" in err and "val_accuracy=" in err


@pytest.mark.slow
def test_lr_auto_runs_a_range_test_and_trains_with_its_choice(reg, signs, features):
    import fmc_jupyter as fmc

    run = fmc.finetune(MODEL, *signs["train"], validation_data=signs["val"], epochs=3, lr="auto", registry=reg,
                       feature_cache=features, progress=False)
    finder = run.lr_finder
    assert 1e-6 <= finder.suggested <= 1.0 and len(finder.learning_rates) >= 10
    assert np.all(np.diff(finder.learning_rates) > 0)
    rec = reg.run(run.run_id)
    assert rec.learning_rate == pytest.approx(finder.suggested)
    assert rec.config["lr"] == "auto" and rec.config["lr_finder"]["suggested"] == pytest.approx(finder.suggested)
    assert rec.history[0]["learning_rate"] == pytest.approx(finder.suggested, rel=1e-5)
    assert run.checkpoints == []          # the range test's weight backup is not a checkpoint (issue 16)
    assert "Learning-rate range test" in run.report().path.read_text()
    assert "data:image/png;base64," in finder._repr_html_()


@pytest.mark.slow
def test_unfrozen_with_augmentation_trains_the_top_layers_and_keeps_batchnorm_frozen(reg, signs):
    import keras

    import fmc_jupyter as fmc
    from fmc_jupyter.zoo import build_keras_model

    x, y = signs["train"]
    run = fmc.finetune(MODEL, x[::6], y[::6], epochs=1, unfreeze=4, augment=True, batch_size=16,
                       validation_split=0.2, registry=reg, progress=False)
    rec = reg.run(run.run_id)
    assert rec.status == "finished" and rec.config["mode"] == "unfrozen" and rec.config["features_once"] is False
    assert rec.learning_rate == pytest.approx(1e-4) and rec.config["augment"] is True
    backbone = next(layer for layer in run.model.layers if isinstance(layer, keras.Model))
    trainable = [layer.name for layer in backbone.layers if layer.trainable and layer.weights]
    assert trainable == ["conv_dw_13", "conv_pw_13"]  # the top 4 weighted layers minus their BatchNorms
    assert not any(layer.trainable for layer in backbone.layers
                   if isinstance(layer, keras.layers.BatchNormalization))
    fresh = build_keras_model(reg.model(MODEL), reg)
    moved = lambda name: not np.allclose(backbone.get_layer(name).get_weights()[0],  # noqa: E731
                                         fresh.get_layer(name).get_weights()[0])
    assert moved("conv_pw_13") and not moved("conv_pw_12")
    bn = "conv_pw_13_bn"  # inference mode: moving statistics untouched by training
    for got, want in zip(backbone.get_layer(bn).get_weights(), fresh.get_layer(bn).get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_a_registry_dataset_name_is_accepted_as_input(reg, signs):
    import fmc_jupyter as fmc

    x, y = signs["val"]
    names = [f"sign {c}" for c in range(10)]
    ds = reg.add_dataset(x, y, "signs-val", class_names=names)
    run = fmc.finetune(MODEL, "signs-val", epochs=1, validation_split=0.3, registry=reg, progress=False)
    rec = reg.run(run.run_id)
    assert rec.dataset_id == ds.id and rec.config["source"] == "dataset:signs-val"
    assert rec.config["class_names"] == names and rec.config["val_examples"] == 30


def test_bad_arguments_are_refused_before_any_run_is_recorded(reg):
    import fmc_jupyter as fmc

    x = np.zeros((20, 32, 32, 3), np.uint8)
    y = np.repeat([0, 1], 10)
    with pytest.raises(NotFoundError, match="Did you mean"):
        fmc.finetune("MobileNet_0.25_2244", x, y, registry=reg)
    with pytest.raises(InputError, match="unfreeze"):
        fmc.finetune(MODEL, x, y, unfreeze="some", registry=reg)
    with pytest.raises(InputError, match="epochs"):
        fmc.finetune(MODEL, x, y, epochs=0, registry=reg)
    with pytest.raises(InputError, match="x has 20 images but y has 3"):
        fmc.finetune(MODEL, x, [0, 1, 0], registry=reg)
    with pytest.raises(InputError, match="tfds"):
        fmc.finetune(MODEL, x, registry=reg)
    assert all(s != "running" for s in reg.runs()["status"])


@pytest.mark.slow
def test_in_a_notebook_kernel_progress_is_a_widget_bar_and_a_live_plot(tmp_path):
    """A real Jupyter kernel runs fmc.finetune: tqdm's widget bar and the curves redrawn in one output."""
    import os
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    keras_weights()
    root = Path(__file__).resolve().parents[1]
    setup = (f"import sys; sys.path.insert(0, {str(root)!r}); sys.path.insert(0, {str(root / 'tests')!r})\n"
             "from _finetune_support import MODEL, sign_digits\n"
             "import fmc_jupyter as fmc\n"
             f"reg = fmc.open_registry({str(tmp_path / 'nb.db')!r}, user='dora')\n"
             "(x, y), = sign_digits(6)")
    train = "run = fmc.finetune(MODEL, x, y, epochs=3, registry=reg)\nrun"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(train)])
    assert os.environ.get("KERAS_HOME")  # the kernel inherits it: offline weights
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "tqdm should show a widget progress bar in a notebook"
    plots = [o for o in outputs if o.output_type == "display_data" and "data:image/png;base64,"
             in o.get("data", {}).get("text/html", "")]
    assert len(plots) == 1  # one live plot for 3 epochs: redrawn in place (update_display_data), not appended
    texts = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "epoch 3: loss=" not in texts  # the plain-text epoch lines are for terminals
    result = [o for o in outputs if o.output_type == "execute_result"]
    assert result and "Training run" in result[0]["data"]["text/html"]
