"""Live progress: a progress bar per epoch and, in a notebook, a live loss/accuracy plot.

In a Jupyter kernel the bar is tqdm's widget and the curves are redrawn in one output area after
every epoch; elsewhere the bar is tqdm's text bar and each epoch ends with one plain text line.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress", "in_notebook"]


def in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (not a terminal IPython, not plain Python)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """Progress display of one training; ``enabled=False`` shows nothing."""

    def __init__(self, enabled: bool = True, title: str = "training"):
        self.enabled = enabled
        self.notebook = enabled and in_notebook()
        self.title = title
        self._bar = None
        self._plot = None

    def start_epoch(self, epoch: int, epochs: int, total: int) -> None:
        if not self.enabled:
            return
        if self.notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        self._bar = tqdm(total=total, desc=f"{self.title} epoch {epoch + 1}/{epochs}", unit="img", leave=False,
                         file=None if self.notebook else sys.stderr)

    def advance(self, n: int, logs: dict[str, Any] | None = None) -> None:
        if self._bar is not None:
            self._bar.update(n)
            if logs:
                self._bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if isinstance(v, float)}, refresh=False)

    def end_epoch(self, row: dict[str, Any], history: list[dict[str, Any]]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self.enabled:
            return
        if self.notebook:
            self._draw(history)
        else:
            parts = [f"{k}={row[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                     if row.get(k) is not None]
            print(f"{self.title} epoch {int(row['epoch']) + 1}: " + " ".join(parts)
                  + f" ({row.get('seconds', 0):.1f}s, batch {row.get('batch_size')})", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"{self.title}: {text}", file=sys.stderr, flush=True)

    def _draw(self, history: list[dict[str, Any]]) -> None:
        from IPython.display import HTML, display

        from ..report import curves_figure, figure_html

        content = HTML(figure_html(curves_figure(history), dpi=80))
        if self._plot is None:
            self._plot = display(content, display_id=True)
        else:
            self._plot.update(content)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
