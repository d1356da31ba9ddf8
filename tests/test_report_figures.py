"""The training report's figures: epochs count from 1 with whole-number ticks, both curves, legends."""

from __future__ import annotations

from fmc_jupyter.report import curves_figure


def test_curves_count_epochs_from_one_with_integer_ticks():
    history = [{"epoch": i, "loss": 1.0 - 0.2 * i, "accuracy": 0.5 + 0.1 * i, "val_loss": 1.1 - 0.2 * i,
                "val_accuracy": 0.45 + 0.1 * i} for i in range(3)]
    fig = curves_figure(history)
    ax_loss, ax_acc = fig.axes
    for ax in (ax_loss, ax_acc):
        xs = [x for line in ax.lines for x in line.get_xdata()]
        assert sorted(set(xs)) == [1, 2, 3]
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks)  # never 1.25
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
