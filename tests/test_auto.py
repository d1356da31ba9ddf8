"""fmc.auto on real images: trials with successive halving, every trial recorded, winner fine-tuned, report."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from _finetune_support import MODEL, keras_weights, sign_digits
from fmc_jupyter.autopilot import top_models


def test_top_models_takes_the_best_rows_and_skips_failures():
    ranking = pd.DataFrame({"model_id": [7, 3, 9, 4], "rank": [2, 1, None, 3],
                            "error": [None, None, "no weights", None]})
    assert top_models(ranking, 2) == [3, 7]
    assert top_models(ranking, 10) == [3, 7, 4]


@pytest.fixture(scope="module")
def reg_with_two_models(tmp_path_factory):
    """A registry holding the catalog MobileNet 0.25 and an uploaded Keras file (MobileNet 0.25 at 96 px)."""
    keras_weights()
    import keras

    from fmc_jupyter.registry import open_registry

    tmp = tmp_path_factory.mktemp("auto")
    reg = open_registry(tmp / "registry.db", user="carol")
    with warnings.catch_warnings():  # Keras warns that it loads the 224 px weights for the 96 px input: intended
        warnings.simplefilter("ignore", UserWarning)
        base = keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet", pooling="avg",
                                            input_shape=(96, 96, 3))
    upload = keras.Model(base.inputs, keras.layers.Dense(3, activation="softmax")(base.outputs[0]))
    upload.save(tmp / "small-mobilenet.keras")
    small = reg.add_model(tmp / "small-mobilenet.keras", name="small-mobilenet", preprocessing="tf",
                          labels=["a", "b", "c"])
    return reg, small


@pytest.mark.slow
def test_auto_with_given_candidates_records_every_trial_and_fine_tunes_the_winner(reg_with_two_models):
    import fmc_jupyter as fmc

    reg, small = reg_with_two_models
    (x, y), = sign_digits(16, seed=2)
    result = fmc.auto(x, y, candidates=[MODEL, small.id], registry=reg, trial_epochs=3, epochs=6, progress=False)
    trials = result.trials
    assert len(trials) == 2 and set(trials["model_id"]) == {reg.model(MODEL).id, small.id}
    assert trials["error"].isna().all() and (trials["epochs"] == 3).all()
    best = trials.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    assert result.winner.id == best["model_id"]
    for run_id in trials["run_id"]:
        rec = reg.run(int(run_id))
        assert rec.kind == "trial" and rec.status == "finished" and rec.outcome == "discarded"
        assert len(rec.history) == 3
    final = reg.run(result.run.run_id)
    assert final.kind == "finetune" and final.model_id == result.winner.id and len(final.history) == 6
    assert result.run.val_accuracy >= 0.3  # chance: 0.10
    assert result.report.path.is_file() and "Per-class precision and recall" in result.report.path.read_text()
    runs = reg.runs()
    assert sorted(runs["kind"]) == ["finetune", "trial", "trial"]
    assert "successive halving" in result._repr_html_()


@pytest.mark.slow
def test_auto_ranks_then_trials(reg_with_two_models):
    import fmc_jupyter as fmc

    reg, small = reg_with_two_models
    (x, y), = sign_digits(12, seed=3)
    result = fmc.auto(x, y, models=[MODEL, small.id], registry=reg, k=2, per_class=6, trial_epochs=2, epochs=3,
                      progress=False)
    assert result.ranking is not None and len(result.trials) == 2
    assert result.winner.id in {reg.model(MODEL).id, small.id}
    assert reg.run(result.run.run_id).status == "finished"
