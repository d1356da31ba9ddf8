"""How a model diff reads in the notebook: layer table folded to what changed, metadata differences marked,
and a weight-change plot that is never empty or warning (``ModelDiff._repr_html_``, ``ModelDiff.plot``)."""

from __future__ import annotations

import math
import warnings

import pandas as pd

from fmc_jupyter.modeldiff import _LAYER_COLUMNS, ModelDiff, fold_layers


def _row(i: int, status: str, rel: float = math.nan, **extra) -> dict:
    row = {c: None for c in _LAYER_COLUMNS}
    row.update(position=i, status=status, name_a=f"l{i}", name_b=f"l{i}", changes="" if status == "same" else status,
               relative_change=rel, cosine=math.nan, fraction_moved=math.nan, l2_change=math.nan,
               weights_changed=status == "weights", **extra)
    return row


def _diff(rows: list[dict]) -> ModelDiff:
    metadata = pd.DataFrame({"a": ["m:v1", "mobilenet", 100], "b": ["m:v2", "mobilenet", 90]},
                            index=["ref", "family", "params"])
    metadata["same"] = [False, True, False]
    return ModelDiff(a="m:v1", b="m:v2", summary="head replaced", layers=pd.DataFrame(rows, columns=_LAYER_COLUMNS),
                     metadata=metadata, tolerance=1e-6)


def test_the_table_folds_54_frozen_layers_into_one_row_before_the_one_that_matters():
    rows = [_row(i, "frozen") for i in range(54)] + [_row(54, "changed"), _row(55, "same"), _row(56, "same"),
                                                   _row(57, "same"), _row(58, "removed")]
    page = _diff(rows)._repr_html_()
    assert "54 layers frozen, weights identical (positions 0-53)" in page
    layer_table = page[:page.index("<details>")]
    assert layer_table.count("<tr>") == 1 + 4  # header; folded frozen, changed, folded identical, removed
    assert "3 layers identical (positions 55-57)" in page
    assert page.index("54 layers frozen") < page.index(">changed<")


def test_metadata_differences_are_marked_side_by_side():
    page = _diff([_row(0, "changed")])._repr_html_()
    marked = [line for line in page.split("<tr") if "background" in line]
    assert len(marked) == 2 and any(">ref<" in m for m in marked) and not any(">family<" in m for m in marked)


def test_single_identical_layers_are_counted_not_listed():
    page = _diff([_row(0, "same"), _row(1, "changed"), _row(2, "same")])._repr_html_()
    assert "2 identical layers not listed" in page and ">l0<" not in page


def test_fold_keeps_short_runs_and_changed_layers():
    rows = [_row(0, "same"), _row(1, "same"), _row(2, "weights", 0.1), _row(3, "unfrozen"), _row(4, "unfrozen"),
            _row(5, "unfrozen")]
    folded = fold_layers(rows)
    assert [r["status"] for r in folded] == ["same", "same", "weights", "folded"]
    assert folded[-1]["count"] == 3 and folded[-1]["folded_status"] == "unfrozen"


def test_plot_with_no_comparable_weights_is_labelled_and_warns_nothing():
    d = _diff([_row(0, "added"), _row(1, "removed"), _row(2, "changed")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "All-NaN axis" RuntimeWarning
        fig = d.plot()
    ax = fig.axes[0]
    assert any("could be compared" in t.get_text() for t in ax.texts)
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"added", "removed", "changed"}


def test_plot_draws_bars_for_compared_layers_on_a_log_scale():
    d = _diff([_row(0, "weights", 0.5), _row(1, "same", 0.0), _row(2, "weights", 0.01), _row(3, "added")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = d.plot()
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights[0] == 0.5 and heights[2] == 0.01 and ax.get_yscale() == "log"
    assert not any("could be compared" in t.get_text() for t in ax.texts)
