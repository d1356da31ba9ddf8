"""Humanised notebook tables (``fmc_jupyter.display``) and ``%findcnn leaderboard``, in a real IPython shell."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from _ipython import load_magics
from fmc_jupyter.display import ModelTable, fmt_count, fmt_mb, fmt_percent, humanised


@pytest.fixture
def shell(ipython, tmp_registry):
    yield load_magics(ipython, tmp_registry)
    ipython.reset(new_session=False)


@pytest.mark.parametrize("value, text", [(950, "950"), (12_000, "12K"), (350_000, "350K"), (4_300_000, "4.3M"),
                                         (3_504_872, "3.5M"), (25_636_712, "26M"), (143_667_240, "144M"),
                                         (1.2e9, "1.2B"), (None, "–"), (float("nan"), "–")])
def test_counts_read_as_people_say_them(value, text):
    assert fmt_count(value) == text


def test_percent_and_megabytes():
    assert fmt_percent(0.7182) == "71.8%" and fmt_percent(None) == "–"
    assert fmt_mb(0.004) == "<0.01" and fmt_mb(3.456) == "3.5" and fmt_mb(17.2) == "17" and fmt_mb(np.nan) == "–"


def test_search_result_keeps_exact_values_and_displays_them_humanised(shell, tmp_registry):
    result = shell.run_line_magic("findcnn", "search family=mobilenet --limit 0")
    assert isinstance(result, ModelTable) and isinstance(result, pd.DataFrame)
    pd.testing.assert_frame_equal(pd.DataFrame(result), tmp_registry.search("family=mobilenet", order_by="-top1",
                                                                            limit=None))
    assert result["params"].dtype.kind in "if"  # the data are untouched numbers
    page = result._repr_html_()
    big = int(result["params"].max())
    assert fmt_count(big) in page and f">{big}<" not in page  # "4.3M", not "4300000"
    assert "top1" in page and "..." not in page  # top-1 never hides behind pandas' ellipsis
    shown = humanised(pd.DataFrame(result))
    assert list(shown.columns[:4]) == ["id", "name", "version", "family"]
    assert result.head(2).__class__ is ModelTable  # slicing keeps the display


def test_leaderboard_magic_lists_evaluations_best_first(shell, tmp_registry, bob_registry):
    rng = np.random.default_rng(0)
    data = tmp_registry.add_dataset(rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8), np.array([0, 1, 0, 1]),
                                    "pets", ["cat", "dog"])
    (mine,) = tmp_registry.insert_models([{"name": "alices-net", "version": 1, "source_kind": "keras_file",
                                           "visibility": "private"}])
    (theirs,) = bob_registry.insert_models([{"name": "bobs-net", "version": 1, "source_kind": "keras_file",
                                             "visibility": "private"}])
    tmp_registry.add_evaluation(mine, data, accuracy=0.6)
    bob_registry.add_evaluation(theirs, data, accuracy=0.9)
    tmp_registry.add_evaluation(1, data, accuracy=0.7)
    board = shell.run_line_magic("findcnn", "leaderboard pets")
    assert list(board["accuracy"]) == [0.7, 0.6] and "bobs-net" not in set(board["name"])  # bob's is private
    assert "70.0%" in board._repr_html_()
    with pytest.raises(UsageError, match="no dataset 'pest'.*Did you mean 'pets'"):
        shell.run_line_magic("findcnn", "leaderboard pest")
