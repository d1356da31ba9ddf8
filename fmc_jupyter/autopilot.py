"""``fmc.auto``: "give me a finished model" — rank, short trials with successive halving, full fine-tune, report.

::

    result = fmc.auto(x, y, models="params<5M", registry=reg)
    result.run.keep()          # or result.run.discard()

1. Rank the candidate models on the data (:func:`fmc_jupyter.ranking.rank`, transferability estimates
   on ``per_class`` images per class) and take the top ``k`` (or use ``candidates`` as given).
2. Successive halving (Jamieson & Talwalkar, AISTATS 2016): round ``r`` trains every surviving model
   for ``trial_epochs * eta**r`` epochs (a frozen-backbone head, on features computed once per model)
   and keeps the best ``ceil(n_r / eta)`` by validation accuracy (ties: lower validation loss), until
   one is left. Every trial is a training run of kind ``trial`` in the registry (outcome ``discarded``).
3. The winner is fine-tuned for ``epochs`` with the caller's settings, and its report is written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import FmcError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from .records import ModelRecord
    from .registry import Registry
    from .report import TrainingReport
    from .training.run import TrainingRun

__all__ = ["auto", "AutoResult", "top_models"]

#: keyword options ``auto`` passes on to the winner's fine-tune
_FINETUNE_OPTIONS = frozenset({"unfreeze", "lr", "batch_size", "optimizer", "augment", "dropout", "callbacks",
                               "checkpoints", "tfds_data_dir"})


@dataclass
class AutoResult:
    """The ranking, every trial, the winning model and its full fine-tune with the report."""

    ranking: Any
    trials: pd.DataFrame
    winner: "ModelRecord"
    run: "TrainingRun"
    report: "TrainingReport"

    def __repr__(self) -> str:
        return (f"AutoResult(winner={self.winner.ref}, trials={len(self.trials)}, "
                f"val_accuracy={self.run.val_accuracy * 100:.1f}%, report={self.report.path})")

    def _repr_html_(self) -> str:
        head = (f"<h3>{html.escape(f'fmc.auto: {self.winner.ref} wins')}</h3><h4>Trials (successive halving)</h4>"
                + self.trials.to_html(index=False, float_format="%.3f"))
        return f"<div class='fmc-card'>{head}{self.report.body_html()}</div>"


def top_models(ranking: Any, k: int) -> list[int]:
    """Model ids of the best ``k`` rows of a ranking (``model_id`` and ``rank`` columns; rows with an error skipped)."""
    frame = ranking if isinstance(ranking, pd.DataFrame) else getattr(ranking, "frame", None)
    if frame is None:
        frame = ranking.to_frame() if hasattr(ranking, "to_frame") else pd.DataFrame(ranking)
    if "model_id" not in frame.columns:
        raise InputError("the ranking has no model_id column")
    if "error" in frame.columns:
        frame = frame[frame["error"].isna()]
    if "rank" in frame.columns:
        frame = frame.sort_values("rank", kind="stable")
    return [int(m) for m in frame["model_id"].tolist()[:k]]


def _score(run: "TrainingRun") -> tuple[float, float]:
    """Sort key of a trial, higher is better: (best validation accuracy, -validation loss at that epoch)."""
    hist = run.history
    best = hist.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    return float(best["val_accuracy"]), -float(best["val_loss"])


def auto(x: Any, y: Any = None, *, models: str | Sequence[Any] = "", registry: "Registry | None" = None,
         k: int = 4, per_class: int = 20, trial_epochs: int = 2, eta: int = 2, epochs: int = 10,
         candidates: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
         validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.2, seed: int = 0,
         progress: bool = True, **finetune_options: Any) -> AutoResult:
    """Rank ``models`` on ``(x, y)``, run short trials of the top ``k`` with successive halving, fine-tune the winner.

    ``x, y`` as for :func:`fmc.finetune` (arrays, or ``x`` = a registry dataset name).
    ``models``: a search query or a list of models for the ranking; ``candidates``: skip the ranking and
    try these models (in this order). ``finetune_options`` (``unfreeze``, ``augment``, ``lr``, ...)
    apply to the final fine-tune only; trials always train a head on a frozen backbone.
    """
    from .arguments import MAX_EPOCHS, whole
    from .finetuning import check_finetune_arguments, check_trainable, finetune, resolve_model
    from .ranking import check_rank_arguments
    from .registry import open_registry
    from .training.data import prepare_data

    # every argument, the final fine-tune's options included, is checked before the ranking writes anything
    k = whole(k, "k", 1, 1000, hint=" (how many top-ranked models get trials)")
    eta = whole(eta, "eta", 2, 100, hint=" (successive halving keeps 1/eta of the models each round)")
    trial_epochs = whole(trial_epochs, "trial_epochs", 1, MAX_EPOCHS)
    epochs = whole(epochs, "epochs", 1, MAX_EPOCHS)
    unknown = sorted(set(finetune_options) - _FINETUNE_OPTIONS)
    if unknown:
        raise InputError(f"auto got unknown option(s) {unknown}; the final fine-tune takes "
                         f"{', '.join(sorted(_FINETUNE_OPTIONS))}")
    check_finetune_arguments(epochs=epochs, validation_data=validation_data, validation_split=validation_split,
                             seed=seed, progress=progress, **finetune_options)
    if candidates is None:
        check_rank_arguments(x, y, models, per_class, None, seed, 10, None, class_names, None, True, progress, True)
    elif isinstance(candidates, (str, bytes)) or not isinstance(candidates, (list, tuple)) or not candidates:
        raise InputError("candidates must be a non-empty list of model names, ids or records (or None to rank)")
    reg = registry if registry is not None else open_registry()
    if isinstance(x, str):
        if y is not None:
            raise InputError(f"x is the text {x[:40]!r}, a registry dataset name, so y must be None "
                             "(its labels are stored with it)")
        stored = reg.load_dataset(x)
        x, y, class_names = stored.x, stored.y, list(stored.class_names)
    prepare_data(x, y, registry=reg, class_names=class_names, validation_data=validation_data,
                 validation_split=validation_split, seed=seed)  # reads and checks only
    if candidates is not None:
        for c in candidates:
            check_trainable(resolve_model(c, reg))
    ranking = None
    if candidates is not None:
        ids = [resolve_model(c, reg).id for c in candidates][:k]
    else:
        from .ranking import rank

        ranking = rank(x, y, models=models, registry=reg, per_class=per_class)
        ids = top_models(ranking, k)
    if not ids:
        raise FmcError("no candidate model to try: the ranking is empty or every model failed; widen `models`")

    common = dict(class_names=class_names, validation_data=validation_data, validation_split=validation_split,
                  seed=seed, registry=reg)
    cache: dict = {}
    rows: list[dict[str, Any]] = []
    survivors, round_no = list(ids), 0
    while True:
        budget = trial_epochs * eta ** round_no
        scored = []
        for model_id in survivors:
            record = reg.model(model_id)
            row = {"round": round_no, "model_id": model_id, "model": record.ref, "epochs": budget}
            try:
                trial = finetune(model_id, x, y, epochs=budget, kind="trial", feature_cache=cache,
                                 progress=False, **common)
            except FmcError as exc:  # a model that cannot be loaded or trained drops out
                rows.append({**row, "run_id": None, "val_accuracy": None, "val_loss": None, "error": str(exc)})
                continue
            acc, neg_loss = _score(trial)
            trial.discard()
            rows.append({**row, "run_id": trial.run_id, "val_accuracy": acc, "val_loss": -neg_loss, "error": None})
            scored.append(((acc, neg_loss), model_id))
            if progress:
                print(f"auto: round {round_no + 1}, {record.ref}: val accuracy {acc * 100:.1f}% "
                      f"after {budget} epochs", flush=True)
        if not scored:
            raise FmcError("every candidate failed its trial; see the trials' errors: "
                           + "; ".join(f"{r['model']}: {r['error']}" for r in rows if r["error"]))
        scored.sort(key=lambda s: s[0], reverse=True)
        survivors = [m for _, m in scored[:max(1, math.ceil(len(scored) / eta))]]
        if len(survivors) == 1:
            break
        round_no += 1
    winner = reg.model(survivors[0])
    if progress:
        print(f"auto: {winner.ref} wins; fine-tuning it for {epochs} epochs", flush=True)
    run = finetune(winner.id, x, y, epochs=epochs, feature_cache=cache, progress=progress,
                   **common, **finetune_options)
    trials = pd.DataFrame(rows, columns=["round", "model_id", "model", "epochs", "run_id", "val_accuracy",
                                         "val_loss", "error"])
    return AutoResult(ranking, trials, winner, run, run.report())
