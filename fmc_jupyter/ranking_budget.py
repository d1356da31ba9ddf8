"""Ranking a whole catalog within a time budget: ``fmc.rank(x, y, models="params<30M", budget="10min")``.

Successive halving (Jamieson & Talwalkar 2016; Li et al., "Hyperband", JMLR 2018) over slice sizes:

1. models whose weights are not available here were found out on an earlier call (remembered on disk next to the
   feature cache, keyed by model id and weights identity) and are listed at once with what to do, never retried;
2. rung 0 ranks every other candidate on a small slice (``RUNG_PER_CLASS[0]`` images per class) with every
   cheap signal (estimators, ImageNet top-1 prior, the registry's records);
3. each next rung keeps the better half of the survivors (by the combined score of the last rung) and ranks them
   on more images per class, as long as the projected time (seconds per image and model measured on the last
   rung) fits in what is left of the budget;
   The slices are nested (the same seeded draw, more per class), and a kept model's features of the images it
   was already scored on are reused (:func:`fmc_jupyter.zoo.features.features_memo`): each image is extracted
   once per model;
4. the table lists models by how far they got (the deepest rung first), then by their combined score there;
   ``stage`` says where each model stopped (``"20/class"``, or why it was not ranked), ``images_per_class``
   the images per class of that rung and ``images_used`` how many images the model was scored on over all its
   rungs (each rung draws its own slice; cached features are counted too).

While it runs, ``progress=True`` shows every candidate with its current stage (``waiting``, ``extracting
10/class``, ``10/class ✓ kept``, ``stopped at 10/class (dropped by halving)``, ``weights unavailable here``;
:mod:`fmc_jupyter.ranking_progress`), and ``on_stage(model_ref, stage_text)`` receives the same changes.

A model that fails to load with a missing-weights error is remembered as unavailable; clear the memory by
deleting ``<cache dir>/unavailable_models.json``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import numpy as np
import pandas as pd

from .config import cache_dir
from .errors import InputError
from .zoo.features import features_memo

__all__ = ["parse_budget", "rank_within_budget", "RUNG_PER_CLASS"]

#: images per class at each rung (capped by the ``per_class`` asked for)
RUNG_PER_CLASS = (5, 10, 20, 50)
_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600}
_MISSING_WEIGHTS = re.compile(r"weights are not in Keras's cache|cannot be downloaded|URL fetch failure|"
                              r"Failed to resolve|no stored file|No such file or directory|does not exist|File not found", re.I)


def parse_budget(budget: Any) -> float:
    """Seconds from ``600``, ``"600s"``, ``"10min"``, ``"1.5 h"``; :class:`InputError` otherwise."""
    if isinstance(budget, bool):
        raise InputError(f"budget must be seconds or a duration like '10min', not {budget!r}")
    if isinstance(budget, (int, float, np.integer, np.floating)):
        seconds = float(budget)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(budget))
        if not m or (m.group(2) and m.group(2).lower() not in _UNITS):
            raise InputError(f"budget {budget!r} is not a duration; write e.g. '90s', '10min' or '1h'")
        seconds = float(m.group(1)) * _UNITS.get(m.group(2).lower() or "s", 1)
    if not np.isfinite(seconds) or seconds <= 0:
        raise InputError(f"budget must be positive, got {budget!r}")
    return seconds


def _memory_path():
    return cache_dir() / "unavailable_models.json"


def _weights_key(record) -> str:
    return f"{record.id}|{record.sha256 or json.dumps(record.source, sort_keys=True, default=str)}"


def _unavailable() -> dict[str, str]:
    try:
        return json.loads(_memory_path().read_text())
    except (OSError, ValueError):
        return {}


def _remember_unavailable(found: dict[str, str]) -> None:
    if not found:
        return
    from .registry.artifacts import write_atomic

    known = {**_unavailable(), **found}
    write_atomic(_memory_path(), lambda fh: fh.write(json.dumps(known, indent=1).encode()))


def _short(error: str, limit: int = 80) -> str:
    line = error.strip().splitlines()[0] if error.strip() else error
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _planned(alive: int, rungs_left: int) -> int:
    """Model-rungs successive halving takes for ``alive`` models over ``rungs_left`` rungs (if the budget allows)."""
    total = 0
    for _ in range(rungs_left):
        total += alive
        alive = max(1, (alive + 1) // 2)
    return total


def rank_within_budget(x, y, *, models, registry, budget, per_class, methods, seed, class_names, layer, cache,
                       progress, save, neighbours, dataset_name, on_stage=None) -> Any:
    """:func:`fmc_jupyter.ranking.rank` by successive halving within ``budget`` (module docstring).

    ``progress`` shows every candidate with its stage (:class:`fmc_jupyter.ranking_progress.StageBoard`);
    ``on_stage(model_ref, stage_text)`` gets every stage change (also with ``progress=False``)."""
    from .ranking import Ranking, _resolve_models, rank
    from .ranking_progress import UNAVAILABLE, StageBoard
    from .registry import open_registry

    t0 = time.perf_counter()
    seconds = parse_budget(budget)
    registry = registry if registry is not None else open_registry()
    candidates = _resolve_models(registry, models)
    memory = _unavailable()
    skipped = {r.id: memory[_weights_key(r)] for r in candidates if _weights_key(r) in memory}
    alive = [r for r in candidates if r.id not in skipped]
    by_id = {r.id: r for r in candidates}
    cap = per_class if per_class is not None else max(RUNG_PER_CLASS)
    rungs = sorted({min(p, cap) for p in RUNG_PER_CLASS})
    last: dict[int, tuple[int, pd.Series]] = {}     # model id -> (rung, its row there)
    images_used: dict[int, int] = {r.id: 0 for r in candidates}
    result = None
    newly_unavailable: dict[str, str] = {}
    board = StageBoard([r.ref for r in candidates], enabled=progress, on_stage=on_stage,
                       title=f"ranking within {seconds:.0f} s")

    def hook(ref: str, stage: str) -> None:      # rank's per-model events: extracting, then scored / failed
        board.set(ref, stage)
        if not stage.startswith("extracting"):
            board.advance()

    with features_memo():       # nested rungs: each image's features are extracted once per model
        try:
            if skipped:
                for record in candidates:
                    if record.id in skipped:
                        board.set(record.ref, UNAVAILABLE)
                board.report(f"{len(skipped)} model(s) skipped: their weights were not available here on an earlier "
                             f"call (delete {_memory_path()} to try them again)")
            for level, pc in enumerate(rungs):
                if not alive:
                    break
                board.start_rung(pc, len(alive), _planned(len(alive), len(rungs) - level))
                t_rung = time.perf_counter()
                result = rank(x, y, models=[r.id for r in alive], registry=registry, per_class=pc, methods=methods,
                              seed=seed, bootstrap=0, class_names=class_names, layer=layer, cache=cache, progress=False,
                              save=False, neighbours=neighbours, on_stage=hook)
                spent = time.perf_counter() - t_rung
                for row in result.table.itertuples(index=False):
                    err = row.error
                    record = by_id[int(row.model_id)]
                    if isinstance(err, str) and _MISSING_WEIGHTS.search(err):
                        newly_unavailable[_weights_key(record)] = err
                        skipped[record.id] = err
                        board.set(record.ref, UNAVAILABLE)
                        continue
                    last[record.id] = (level, pd.Series(row._asdict()))
                    if isinstance(err, str):
                        board.set(record.ref, f"failed at {pc}/class: {_short(err)}")
                    else:
                        images_used[record.id] += result.num_examples
                ok = result.table[result.table["error"].isna()]
                summary = f"{pc}/class: {len(alive)} model(s) in {spent:.0f} s ({time.perf_counter() - t0:.0f} s of " \
                          f"{seconds:.0f} s)"
                if level == len(rungs) - 1 or len(ok) <= 1:
                    for ref in ok["model"]:
                        board.set(ref, f"{pc}/class ✓ done" if len(ok) > 1 or level == len(rungs) - 1
                                  else f"{pc}/class ✓ the only one left")
                    board.report(summary)
                    break
                keep = ok.head(max(1, (len(ok) + 1) // 2))
                kept_ids = {int(i) for i in keep["model_id"]}
                for ref, model_id in zip(ok["model"], ok["model_id"]):
                    if int(model_id) not in kept_ids:
                        board.set(ref, f"stopped at {pc}/class (dropped by halving)")
                per_model_image = spent / max(len(alive), 1) / max(result.num_examples, 1)
                next_images = result.num_examples * rungs[level + 1] / pc
                projected = per_model_image * next_images * len(keep)
                if time.perf_counter() - t0 + projected > seconds:
                    why = f"{len(keep)} model(s) on {rungs[level + 1]}/class would take ~{projected:.0f} s more"
                    for ref in keep["model"]:
                        board.set(ref, f"{pc}/class ✓ kept; stopped by the budget")
                    board.report(summary)
                    board.note(f"stopped: {why} than the budget leaves")
                    break
                for ref in keep["model"]:
                    board.set(ref, f"{pc}/class ✓ kept")
                board.report(summary)
                alive = [r for r in alive if r.id in kept_ids]
        finally:
            board.close()
    _remember_unavailable(newly_unavailable)
    rows = []
    for record in candidates:
        if record.id in last:
            level, row = last[record.id]
            row = row.copy()
            row["stage"] = f"{rungs[level]}/class" + ("" if pd.isna(row.get("error")) else " (failed)")
            row["images_per_class"] = rungs[level] if pd.isna(row.get("error")) else None
            row["_depth"] = level if pd.isna(row.get("error")) else -1
            rows.append(row)
        else:
            why = skipped.get(record.id, "not reached")
            rows.append(pd.Series({"model": record.ref, "model_id": record.id, "error": why, "_depth": -2,
                                   "images_per_class": None,
                                   "stage": "weights unavailable here: register a local file of it "
                                            "(reg.add_model) or run where its weights can be downloaded"
                                            if record.id in skipped else "not reached"}))
    frame = pd.DataFrame(rows)
    frame["images_per_class"] = pd.array(frame["images_per_class"], dtype="Int64")
    frame["images_used"] = [images_used[int(i)] for i in frame["model_id"]]
    frame = frame.sort_values(["_depth", "combined"], ascending=[False, False], na_position="last",
                              kind="stable").drop(columns=["_depth", "rank"], errors="ignore").reset_index(drop=True)
    frame.insert(0, "rank", pd.array([i + 1 if pd.isna(e) else None for i, e in enumerate(frame["error"])],
                                     dtype="Int64"))
    ranking = Ranking(frame, methods=result.methods if result is not None else (), combination=result.combination
                      if result is not None else (), dataset=result.dataset if result is not None else None,
                      per_class=per_class, seed=seed, seconds=time.perf_counter() - t0,
                      num_examples=result.num_examples if result is not None else 0,
                      num_classes=result.num_classes if result is not None else 0)
    ranking.records_from = result.records_from if result is not None else []
    ranking.budget_s = seconds
    ranking.rungs = tuple(rungs)
    del save, dataset_name  # a budgeted ranking is exploratory: nothing is stored
    return ranking
