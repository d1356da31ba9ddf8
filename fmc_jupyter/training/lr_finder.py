"""Learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017).

Train for ``n`` steps while the learning rate grows geometrically,

    lr_i = lr_min * (lr_max / lr_min) ** (i / (n - 1)),   i = 0..n-1,

record the loss, smooth it with a bias-corrected exponential moving average

    s_i = beta * s_{i-1} + (1 - beta) * loss_i,   smoothed_i = s_i / (1 - beta ** (i + 1)),

and stop early once ``smoothed_i > diverge * min_j smoothed_j`` (the loss has blown up). The rate
suggested is the one at the minimum of the smoothed loss divided by 10 (the "lr_min / 10" rule
popularised by fastai's ``lr_find``): the largest rate that is still clearly on the descending part
of the curve. The weights are restored afterwards by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LRFinderResult", "lr_range_test"]


@dataclass
class LRFinderResult:
    """The range test's curve and the rate it suggests."""

    learning_rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggested: float = 1e-3

    def to_dict(self) -> dict:
        return {"learning_rates": self.learning_rates, "losses": self.losses, "smoothed": self.smoothed,
                "suggested": self.suggested}

    def figure(self):
        """A matplotlib ``Figure``: smoothed loss against learning rate (log scale), suggestion marked."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 3.2))
        ax = fig.subplots()
        ax.plot(self.learning_rates, self.losses, color="0.75", lw=1, label="loss")
        ax.plot(self.learning_rates, self.smoothed, color="C0", label="smoothed")
        ax.axvline(self.suggested, color="C3", ls="--", label=f"chosen {self.suggested:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate range test")
        if self.smoothed:
            lo, hi = min(self.smoothed), max(self.smoothed[0], min(self.smoothed) * 3)
            ax.set_ylim(lo - 0.05 * abs(lo), hi)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def plot(self):
        """The figure (shown inline by Jupyter when it is the cell's value)."""
        return self.figure()

    def _repr_html_(self) -> str:
        from ..report import figure_html

        return f"<div><p>suggested learning rate: {self.suggested:.3g}</p>{figure_html(self.figure())}</div>"


def lr_range_test(train_step: Callable[[np.ndarray, np.ndarray], float], set_lr: Callable[[float], None],
                  x: np.ndarray, y: np.ndarray, batch_size: int, *, lr_min: float = 1e-6, lr_max: float = 1.0,
                  steps: int = 60, beta: float = 0.9, diverge: float = 4.0, seed: int = 0) -> LRFinderResult:
    """Run the range test with ``train_step(x_batch, y_batch) -> loss`` and ``set_lr(rate)``.

    ``x (N, ...)``, ``y (N,)``; batches are drawn by cycling over a seeded permutation.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    rates = lr_min * (lr_max / lr_min) ** (np.arange(steps) / max(steps - 1, 1))
    result = LRFinderResult()
    avg, best, pos = 0.0, np.inf, 0
    for i, rate in enumerate(rates):
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        set_lr(float(rate))
        loss = float(train_step(x[idx], y[idx]))
        if not np.isfinite(loss):
            break
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        result.learning_rates.append(float(rate))
        result.losses.append(loss)
        result.smoothed.append(float(smooth))
        best = min(best, smooth)
        if i > 5 and smooth > diverge * best:
            break
    if result.smoothed:
        at_min = result.learning_rates[int(np.argmin(result.smoothed))]
        result.suggested = float(np.clip(at_min / 10, lr_min, lr_max))
    return result
