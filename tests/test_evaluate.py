"""fmc.evaluate on real images: a fine-tuned model, label matching, stored results and the leaderboard."""

from __future__ import annotations

import numpy as np
import pytest

from _finetune_support import MODEL, keras_weights, sign_digits
from fmc_jupyter.errors import InputError


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    keras_weights()
    import fmc_jupyter as fmc
    from fmc_jupyter.registry import open_registry

    reg = open_registry(tmp_path_factory.mktemp("ev") / "registry.db", user="bob")
    train, val, test = sign_digits(20, 5, 8, seed=1)
    names = [f"sign-{c}" for c in range(10)]
    run = fmc.finetune(MODEL, *train, class_names=names, validation_data=val, epochs=8, registry=reg,
                       progress=False)
    kept = run.keep()
    return reg, run, kept, test, names


@pytest.mark.slow
def test_evaluate_a_kept_model_stores_the_result_and_ranks_it(setup):
    import fmc_jupyter as fmc

    reg, run, kept, (x, y), names = setup
    result = fmc.evaluate(kept.ref, x, y, class_names=names, registry=reg)
    expected = np.mean(run.predict(x).argmax(axis=1) == y)  # the in-memory model's own predictions
    assert result.accuracy == pytest.approx(expected)
    assert result.accuracy >= 0.35  # chance: 0.10
    assert result.metrics.confusion.sum() == len(y) and result.class_names == tuple(names)
    board = reg.leaderboard(result.dataset.name)
    assert board.iloc[0]["model_id"] == kept.id and board.iloc[0]["accuracy"] == pytest.approx(result.accuracy)
    row = reg.db.execute("SELECT num_examples, loss, metrics FROM evaluations WHERE id = ?",
                         [result.evaluation_id]).fetchone()
    assert row[0] == len(y) and row[1] == pytest.approx(result.loss) and "per_class" in row[2]
    assert "precision" in result._repr_html_()


@pytest.mark.slow
def test_evaluate_matches_outputs_to_classes_by_name(setup):
    import fmc_jupyter as fmc

    reg, run, kept, (x, y), names = setup
    labels = np.array(names)[y]  # string labels, classes in a different (sorted) order than the model's
    keep = np.isin(y, [2, 5, 7])  # a subset of the classes
    result = fmc.evaluate(kept.id, x[keep], labels[keep], registry=reg)
    assert result.class_names == ("sign-2", "sign-5", "sign-7")
    restricted = run.predict(x[keep])[:, [2, 5, 7]].argmax(axis=1)
    assert result.accuracy == pytest.approx(np.mean(restricted == np.searchsorted([2, 5, 7], y[keep])))


@pytest.mark.slow
def test_evaluate_refuses_a_model_that_does_not_predict_these_classes(setup):
    import fmc_jupyter as fmc

    reg, _, kept, (x, y), _ = setup
    with pytest.raises(InputError, match="fine-tune"):
        fmc.evaluate(MODEL, x, y, registry=reg)  # ImageNet's 1000 classes, no digits
    with pytest.raises(InputError, match="does not predict"):
        fmc.evaluate(kept.ref, x, np.array(["cat", "dog"])[y % 2], registry=reg)
