"""``fmc.ui()`` / ``%findcnn ui``: an ipywidgets model browser over the same library functions as the magics.

The filters (parameters, size, top-1, input size, domain, family) are composed into the query language
(:func:`compose_query`) and handed to ``Registry.search``, so what the browser shows is exactly what
``reg.search(browser.query_text)`` returns. "rank on my data" calls :func:`fmc_jupyter.ranking.rank` with
the chosen notebook variables; "fine-tune" calls :func:`fmc_jupyter.finetuning.finetune` and plots each
epoch as it ends.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from .display import fmt_count, fmt_mb, fmt_percent, humanised
from .errors import FmcError

__all__ = ["ui", "ModelBrowser", "compose_query", "ANY"]

ANY = "any"
PARAMS_RANGE_M = (0.3, 200.0)  # params slider range, millions (log scale); the top end means "no limit"
SIZE_RANGE_MB = (1.0, 600.0)  # size slider range, MB (log scale); the top end means "no limit"
QUERY_HINT = ("<small>field op value, joined by <code>and</code> / <code>or</code> / <code>not</code> and "
              "parentheses: <code>domain=natural and params&lt;5M and (top1&gt;=75% or family=mobilenet)</code>. "
              "Ops <code>= != &lt; &lt;= &gt; &gt;= ~</code> (~ contains); units 5M, 300K, 100MB, 75%, 224px, "
              "20ms; bare words search names, descriptions and tags.</small>")
COMMENT_COLUMNS = ["author", "created_at", "text"]
TABLE_COLUMNS = ["id", "name", "version", "family", "domain", "input_size", "params", "size_mb", "top1", "cpu_ms",
                 "owner", "visibility"]


_FAILED_HTML = "<pre style='color:#b00020'>failed: see the error in the output below</pre>"


class _Failed(Exception):
    """An unexpected error, already shown (with its traceback) in the browser's output area."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: float) -> str:
    return f"{value:.4g}"


def compose_query(text: str = "", *, max_params_m: float | None = None, max_size_mb: float | None = None,
                  min_top1: float | None = None, input_size: int | None = None, domain: str | None = None,
                  family: str | None = None) -> str:
    """The query language text for a free-text query plus filter values (``None`` = no filter).

    ``max_params_m`` in millions, ``max_size_mb`` in MB, ``min_top1`` as a percentage (0-100).
    The free text is parenthesised so its ``or`` cannot swallow the filters.
    """
    parts = [f"({text.strip()})"] if text and text.strip() else []
    if max_params_m is not None:
        parts.append(f"params<={_number(max_params_m)}M")
    if max_size_mb is not None:
        parts.append(f"size<={_number(max_size_mb)}MB")
    if min_top1 is not None:
        parts.append(f"top1>={_number(min_top1)}%")
    if input_size is not None:
        parts.append(f"input={int(input_size)}px")
    if domain is not None:
        parts.append(f'domain="{domain}"')
    if family is not None:
        parts.append(f'family="{family}"')
    return " and ".join(parts)


def _html_frame(frame: pd.DataFrame, max_rows: int = 50) -> str:
    """A DataFrame as an escaped HTML table (registry text is never trusted as HTML), numbers humanised
    (4.3M params, 17 MB, 71.8%). Its class is the widget's own: no other stylesheet styles it."""
    if frame is None or not len(frame):
        return "<i>no rows</i>"
    shown = humanised(frame.head(max_rows))
    more = f"<small>{len(frame) - max_rows} more rows</small>" if len(frame) > max_rows else ""
    return shown.to_html(index=False, escape=True, na_rep="–", border=0, classes="fmc-widget-table") + more


def _row_label(row: Any) -> str:
    """One result as a line of the clickable results list: name:vN, then the key facts."""
    facts = [f"{fmt_count(row.params)} params" if not _missing(row.params) else None,
             f"{fmt_mb(row.size_mb)} MB" if not _missing(row.size_mb) else None,
             f"top-1 {fmt_percent(row.top1)}" if not _missing(row.top1) else None,
             row.family if isinstance(row.family, str) else None]
    private = " [private]" if getattr(row, "visibility", "") == "private" else ""
    return f"{row.name}:v{row.version}{private} · " + " · ".join(f for f in facts if f)


def _error_html(exc: Exception) -> str:
    return f"<pre style='color:#b00020;white-space:pre-wrap'>{html.escape(str(exc))}</pre>"


def _array_variables(namespace: dict[str, Any]) -> list[str]:
    """Names of the notebook's public variables holding numpy arrays (candidate x / y)."""
    return sorted(k for k, v in namespace.items() if not k.startswith("_") and isinstance(v, np.ndarray))


class ModelBrowser:
    """The widget tree and its behaviour. Display it (it is the last value of a cell) or use ``.widget``.

    Attributes hold the results of the last action: ``results`` (DataFrame), ``selected`` (ModelRecord),
    ``ranking`` and ``training_run``.
    """

    def __init__(self, registry, query: str = "", namespace: dict[str, Any] | None = None):
        import ipywidgets as w

        self.registry = registry
        self.namespace = namespace if namespace is not None else _notebook_namespace()
        self.results: pd.DataFrame = pd.DataFrame()
        self.selected = None
        self.ranking = None
        self.training_run = None

        catalog = registry.search("", columns=["family", "domain", "input_size"], limit=None)
        families = sorted({f for f in catalog["family"].dropna()})
        domains = sorted({d for d in catalog["domain"].dropna()})
        sizes = sorted({int(s) for s in catalog["input_size"].dropna()})

        self.query = w.Text(value=query, placeholder="domain=natural and params<5M", description="query",
                            continuous_update=False, layout=w.Layout(width="60%"))
        self.hint = w.HTML(QUERY_HINT)
        self.max_params = w.FloatLogSlider(value=PARAMS_RANGE_M[1], base=10, min=math.log10(PARAMS_RANGE_M[0]),
                                           max=math.log10(PARAMS_RANGE_M[1]), step=0.05, description="params ≤ M",
                                           continuous_update=False, readout_format=".3g")
        self.max_size = w.FloatLogSlider(value=SIZE_RANGE_MB[1], base=10, min=math.log10(SIZE_RANGE_MB[0]),
                                         max=math.log10(SIZE_RANGE_MB[1]), step=0.05, description="size ≤ MB",
                                         continuous_update=False, readout_format=".3g")
        self.min_top1 = w.IntSlider(value=0, min=0, max=90, step=1, description="top-1 ≥ %",
                                    continuous_update=False)
        self.input_size = w.Dropdown(options=[ANY, *sizes], value=ANY, description="input px")
        self.domain = w.Dropdown(options=[ANY, *domains], value=ANY, description="domain")
        self.family = w.Dropdown(options=[ANY, *families], value=ANY, description="family")
        self.limit = w.BoundedIntText(value=50, min=1, max=10000, description="max rows")
        self.status = w.HTML()
        self.table = w.HTML()
        # the results as a list of rows: a click on a row shows its card
        self.model = w.Select(options=[], description="results", rows=8, layout=w.Layout(width="95%"))
        self.card = w.HTML()
        self.comment_text = w.Textarea(placeholder="comment on this version", layout=w.Layout(width="50%"))
        self.comment_button = w.Button(description="comment")

        self.x_var = w.Dropdown(options=[], description="x (images)")
        self.y_var = w.Dropdown(options=[], description="y (labels)")
        self.refresh_button = w.Button(description="refresh variables", icon="refresh")
        self.rank_button = w.Button(description="rank on my data", button_style="primary")
        self.epochs = w.BoundedIntText(value=3, min=1, max=500, description="epochs")
        self.finetune_button = w.Button(description="fine-tune", button_style="warning")
        self.keep_button = w.Button(description="keep as new version", disabled=True)
        self.discard_button = w.Button(description="discard", disabled=True)
        self.plot = w.HTML()
        self.output = w.Output()

        for control in (self.query, self.max_params, self.max_size, self.min_top1, self.input_size, self.domain,
                        self.family, self.limit):
            control.observe(lambda _change: self.refresh(), names="value")
        self.model.observe(lambda _change: self.show_model(), names="value")
        self.comment_button.on_click(lambda _b: self.comment_selected())
        self.refresh_button.on_click(lambda _b: self.refresh_variables())
        self.rank_button.on_click(lambda _b: self.rank_on_my_data())
        self.finetune_button.on_click(lambda _b: self.finetune_selected())
        self.keep_button.on_click(lambda _b: self.decide("keep"))
        self.discard_button.on_click(lambda _b: self.decide("discard"))

        filters = w.VBox([w.HBox([self.max_params, self.max_size, self.min_top1]),
                          w.HBox([self.input_size, self.domain, self.family, self.limit])])
        actions = w.VBox([w.HBox([self.x_var, self.y_var, self.refresh_button]),
                          w.HBox([self.rank_button, self.epochs, self.finetune_button]),
                          w.HBox([self.keep_button, self.discard_button])])
        self.table_box = w.Accordion(children=[self.table])
        self.table_box.set_title(0, "all columns")
        self.table_box.selected_index = None
        # the actions on the chosen model come right after the list, before its (long) card
        self.card_box = w.Box([self.card], layout=w.Layout(max_height="420px", overflow="auto"))
        self.widget = w.VBox([self.query, self.hint, filters, self.status, self.model, actions, self.plot,
                              self.output, self.table_box, self.card_box,
                              w.HBox([self.comment_text, self.comment_button])])
        self.refresh_variables()
        self.refresh()

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ search
    @property
    def query_text(self) -> str:
        """The query the filters and the search box compose to."""
        at_max = lambda slider, top: slider.value >= top * 0.999  # noqa: E731  (slider at its end = no limit)
        return compose_query(
            self.query.value,
            max_params_m=None if at_max(self.max_params, PARAMS_RANGE_M[1]) else self.max_params.value,
            max_size_mb=None if at_max(self.max_size, SIZE_RANGE_MB[1]) else self.max_size.value,
            min_top1=self.min_top1.value or None,
            input_size=None if self.input_size.value == ANY else self.input_size.value,
            domain=None if self.domain.value == ANY else self.domain.value,
            family=None if self.family.value == ANY else self.family.value,
        )

    def refresh(self) -> pd.DataFrame:
        """Run the composed query (``Registry.search``) and show the results table."""
        text = self.query_text
        try:
            self.results = self.registry.search(text, order_by="-top1", limit=self.limit.value)
        except FmcError as exc:
            # the last good results stay listed, marked as such
            self.status.value = (_error_html(exc) + "<small>the list below shows the last valid query's "
                                 "results</small>")
            return self.results
        self.status.value = (f"<code>{html.escape(text) or '(all models)'}</code>: "
                             f"{len(self.results)} model(s); click a row for its card")
        shown = [c for c in TABLE_COLUMNS if c in self.results]
        self.table.value = _html_frame(self.results[shown])
        previous = self.model.value
        options = [(_row_label(r), int(r.id)) for r in self.results.itertuples()]
        self.model.options = options
        ids = [value for _label, value in options]
        self.model.value = previous if previous in ids else (ids[0] if ids else None)
        return self.results

    def show_model(self) -> None:
        """The model card of the chosen model: metadata, its versions, its training runs and its comments."""
        if self.model.value is None:
            self.selected, self.card.value = None, ""
            return
        try:
            self.selected = self.registry.model(self.model.value)
            versions = self.registry.versions(self.selected.id)
            runs = self.registry.runs(self.selected.id)
            comments = self.registry.comments(self.selected.id)
        except FmcError as exc:
            self.card.value = _error_html(exc)
            return
        self.card.value = (self.selected._repr_html_() + "<h5>versions</h5>" + _html_frame(versions)
                           + "<h5>training runs</h5>" + _html_frame(runs)
                           + f"<h5>comments ({len(comments)})</h5>" + _html_frame(comments[COMMENT_COLUMNS]))

    def comment_selected(self) -> int | None:
        """Add the comment box's text as a comment on the chosen version (``Registry.add_comment``)."""
        try:
            if self.selected is None:
                raise FmcError("choose a model to comment on in the results first")
            comment_id = self.registry.add_comment(self.selected.id, self.comment_text.value)
        except FmcError as exc:
            self.status.value = _error_html(exc)
            return None
        self.comment_text.value = ""
        self.status.value = f"commented on {html.escape(self.selected.ref)}"
        self.show_model()
        return comment_id

    # ------------------------------------------------------------------ actions on the user's data
    def refresh_variables(self) -> None:
        """Offer the notebook's array variables as x and y."""
        names = _array_variables(self.namespace)
        for dropdown, guess in ((self.x_var, ("x", "x_train", "images", "X")), (self.y_var, ("y", "y_train", "labels"))):
            previous = dropdown.value
            dropdown.options = names
            if previous in names:
                dropdown.value = previous
            else:
                dropdown.value = next((g for g in guess if g in names), names[0] if names else None)

    def _xy(self):
        if self.x_var.value is None or self.y_var.value is None:
            raise FmcError("choose the notebook variables holding images (x) and labels (y); define them first, "
                           "then press 'refresh variables'")
        return self.namespace[self.x_var.value], self.namespace[self.y_var.value]

    def _in_output(self, action):
        """Run ``action()`` with what it prints (progress, a bug's traceback) in the browser's output area.

        Returns its result and re-raises an :class:`FmcError` (the caller shows it in the status line). Inside
        IPython the ``Output`` widget shows any other exception there and swallows it; that becomes ``_Failed``.
        """
        outcome: dict[str, Any] = {}
        with self.output:
            try:
                outcome["value"] = action()
            except FmcError as exc:
                outcome["error"] = exc
        if "error" in outcome:
            raise outcome["error"]
        if "value" not in outcome:
            raise _Failed()
        return outcome["value"]

    def _busy(self, message: str) -> "_Busy":
        """While an action runs: its buttons are off and the status line says what is happening."""
        return _Busy(self, message)

    def rank_on_my_data(self):
        """Rank the models in the results table on the chosen x / y (:func:`fmc_jupyter.ranking.rank`)."""
        from IPython.display import display

        self.output.clear_output()
        try:
            x, y = self._xy()
            if not len(self.results):
                raise FmcError("no models to rank: loosen the filters until the table lists some")
            from .ranking import rank

            with self._busy(f"ranking {len(self.results)} model(s) on {html.escape(str(self.x_var.value))} / "
                            f"{html.escape(str(self.y_var.value))}…"):
                ranking = self._in_output(lambda: rank(x, y, models=[int(i) for i in self.results["id"]],
                                                       registry=self.registry))
        except _Failed:
            self.status.value = _FAILED_HTML
            return None
        except FmcError as exc:
            self.status.value = _error_html(exc)
            return None
        self.ranking = ranking
        with self.output:
            display(self.ranking)
        self.status.value = f"ranked {len(self.results)} model(s) on {self.x_var.value} / {self.y_var.value}"
        return self.ranking

    def finetune_selected(self):
        """Fine-tune the chosen model on x / y (:func:`fmc_jupyter.finetuning.finetune`), plotting each epoch."""
        self.output.clear_output()
        try:
            x, y = self._xy()
            if self.selected is None:
                raise FmcError("choose a model to fine-tune in the results first")
            from .finetuning import finetune

            self.plot.value = ""
            callback = _live_plot(self.plot)
            with self._busy(f"fine-tuning {html.escape(self.selected.ref)} for {self.epochs.value} epoch(s)…"):
                self.training_run = self._in_output(lambda: finetune(
                    self.selected.id, x, y, epochs=self.epochs.value, registry=self.registry, callbacks=[callback],
                    progress=False))
        except _Failed:
            self.status.value = _FAILED_HTML
            return None
        except FmcError as exc:
            self.status.value = _error_html(exc)
            return None
        acc = self.training_run.val_accuracy
        self.status.value = (f"training run {self.training_run.run_id} of {html.escape(self.selected.ref)}: "
                             f"validation accuracy {acc * 100:.1f}%; press 'keep as new version' or 'discard'")
        self.keep_button.disabled = self.discard_button.disabled = False
        # the curves are in the plot above, drawn once; the run's own card (with its notebook advice) is not repeated
        self.show_model()  # the card now lists the run
        return self.training_run

    def decide(self, outcome: str):
        """``keep``: store the last training run's model as a new version (``TrainingRun.keep``); ``discard``."""
        run = self.training_run
        try:
            if run is None:
                raise FmcError("fine-tune a model first")
            result = run.keep() if outcome == "keep" else run.discard()
        except FmcError as exc:
            self.status.value = _error_html(exc)
            return None
        self.keep_button.disabled = self.discard_button.disabled = True
        if result is not None:
            self.refresh()  # the new version joins the results
            self.status.value = f"kept as {html.escape(result.ref)} (id {result.id})"
        else:
            self.status.value = f"training run {run.run_id} discarded (its record stays)"
        self.show_model()
        return result


class _Busy:
    """Context manager of :meth:`ModelBrowser._busy`: disables the action buttons, shows ``message``."""

    def __init__(self, browser: ModelBrowser, message: str):
        self.browser, self.message = browser, message
        self.buttons = [browser.rank_button, browser.finetune_button, browser.refresh_button]
        self.before: list[bool] = []

    def __enter__(self) -> "_Busy":
        self.before = [b.disabled for b in self.buttons]
        self.browser.status.value = f"<i>{self.message}</i>"
        for button in self.buttons:
            button.disabled = True
        return self

    def __exit__(self, *exc: Any) -> None:
        for button, was in zip(self.buttons, self.before):
            button.disabled = was


def _live_plot(target):
    """A Keras callback that redraws the loss/accuracy curves into the HTML widget ``target`` after every epoch."""
    import keras

    from .report import curves_figure, figure_html

    class LivePlot(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.history: list[dict[str, Any]] = []

        def on_epoch_end(self, epoch, logs=None):
            self.history.append({"epoch": epoch, **(logs or {})})
            target.value = figure_html(curves_figure(self.history), dpi=72)

    return LivePlot()


def _notebook_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def ui(registry=None, query: str = "", namespace: dict[str, Any] | None = None) -> ModelBrowser:
    """The model browser over ``registry`` (default: the embedded registry), starting from ``query``.

    ``namespace`` is where x / y variables are looked up (default: the notebook's namespace).
    """
    if registry is None:
        from . import open_registry

        registry = open_registry()
    return ModelBrowser(registry, query=query, namespace=namespace)
