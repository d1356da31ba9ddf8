"""Model recommendation: rank catalog models for the user's own labelled images, without fine-tuning them.

``fmc.rank(x, y, models="params<10M", registry=reg, per_class=20)`` draws a seeded stratified slice of
``per_class`` images per class, extracts every candidate's penultimate features (cached on disk, see
:mod:`fmc_jupyter.zoo.features`), scores them with transferability estimators (:mod:`fmc_jupyter.estimators`),
combines the scores by rank averaging, estimates how stable the top of the ranking is by re-scoring random
sub-slices, and stores the result in the registry against the (slice) dataset.

Default method
--------------
``DEFAULT_METHODS`` are computed and ``DEFAULT_COMBINATION`` orders the table (column ``combined``): the
coverage-weighted rank average (:func:`fmc_jupyter.estimators.rank_average`; a missing score is missing, a
lone score has no rank) of LogME, the linear probe, H-score, the ImageNet top-1 prior (models where it is known)
and the ``records`` vote (the registry's own evaluations and runs on the nearest datasets,
:mod:`fmc_jupyter.similarity`; absent, so without effect, in a registry without records).

How it was chosen: ``benchmarks/ranking_quality.py``, leave-one-dataset-out (LODO) on the 7 real datasets of
``../shared/data`` (objects, handwriting, chest X-ray, hand signs, blood cells, clothing, maize leaves) and 10 real
candidates (7 int8 TFLite MobileNets incl. iNat birds/insects, Keras MobileNet 0.25, SqueezeNet 1.1 and a cat/dog
MobileNet as user files without a top-1); ground truth = held-out accuracy of a logistic-regression probe on
frozen features (25 training / 15 test images per class), 3 seeds. Three selection rules were each scored on
the dataset they did not see; mean tau_w over 5/10/20/50 images per class:

    pick the best of ~250 combinations, one for all sizes   0.398
    pick the best combination per slice size               0.429
    rank average of the 3 best single scores + top1       0.471   (top-1 rel. accuracy 0.964, top-3 hit 0.79)
    old default R(knn, linear_probe, top1), old combine    0.475 in-sample (it gave a lone prior full credit)

Picking one combination overfits seven datasets that disagree; hedging over the three best single scores does
not, and it picks LogME, the linear probe and H-score for 5 of the 7 held-out datasets (the other two swap one of
them for kNN or LEEP). Applied to all 7 that is the default: 0.447 / 0.503 / 0.550 / 0.520 tau_w at 5 / 10 / 20
/ 50 per class (in-sample; top-1 relative accuracy 0.967). Per dataset it ranges from 0.18 (maize leaves: all
candidates within 8 points) to 0.79 (clothing): expect the mean, not every dataset, to carry over. The top-1
prior alone scores 0.49 here because the 4 candidates without one happen to be weak; it is one vote of four.
``benchmarks/records.py`` measures the records vote the same way (LODO, records of the other datasets).

Stability
---------
``bootstrap`` times, every class of the slice is sub-sampled to 80% without replacement (a sample *with*
replacement would put exact duplicates next to each other and inflate kNN's leave-one-out accuracy), every
model is re-scored on those rows of its cached features, and ``top1`` / ``top3`` report how often each model
lands first / in the first three.
"""

from __future__ import annotations

import html
import json
import os
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .arrays import check_labelled, stratified_indices
from .dataset_identity import dataset_of_arrays, slice_of
from .errors import FmcError, InputError
from .estimators import ESTIMATORS, rank_average
from .records import ModelRecord

__all__ = ["rank", "check_rank_arguments", "Ranking", "DEFAULT_METHODS", "DEFAULT_COMBINATION", "PRIOR_METHOD", "score_features",
           "combine_scores"]

#: pseudo-method: the model's ImageNet top-1 accuracy (a prior), NaN where unknown
PRIOR_METHOD = "top1"
#: pseudo-method: the registry's own records on the nearest datasets (:func:`fmc_jupyter.similarity.records_scores`)
RECORDS_METHOD = "records"
_FIXED = (PRIOR_METHOD, RECORDS_METHOD)
#: what ``methods=None`` computes
DEFAULT_METHODS: tuple[str, ...] = ("hscore", "leep", PRIOR_METHOD, RECORDS_METHOD, "logme", "knn", "linear_probe")
#: the methods rank-averaged into the ``combined`` column when ``methods=None`` (weights 1)
DEFAULT_COMBINATION: tuple[str, ...] = ("logme", "linear_probe", "hscore", PRIOR_METHOD, RECORDS_METHOD)
MIN_PER_CLASS = 2
MIN_IMAGE_SIDE = 8
SUBSAMPLE_FRACTION = 0.8


def _known_methods() -> list[str]:
    return sorted(ESTIMATORS) + list(_FIXED)


def score_features(features: np.ndarray, probs: np.ndarray | None, labels: np.ndarray, methods: Sequence[str],
                   prior: Any = None) -> tuple[dict[str, float], dict[str, str]]:
    """Each method's score of one model: ``({method: score}, {method: error})``; NaN where it does not apply.

    ``prior``: the model's ImageNet top-1 (or None), or ``{"top1": ..., "records": ...}`` for the scores that do
    not depend on the features."""
    fixed = dict(prior) if isinstance(prior, dict) else {PRIOR_METHOD: prior}
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    for method in methods:
        if method in _FIXED:
            value = fixed.get(method)
            scores[method] = float(value) if value is not None and np.isfinite(value) else float("nan")
            continue
        fn, kind = ESTIMATORS[method]
        data = features if kind == "features" else probs
        if data is None:
            scores[method] = float("nan")       # no source head: LEEP / NCE do not apply
            continue
        try:
            scores[method] = float(fn(data, labels))
        except (FmcError, ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            scores[method] = float("nan")
            errors[method] = f"{type(exc).__name__}: {exc}"
    return scores, errors


def combine_scores(table: dict[str, np.ndarray], combination: Sequence[str]) -> np.ndarray:
    """Rank average of ``table[method] (M,)`` over ``combination``; ``(M,)``."""
    return rank_average({m: table[m] for m in combination if m in table})


class Ranking:
    """The result of :func:`rank`: a table with one row per candidate model, best first.

    Columns: ``rank``, ``model`` (``name:vN``), ``model_id``, ``combined`` (rank average in [0, 1]), each
    method's raw score, ``top1`` / ``top3`` stability frequencies (``top1_freq``, ``top3_freq``), ``seconds``
    (feature extraction + scoring), ``cached`` (features came from the cache), ``error`` (why a model could not
    be scored) and ``notes`` (methods that failed for a model that was still ranked on the others). DataFrame
    attributes and indexing are forwarded to the table (``ranking.head()``, ``ranking["logme"]``).
    """

    def __init__(self, table: pd.DataFrame, *, methods: Sequence[str], combination: Sequence[str],
                 dataset: Any = None, ranking_id: int | None = None, per_class: int | None = None,
                 seed: int = 0, seconds: float = 0.0, num_examples: int = 0, num_classes: int = 0):
        self.table = table
        self.methods = tuple(methods)
        self.combination = tuple(combination)
        self.dataset = dataset
        self.ranking_id = ranking_id
        self.per_class = per_class
        self.seed = seed
        self.seconds = seconds
        self.num_examples = num_examples
        self.num_classes = num_classes
        #: ``[(dataset name, distance)]`` whose records gave the ``records`` vote
        self.records_from: list[tuple[str, float]] = []
        #: a budgeted ranking (:mod:`fmc_jupyter.ranking_budget`): its budget in seconds and images per class per rung
        self.budget_s: float | None = None
        self.rungs: tuple[int, ...] = ()

    # DataFrame-like behaviour
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "table":
            raise AttributeError(name)
        return getattr(self.table, name)

    def __getitem__(self, key: Any) -> Any:
        return self.table[key]

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self):
        return iter(self.table)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table."""
        return self.table.copy()

    @property
    def best(self) -> str | None:
        """``name:vN`` of the top-ranked model (None when every model failed)."""
        ok = self.table[self.table["error"].isna()]
        return None if ok.empty else str(ok.iloc[0]["model"])

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of models that could not be scored, with their error."""
        return self.table[self.table["error"].notna()][["model", "model_id", "error"]]

    def _title(self) -> str:
        name = getattr(self.dataset, "label", None) or getattr(self.dataset, "name", None) or "your images"
        if self.budget_s is not None:
            text = (f"Ranking of {len(self.table)} models on {name} within {self.budget_s:.0f} s (took "
                    f"{self.seconds:.0f} s; successive halving over {'/'.join(map(str, self.rungs))} images per class, "
                    f"{self.num_classes} classes; combined = rank average of {', '.join(self.combination)})")
        else:
            text = (f"Ranking of {len(self.table)} models on {name} ({self.num_examples} images, {self.num_classes} "
                    f"classes; combined = rank average of {', '.join(self.combination)})")
        if self.records_from:
            text += "; records from " + ", ".join(f"{n} (distance {d:.2f})" for n, d in self.records_from)
        return text

    def __repr__(self) -> str:
        return f"{self._title()}\n{self.table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        fmt = {c: "{:.4g}".format for c in self.table.columns if self.table[c].dtype.kind == "f"}
        body = self.table.to_html(index=False, na_rep="–", formatters=fmt, escape=True)
        note = f"<p>{len(self.failed)} model(s) failed; see the error column.</p>" if len(self.failed) else ""
        return f"<div class='fmc-ranking'><h4>{html.escape(self._title())}</h4>{body}{note}</div>"

    def plot(self, ax=None, column: str = "combined"):
        """Horizontal bar chart of ``column`` (default: the combined score), best on top; returns the Axes."""
        import matplotlib.pyplot as plt

        if column not in self.table.columns:
            raise InputError(f"no column {column!r} to plot; choose one of {list(self.table.columns)}")
        ok = self.table[self.table["error"].isna() & self.table[column].notna()]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.4 * max(len(ok), 2) + 1))
        ax.barh(ok["model"].astype(str)[::-1], ok[column].astype(float)[::-1], color="#4c72b0")
        ax.set_xlabel(column if column != "combined" else "combined score (rank average, 1 = best)")
        ax.set_title(getattr(self.dataset, "label", None) or getattr(self.dataset, "name", None) or "ranking")
        ax.figure.tight_layout()
        return ax


def _resolve_models(registry, models) -> list[ModelRecord]:
    if isinstance(models, ModelRecord):
        models = [models]
    if isinstance(models, str):
        frame = registry.search(models, limit=None, columns=["id"], order_by="id")
        records = [registry.model(int(i)) for i in frame["id"]]
        if not records:
            raise InputError(f"no model you can see matches {models!r}; try a wider query (reg.search(...))")
        return records
    if models is None:
        raise InputError("models must be a query string or a list of model names / ids / records")
    try:
        refs = list(models)
    except TypeError:
        raise InputError(f"models must be a query string or a list, not {type(models).__name__}") from None
    if not refs:
        raise InputError("models is empty; give at least one model")
    records, seen = [], set()
    for ref in refs:
        record = registry.model(ref)
        if record.id not in seen:
            seen.add(record.id)
            records.append(record)
    return records


def _check_methods(methods) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if methods is None:
        return DEFAULT_METHODS, DEFAULT_COMBINATION
    if isinstance(methods, str):
        methods = [methods]
    methods = tuple(dict.fromkeys(str(m).lower() for m in methods))
    if not methods:
        raise InputError("methods is empty; pass None for the default or names from " + ", ".join(_known_methods()))
    bad = [m for m in methods if m not in _known_methods()]
    if bad:
        raise InputError(f"unknown method(s) {bad}; choose from {', '.join(_known_methods())}")
    return methods, methods


def _subsample(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(MIN_PER_CLASS, int(round(SUBSAMPLE_FRACTION * len(idx))))
        picks.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(picks))


def _stability(feats: dict[int, Any], labels: np.ndarray, methods, combination, priors, bootstrap: int,
               seed: int) -> tuple[dict[int, float], dict[int, float]]:
    ids = list(feats)
    top1 = {i: 0 for i in ids}
    top3 = {i: 0 for i in ids}
    if bootstrap <= 0 or len(ids) == 0:
        return {i: float("nan") for i in ids}, {i: float("nan") for i in ids}
    if len(ids) == 1:                      # a single candidate is always first: nothing to re-score
        return {ids[0]: 1.0}, {ids[0]: 1.0}
    feats = {i: (np.asarray(f, dtype=np.float64), p) for i, (f, p) in feats.items()}   # convert once
    rng = np.random.default_rng(seed + 1)
    used = [m for m in combination if m in methods]
    for _ in range(bootstrap):
        rows = _subsample(labels, rng)
        table = {m: np.full(len(ids), np.nan) for m in used}
        for j, i in enumerate(ids):
            f, p = feats[i]
            scores, _ = score_features(f[rows], None if p is None else p[rows], labels[rows], used, priors[i])
            for m in used:
                table[m][j] = scores[m]
        combined = combine_scores(table, used)
        order = [ids[j] for j in np.argsort(-np.nan_to_num(combined, nan=-np.inf), kind="stable")]
        top1[order[0]] += 1
        for i in order[:3]:
            top3[i] += 1
    return {i: top1[i] / bootstrap for i in ids}, {i: top3[i] / bootstrap for i in ids}


def _cached_stability(feats, feature_keys, labels, methods, combination, priors, bootstrap, seed, cache):
    """:func:`_stability`, remembered on disk next to the feature cache (keyed by the feature cache keys, labels,
    methods, priors, ``bootstrap`` and ``seed``) so that re-running the same ranking does not re-score."""
    import hashlib

    from .config import cache_dir

    ids = list(feats)
    parts = [[feature_keys[i] for i in ids], [priors[i] for i in ids], labels.tolist(), list(methods),
             list(combination), bootstrap, seed, SUBSAMPLE_FRACTION]
    key = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    path = cache_dir() / "stability" / f"{key}.json"
    if cache and path.is_file():
        try:
            saved = json.loads(path.read_text())
            return ({i: saved["top1"][str(i)] for i in ids}, {i: saved["top3"][str(i)] for i in ids})
        except (ValueError, KeyError):
            pass
    top1, top3 = _stability(feats, labels, methods, combination, priors, bootstrap, seed)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"top1": {str(k): v for k, v in top1.items()},
                                   "top3": {str(k): v for k, v in top3.items()}}))
        os.replace(tmp, path)
    return top1, top3


def _load_input(x, y, registry, class_names):
    """(LabelledImages, dataset record or None) from arrays or a registry dataset name."""
    if isinstance(x, str):
        if y is not None:
            raise InputError("x names a registry dataset, so y must be None (its labels are stored with it)")
        record = registry.dataset(x)
        data = registry.load_dataset(record)
        return check_labelled(data.x, data.y, data.class_names, min_per_class=MIN_PER_CLASS), record
    if y is None:
        raise InputError("y (the labels) is missing; pass rank(x, y, ...) or a registry dataset name as x")
    return check_labelled(x, y, class_names, min_per_class=MIN_PER_CLASS), None


def check_rank_arguments(x: Any, y: Any, models: Any, per_class: Any, methods: Any, seed: Any, bootstrap: Any,
                         dataset_name: Any, class_names: Any, layer: Any, cache: Any, progress: Any,
                         save: Any) -> None:
    """Check every argument of :func:`rank` that needs no registry, before anything is read or written.

    The arrays themselves are checked by :func:`fmc_jupyter.arrays.check_labelled` (still before any write).
    """
    from .arguments import MAX_SEED, flag, text, whole

    if isinstance(x, str) and y is not None:
        raise InputError(f"x is the text {x[:40]!r}, a registry dataset name, so y must be None "
                             "(its labels are stored with it); "
                         "to rank on arrays pass the image array as x")
    if x is None:
        raise InputError("x is missing: pass images (N, H, W[, C]) and labels, or a registry dataset name")
    if not (isinstance(models, (str, ModelRecord)) or (isinstance(models, (list, tuple)) and models)):
        raise InputError(f"models must be a search query (e.g. 'params<10M') or a non-empty list of model names, "
                         f"ids or records, not {str(models)[:60]!r}")
    if isinstance(models, (list, tuple)):
        for ref in models:
            if isinstance(ref, bool) or not isinstance(ref, (str, int, np.integer, ModelRecord)):
                raise InputError(f"models lists {ref!r:.60}; each must be a model name, 'name:vN', id or record")
    if per_class is not None:
        whole(per_class, "per_class", MIN_PER_CLASS, 2 ** 31 - 1, hint=" (or None for all images)")
    if methods is not None and not isinstance(methods, str):
        if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
            raise InputError(f"methods must be a method name or a list of names from {', '.join(_known_methods())}"
                             f", not {str(methods)[:60]!r}")
    _check_methods(methods)
    whole(seed, "seed", 0, MAX_SEED)
    whole(bootstrap, "bootstrap", 0, 10_000, hint=" (0 skips the stability estimate)")
    text(dataset_name, "dataset_name", allow_none=True, max_length=128)
    text(layer, "layer", allow_none=True)
    flag(cache, "cache")
    flag(progress, "progress")
    flag(save, "save")


def _records_vote(registry, dataset, images: np.ndarray, labels: np.ndarray, records: Sequence[ModelRecord], k: int,
                  save: bool, progress: bool) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """The ``records`` vote ``(M,)`` of the candidates from the registry's own evaluations and runs on the ``k``
    datasets nearest to the ranked images (and on this dataset itself, at distance 0), and ``[(dataset, distance)]``
    it came from. NaN everywhere (and no extraction at all) when the registry holds no records."""
    from .similarity import records_scores

    none = np.full(len(records), np.nan)
    if k <= 0:
        return none, []
    with_records = registry.datasets_with_records()
    own = getattr(dataset, "id", None)
    others = set(with_records) - {own}
    near: list[tuple[float, dict[str, float]]] = []
    origin: list[tuple[str, float]] = []
    if own in with_records:
        near.append((0.0, registry.dataset_records(own)))
        origin.append((dataset.name, 0.0))
    if others:
        try:
            frame = registry.similar_datasets(images, labels, k=k, store=save, among=others)
        except FmcError:          # no reference embedder here: rank without records
            frame = None
        for row in ([] if frame is None else frame.itertuples(index=False)):
            near.append((float(row.distance), registry.dataset_records(int(row.dataset_id))))
            origin.append((str(row.name), float(row.distance)))
    if not near:
        return none, []
    return records_scores([r.name for r in records], near), origin


def rank(x, y=None, models: str | Sequence[Any] = "params<10M", registry=None, per_class: int | None = 20,
         methods: Sequence[str] | str | None = None, seed: int = 0, bootstrap: int = 10,
         dataset_name: str | None = None, *, class_names: Sequence[str] | None = None, layer: str | None = None,
         cache: bool = True, progress: bool = True, save: bool = True, neighbours: int = 5,
         budget: Any = None, on_stage: Callable[[str, str], None] | None = None) -> Ranking:
    """Rank candidate models by how well they are expected to transfer to ``(x, y)``.

    Parameters
    ----------
    x : images ``(N, H, W)`` or ``(N, H, W, 1|3)``, uint8 (0..255) or float (0..255 scale), or the name of a
        registry dataset. Never modified.
    y : labels ``(N,)`` (ints or strings, mapped to contiguous ids); None when ``x`` is a dataset name.
    models : a search query (``"params<10M and domain=natural"``) or a list of names / ids / records.
    registry : the :class:`~fmc_jupyter.registry.Registry` (default: ``open_registry()``).
    per_class : images per class in the ranked slice (seeded stratified draw); None ranks on everything.
    methods : estimator names (``logme, knn, linear_probe, hscore, gbc, nleep, leep, nce`` and ``top1``, the
        ImageNet top-1 prior). None computes ``DEFAULT_METHODS`` and orders by ``DEFAULT_COMBINATION``; a list
        computes those methods and orders by their rank average.
    bootstrap : how many 80% sub-slices to re-score for the ``top1_freq`` / ``top3_freq`` stability columns
        (0 skips it). Each costs one scoring of every model with the combination's methods (no extraction).
    dataset_name : the name new images are registered under (default ``arrays-<content hash>``). Arrays equal to
        a registered dataset, or a subset of one, are recorded as that dataset (and the ranked slice as row
        indices into it), so nothing new is registered; new images are registered and reported (FmcWarning).
    layer : for user Keras files, a layer to read features from instead of the penultimate one.
    budget : a time budget (``"10min"``, ``"90s"``, seconds): rank a large catalog by successive halving over
        slice sizes (cheap signals and 5 images per class for every model, more images only for the leaders;
        column ``stage`` says how far each model got; see :mod:`fmc_jupyter.ranking_budget`). Nothing is
        stored; ``bootstrap`` does not apply. ``progress`` then shows every candidate with its stage (``waiting``,
        ``extracting 10/class``, ``10/class ✓ kept``, ``stopped at 10/class (dropped by halving)``, ...; see
        :mod:`fmc_jupyter.ranking_progress`).
    neighbours : how many of the nearest registered datasets (``reg.similar_datasets``) with evaluations or
        finished runs give the ``records`` vote (0: none). Without any records in the registry nothing is
        computed for it.
    on_stage : called as ``on_stage(model_ref, stage_text)`` while each model is scored: ``"extracting 20/class"``
        (``"extracting all images"`` with ``per_class=None``), then ``"scored 20/class"`` or ``"failed: <why>"``.
        With ``budget`` it also gets the budgeted stages (``"10/class ✓ kept"``, ``"stopped at 10/class (dropped
        by halving)"``, ``"weights unavailable here"``). An exception it raises stops the ranking.

    Returns a :class:`Ranking`; it is also stored with ``registry.save_ranking``. ``save=False`` writes nothing
    to the registry (no dataset, slice or ranking).
    A model that cannot be loaded or run is listed with its error; the others are still ranked.
    """
    from .registry import open_registry
    from .zoo.features import extract_features, images_hash
    from .zoo.sources import source_of

    check_rank_arguments(x, y, models, per_class, methods, seed, bootstrap, dataset_name, class_names, layer, cache,
                         progress, save)
    if on_stage is not None and not callable(on_stage):
        raise InputError(f"on_stage must be a function called as on_stage(model_ref, stage_text), not "
                         f"{type(on_stage).__name__}")
    if budget is not None:
        from .ranking_budget import rank_within_budget

        return rank_within_budget(x, y, models=models, registry=registry, budget=budget, per_class=per_class,
                                  methods=methods, seed=seed, class_names=class_names, layer=layer, cache=cache,
                                  progress=progress, save=save, neighbours=neighbours, dataset_name=dataset_name,
                                  on_stage=on_stage)
    t_start = time.perf_counter()
    registry = registry if registry is not None else open_registry()
    method_list, combination = _check_methods(methods)
    if per_class is not None and (not isinstance(per_class, (int, np.integer)) or per_class < MIN_PER_CLASS):
        raise InputError(f"per_class must be an integer >= {MIN_PER_CLASS} (or None for all images), got {per_class!r}")
    if not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise InputError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
    data, dataset = _load_input(x, y, registry, class_names)
    if min(data.x.shape[1], data.x.shape[2]) < MIN_IMAGE_SIDE:
        raise InputError(f"images of {data.x.shape[1]}x{data.x.shape[2]} px are too small to rank models on; "
                         f"every side must be at least {MIN_IMAGE_SIDE} px")
    if data.x.dtype != np.uint8 and float(data.x.max()) <= 1.0 + 1e-6 and float(data.x.min()) >= 0.0:
        raise InputError("x looks scaled to [0, 1]; pass 0..255 pixel values (e.g. x * 255): each model applies "
                         "its own preprocessing")
    records = _resolve_models(registry, models)
    rows = stratified_indices(data.y, per_class, seed)
    images = data.x[rows]
    labels = data.y[rows]
    if dataset is None:     # arrays: the registered dataset they are (or a slice of), else new images
        dataset = dataset_of_arrays(registry, data, save=save, name=dataset_name, source="arrays",
                                    description="images passed to fmc.rank", labels=y)
    if dataset is not None and len(rows) < len(data.y):
        dataset = slice_of(registry, dataset, rows, save=save)
    data_hash = images_hash(images)

    table = {m: np.full(len(records), np.nan) for m in method_list}
    errors: list[str | None] = [None] * len(records)
    notes: list[str | None] = [None] * len(records)
    seconds = np.zeros(len(records))
    cached = np.zeros(len(records), dtype=bool)
    feats: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    feature_keys: dict[int, str] = {}
    vote, records_from = _records_vote(registry, dataset, images, labels, records, neighbours, save, progress) \
        if RECORDS_METHOD in method_list else (np.full(len(records), np.nan), [])
    priors = {}
    slice_text = f"{per_class}/class" if per_class is not None else "all images"
    for j, record in enumerate(records):
        t0 = time.perf_counter()
        if on_stage is not None:
            on_stage(record.ref, f"extracting {slice_text}")
        priors[record.id] = {PRIOR_METHOD: record.top1, RECORDS_METHOD: None if np.isnan(vote[j]) else float(vote[j])}
        try:
            ex = extract_features(record, images, registry, layer=layer if source_of(record).reads_layers else None,
                                  data_hash=data_hash, cache=cache, progress=progress)
        except FmcError as exc:
            errors[j] = str(exc) if record.ref in str(exc) else f"{record.ref}: {exc}"
        except Exception as exc:  # a model that cannot be run must not stop the others
            errors[j] = f"{type(exc).__name__}: {exc} ({traceback.extract_tb(exc.__traceback__)[-1].name})"
        else:
            cached[j] = ex.cached
            feature_keys[record.id] = ex.key
            feats[record.id] = (ex.features, ex.probs)
            scores, method_errors = score_features(ex.features, ex.probs, labels, method_list, priors[record.id])
            for m, v in scores.items():
                table[m][j] = v
            if method_errors:
                text = "; ".join(f"{m}: {e}" for m, e in method_errors.items())
                if all(np.isnan(scores[m]) for m in method_list if m not in _FIXED):
                    errors[j] = text            # nothing could be scored: the model is not ranked
                else:
                    notes[j] = text             # some methods failed: ranked on the others
        seconds[j] = time.perf_counter() - t0
        if on_stage is not None:
            on_stage(record.ref, f"scored {slice_text}" if errors[j] is None else f"failed: {errors[j]}")

    ok = np.array([e is None for e in errors])
    combined = np.full(len(records), np.nan)
    if ok.any():
        combined[ok] = combine_scores({m: v[ok] for m, v in table.items()}, combination)
    top1, top3 = _cached_stability(feats, feature_keys, labels, method_list, combination, priors, bootstrap, seed,
                                   cache)

    frame = pd.DataFrame({
        "model": [r.ref for r in records],
        "model_id": [r.id for r in records],
        "combined": combined,
        **{m: table[m] for m in method_list},
        "top1_freq": [top1.get(r.id, np.nan) if ok[j] else np.nan for j, r in enumerate(records)],
        "top3_freq": [top3.get(r.id, np.nan) if ok[j] else np.nan for j, r in enumerate(records)],
        "seconds": seconds,
        "cached": cached,
        "error": errors,
        "notes": notes,
    })
    frame = frame.sort_values("combined", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", pd.array([i + 1 if ok_ else None for i, ok_ in
                                      enumerate(frame["error"].isna())], dtype="Int64"))
    total = time.perf_counter() - t_start
    method_name = "combined(" + "+".join(combination) + ")"
    ranking_id = None
    if save:
        ranking_id = registry.save_ranking(
            dataset, method_name,
            [{"model_id": int(r.model_id), "rank": None if pd.isna(r.rank) else int(r.rank),
              "score": None if pd.isna(r.combined) else float(r.combined),
              "scores": {m: (None if pd.isna(getattr(r, m)) else float(getattr(r, m))) for m in method_list},
              "stability": {"top1": None if pd.isna(r.top1_freq) else float(r.top1_freq),
                            "top3": None if pd.isna(r.top3_freq) else float(r.top3_freq), "bootstrap": bootstrap},
              "seconds": float(r.seconds), "error": r.error if isinstance(r.error, str) else None}
             for r in frame.itertuples(index=False)],
            per_class=per_class, seed=seed,
            models_query=models if isinstance(models, str) else json.dumps([r.ref for r in records]),
            seconds=total)
        registry.link_slice("rankings", ranking_id, dataset)
    ranking = Ranking(frame, methods=method_list, combination=combination, dataset=dataset, ranking_id=ranking_id,
                      per_class=per_class, seed=seed, seconds=total, num_examples=len(labels),
                      num_classes=int(len(np.unique(labels))))
    ranking.records_from = records_from
    return ranking

