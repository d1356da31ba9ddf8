"""The per-model stage display of a budgeted ranking (:mod:`fmc_jupyter.ranking_budget`).

Every candidate is listed with its stage: ``waiting``, ``extracting 10/class``, ``scored 10/class``,
``10/class ✓ kept``, ``stopped at 10/class (dropped by halving)``, ``20/class ✓ done``,
``weights unavailable here``, ``failed at 5/class: <why>``.

* In a Jupyter kernel: one overall tqdm bar (models scored, over all rungs) and a compact HTML board of every
  model (a grid of ``model — stage`` cells, several per row, so 30+ models stay on one screen), redrawn in place
  through an IPython display handle (whenever a model starts extracting, otherwise at most a few times a second,
  always at a rung's end) and left showing the final stages.
* Elsewhere (a terminal, a log, a test): one text bar on stderr whose postfix is the model being scored and its
  stage, and after each rung a few plain lines grouping the models by what happened to them (kept, dropped,
  failed, unavailable), so 30 models take a handful of lines, not 30 bars. The bar is left at its final count.

``enabled=False`` draws nothing; every stage change still reaches ``on_stage``. Jupyter (IPython) is only imported
when a board is drawn in a kernel.
"""

from __future__ import annotations

import html
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["StageBoard", "WAITING", "UNAVAILABLE"]

WAITING = "waiting"
UNAVAILABLE = "weights unavailable here"
_REDRAW_S = 0.3          # a notebook board is redrawn at most this often (and always at a rung's end / close)
_POSTFIX = 60            # characters of the terminal bar's postfix


def _colour(stage: str) -> str:
    if "✓" in stage:
        return "#1a7f37"
    if stage.startswith(("failed", UNAVAILABLE)):
        return "#b42318"
    if stage.startswith("stopped"):
        return "#8a6d00"
    if stage == WAITING:
        return "#777"
    return "#0550ae"      # extracting / scored: in progress


class StageBoard:
    """Stages of the candidate models ``refs`` (in this order), shown while they are ranked.

    ``set(ref, stage)`` records a model's stage, passes it to ``on_stage`` and redraws; ``start_rung`` starts a
    rung, ``advance()`` counts one model scored (or failed) on it; ``report(summary)`` shows what changed since
    the last report (after each rung); ``close()`` draws the final state. ``notebook=None`` asks
    :func:`fmc_jupyter.training.progress.in_notebook`.
    """

    def __init__(self, refs: Sequence[str], *, enabled: bool = True,
                 on_stage: Callable[[str, str], None] | None = None, notebook: bool | None = None,
                 title: str = "budgeted ranking"):
        self.stages: dict[str, str] = {ref: WAITING for ref in refs}
        self.enabled = enabled
        self.on_stage = on_stage
        self.title = title
        if notebook is None and enabled:
            from .training.progress import in_notebook

            notebook = in_notebook()
        self.notebook = bool(notebook) and enabled
        self.headline = ""
        self._bar: Any = None
        self._handle: Any = None
        self._drawn = 0.0
        self._changed: dict[str, str] = {}    # ref -> stage set since the last report (terminal lines)

    # -- state ---------------------------------------------------------------------------------------------------
    def set(self, ref: str, stage: str) -> None:
        """Model ``ref`` is now at ``stage``."""
        self.stages[ref] = stage
        self._changed[ref] = stage
        if self.on_stage is not None:
            self.on_stage(ref, stage)
        if not self.enabled:
            return
        if self._bar is not None:
            text = f"{ref}: {stage}"
            self._bar.set_postfix_str(text if len(text) <= _POSTFIX else text[: _POSTFIX - 1] + "…")
        self._draw(force=stage.startswith("extracting"))   # a model starts work that may take long: show it now

    def start_rung(self, per_class: int, models: int, planned: int) -> None:
        """A rung of ``models`` models on ``per_class`` images per class starts; ``planned``: the model-rungs the
        whole ranking should take from here on if the budget allows (the bar's remaining total)."""
        self.headline = f"{models} model(s) on {per_class}/class"
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = self._new_bar(planned)
        else:
            self._bar.total = self._bar.n + planned
            self._bar.refresh()
        self._bar.set_description_str(f"{self.title} {per_class}/class")
        self._draw(force=True)

    def advance(self) -> None:
        """One model of the current rung is scored (or failed)."""
        if self._bar is not None:
            self._bar.update(1)

    def report(self, summary: str) -> None:
        """Show ``summary`` (e.g. ``"5/class: 4 models in 12 s"``) and the stages set since the last report: in a
        terminal as lines grouping those models by stage, in a notebook by redrawing the board."""
        self.headline = summary
        if not self.enabled:
            return
        if self.notebook:
            self._draw(force=True)
        else:
            self._write(self.text_lines(summary, self._changed))
        self._changed.clear()

    def note(self, text: str) -> None:
        """A line under the board (terminal) or its headline (notebook), e.g. why the ranking stopped."""
        self.headline = text
        if not self.enabled:
            return
        if self.notebook:
            self._draw(force=True)
        else:
            self._write([text])

    def close(self) -> None:
        """Leave the bar at its final count and the board at the final stages."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.total = self._bar.n          # stopped early: the bar ends full, not at 40%
            self._bar.set_postfix_str("done", refresh=False)
            self._bar.close()
            self._bar = None
        if self.notebook:
            self._draw(force=True)
        elif self._changed:                        # stages set after the last report
            self._write(self.text_lines("", self._changed))
            self._changed.clear()

    # -- rendering -----------------------------------------------------------------------------------------------
    def text_lines(self, headline: str, stages: dict[str, str] | None = None, width: int | None = None) -> list[str]:
        """Plain lines: ``headline``, then the models of ``stages`` (default: all) grouped by stage, each group in
        the board's order."""
        stages = self.stages if stages is None else stages
        width = width or max(60, shutil.get_terminal_size((100, 24)).columns)
        groups: dict[str, list[str]] = {}
        for ref in self.stages:
            if ref in stages:
                groups.setdefault(stages[ref], []).append(ref)
        lines = [headline] if headline else []
        for stage, refs in groups.items():
            head = f"  {stage} ({len(refs)}): " if len(refs) > 1 else f"  {stage}: "
            lines.extend(textwrap.wrap(", ".join(refs), width=width, initial_indent=head,
                                       subsequent_indent="      ", break_on_hyphens=False) or [head])
        return lines

    def html(self) -> str:
        """The notebook board: the headline and a grid of every model with its stage."""
        cells = "".join(
            f"<div style='white-space:nowrap;overflow:hidden;text-overflow:ellipsis' title='{html.escape(s)}'>"
            f"<code>{html.escape(ref)}</code> <span style='color:{_colour(s)}'>{html.escape(s)}</span></div>"
            for ref, s in self.stages.items())
        head = html.escape(f"{self.title}: {self.headline}" if self.headline else self.title)
        return (f"<div class='fmc-stages'><div><b>{head}</b></div><div style='display:grid;grid-template-columns:"
                f"repeat(auto-fill,minmax(30em,1fr));column-gap:1.5em;font-size:90%'>{cells}</div></div>")

    def _new_bar(self, total: int):
        if self.notebook:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=self.title, unit="model")
        from tqdm import tqdm

        return tqdm(total=total, desc=self.title, unit="model", file=sys.stderr, dynamic_ncols=True)

    def _write(self, lines: list[str]) -> None:
        from tqdm import tqdm

        for line in lines:
            tqdm.write(line, file=sys.stderr)

    def _draw(self, force: bool = False) -> None:
        if not self.notebook or (not force and time.monotonic() - self._drawn < _REDRAW_S):
            return
        from IPython.display import HTML, display

        self._drawn = time.monotonic()
        if self._handle is None:
            self._handle = display(HTML(self.html()), display_id=True)
        else:
            self._handle.update(HTML(self.html()))
