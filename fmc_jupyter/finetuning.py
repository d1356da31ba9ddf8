"""``fmc.finetune``: train any registry model on any labelled images, recording everything as it goes.

::

    run = fmc.finetune("MobileNet_0.25_224", x, y, epochs=5, registry=reg)
    run.history; run.report(); run.keep()   # or run.keep_both() / run.discard()

Modes and their defaults (each can be overridden):

============  =========  =============  ==========  ======
mode          optimizer  learning rate  batch size  epochs
============  =========  =============  ==========  ======
head          Adam       3e-3           16          10
unfrozen      Adam       1e-4           16          5
============  =========  =============  ==========  ======

"head" (the default, ``unfreeze=0``) trains only the classification head on a frozen backbone. Without
augmentation the backbone's features are computed once (one forward pass over the images) and the
head is trained on them, which is the same optimisation problem as ``model.fit`` on the frozen full
model (BatchNormalization runs in inference mode either way) at a fraction of the cost.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .arguments import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_SEED, flag, optional_path, real, text, whole
from .errors import InputError, ModelLoadError
from .training.data import check_fraction
from .training.run import TrainingRun

if TYPE_CHECKING:  # pragma: no cover
    from .records import ModelRecord
    from .registry import Registry

__all__ = ["finetune", "TrainingRun", "MODE_DEFAULTS", "resolve_model", "check_finetune_arguments",
           "FinetuneArguments", "check_trainable",
           "records_defaults"]

MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "head": {"optimizer": "adam", "learning_rate": 3e-3, "batch_size": 16, "epochs": 10},
    "unfrozen": {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 16, "epochs": 5},
}
LOSS = "sparse_categorical_crossentropy"


def resolve_model(model: Any, registry: "Registry") -> "ModelRecord":
    """A registry model from a name / ``name:vN`` / id / ``ModelRecord`` / ranking row / ``Ranking`` (its top)."""
    from .records import ModelRecord

    if isinstance(model, ModelRecord):
        return registry.model(model.id)
    if hasattr(model, "iloc") and hasattr(model, "columns") and "model_id" in model.columns:  # a Ranking/DataFrame
        if len(model) == 0:
            raise InputError("the ranking is empty; nothing to fine-tune")
        return registry.model(int(model.iloc[0]["model_id"]))
    if hasattr(model, "get") and not isinstance(model, str) and model.get("model_id") is not None:  # a row
        return registry.model(int(model.get("model_id")))
    if hasattr(model, "to_frame") and callable(getattr(model, "to_frame")):
        frame = model.to_frame()
        if "model_id" in frame.columns:
            return resolve_model(frame, registry)
    if isinstance(model, (str, int, np.integer)):
        return registry.model(model)
    raise InputError(f"finetune takes a registry model (name, 'name:vN', id, record or ranking row), "
                     f"not {type(model).__name__}; register a Keras file first with reg.add_model(path)")


def _optimizer(name: Any, learning_rate: float):
    import keras

    if not isinstance(name, str):
        optimizer = name
        optimizer.learning_rate = learning_rate
        return optimizer
    try:
        return keras.optimizers.get({"class_name": name, "config": {"learning_rate": learning_rate}})
    except ValueError as exc:
        raise InputError(f"unknown optimizer {name!r}; use 'adam', 'adamw', 'sgd', 'rmsprop' or a "
                         "keras.optimizers.Optimizer") from exc


def _compile(model, optimizer: Any, learning_rate: float) -> None:
    model.compile(optimizer=_optimizer(optimizer, learning_rate), loss=LOSS, metrics=["accuracy"])


def _optimizer_config(model) -> dict[str, Any]:
    """The compiled optimizer's ``get_config()`` as plain JSON values."""
    config = {}
    for key, value in model.optimizer.get_config().items():
        if isinstance(value, (np.generic, np.ndarray)):
            value = value.tolist()
        config[key] = value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)
    return config


def _augmenter(augment: Any, seed: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """``augment``: False, True (flip, small rotation/zoom/translation), a list of Keras layers, or a callable."""
    if not augment:
        return None
    import keras

    if augment is True:
        layers = [keras.layers.RandomFlip("horizontal", seed=seed), keras.layers.RandomRotation(0.05, seed=seed),
                  keras.layers.RandomZoom(0.1, seed=seed), keras.layers.RandomTranslation(0.05, 0.05, seed=seed)]
        pipeline = keras.Sequential(layers, name="augmentation")
    elif isinstance(augment, (list, tuple)):
        try:
            pipeline = keras.Sequential(list(augment), name="augmentation")
        except (TypeError, ValueError) as exc:
            raise InputError(f"augment: a list must hold Keras preprocessing layers ({exc})") from None
    elif callable(augment):
        pipeline = augment
    else:
        raise InputError("augment must be False, True, a list of Keras preprocessing layers or a callable")

    def apply(batch: np.ndarray) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(pipeline(batch, training=True)), dtype=np.float32)

    return apply


def _resizing_extractor(backbone, in_size: int, out_size: int):
    """``Input(in_size) -> Resizing(out_size, bilinear) -> backbone``: the resize runs inside the compiled predict."""
    import keras

    inputs = keras.Input((in_size, in_size, 3))
    x = keras.layers.Resizing(out_size, out_size, interpolation="bilinear", antialias=in_size > out_size)(inputs)
    return keras.Model(inputs, backbone(x, training=False))


def _features(backbone, record, images: np.ndarray, batch_size: int, on_change, progress) -> tuple[np.ndarray, int]:
    """Backbone features ``(N, D)`` of raw images, preprocessed chunk by chunk (memory stays bounded).

    Every preprocessing mode is a per-channel affine map of the pixels (``tf``: x/127.5 - 1; ``torch``:
    (x/255 - mean)/std; ``caffe``: BGR minus mean; ``unit``; pass-through), and bilinear resizing is a
    convex combination of pixels, so the two commute: square images are preprocessed at their own size
    and resized inside the compiled backbone call, which avoids materialising the upsampled images.
    """
    from .training.batching import predict_in_batches
    from .zoo import preprocess_images

    size = int(record.input_size)
    predict, native = backbone.predict_on_batch, images.shape[1] == images.shape[2] != size
    if native:
        predict = _resizing_extractor(backbone, int(images.shape[1]), size).predict_on_batch
        record = replace(record, input_size=int(images.shape[1]))
    chunk, out = max(256, batch_size * 4), []
    progress.start_epoch(0, 1, len(images))
    for start in range(0, len(images), chunk):
        x = preprocess_images(record, images[start:start + chunk])
        feats, batch_size = predict_in_batches(predict, x, batch_size, on_change=on_change)
        out.append(feats.astype(np.float32))
        progress.advance(len(x))
    progress.close()
    return np.concatenate(out), batch_size


def _checkpoint_epochs(checkpoints: Sequence[int]) -> set[int]:
    """Validated checkpoint epochs (counted from 1)."""
    if checkpoints is None:
        return set()
    if isinstance(checkpoints, (int, np.integer)) and not isinstance(checkpoints, bool):
        checkpoints = [checkpoints]
    if isinstance(checkpoints, (str, bytes)) or not isinstance(checkpoints, (Sequence, set, frozenset, np.ndarray)):
        raise InputError(f"checkpoints must be a list of epoch numbers counted from 1, e.g. [2, 5], "
                         f"not {checkpoints!r}")
    return {whole(epoch, "each checkpoint epoch", 1, MAX_EPOCHS, hint=" (epochs are counted from 1)")
            for epoch in checkpoints}


def _save_checkpoint(reg: "Registry", clf: Any, base: "ModelRecord", run_id: int, epoch: int,
                     class_names: Sequence[str]) -> "ModelRecord":
    """Save the whole model as it is after ``epoch`` (0-based) and register it as a checkpoint version."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="fmc-checkpoint-") as tmp:
        path = Path(tmp) / f"{base.name.replace(' ', '_')}-run{run_id}-epoch{epoch + 1}.keras"
        clf.model.save(path)  # the registry copies it atomically into its store with its sha256
        return reg.add_checkpoint(path, run_id, epoch, labels=list(class_names), preprocessing=base.preprocessing,
                                  domain=base.domain or "natural", pretrained_on=base.pretrained_on,
                                  license=base.license, facts={"input_size": clf.input_size})


FINETUNE_KINDS = ("finetune", "trial", "lr_find")
_CALLBACK_METHODS = ("set_model", "on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


@dataclass(frozen=True)
class FinetuneArguments:
    """The scalar arguments of :func:`finetune`, checked and normalised (no data, no registry)."""

    epochs: int | None
    validation_split: float
    unfreeze: int | str
    lr: float | str | None
    batch_size: int | str | None
    optimizer: Any
    augment: Any
    dropout: float
    seed: int
    progress: bool
    callbacks: tuple[Any, ...]
    kind: str
    tfds_data_dir: str | None
    feature_cache: dict | None
    checkpoints: frozenset[int]


def check_finetune_arguments(*, epochs: Any = None, validation_data: Any = None, validation_split: Any = 0.2,
                             unfreeze: Any = 0, lr: Any = None, batch_size: Any = None, optimizer: Any = None,
                             augment: Any = False, dropout: Any = 0.2, seed: Any = 0, progress: Any = True,
                             callbacks: Any = (), kind: Any = "finetune", tfds_data_dir: Any = None,
                             feature_cache: Any = None, checkpoints: Any = ()) -> FinetuneArguments:
    """Check every argument of :func:`finetune` that is not data or a model; raise :class:`InputError`.

    Needs neither Keras nor a registry, so ``fmc.auto`` checks its final fine-tune's options before ranking.
    """
    if epochs is not None:
        epochs = whole(epochs, "epochs", 1, MAX_EPOCHS)
    if validation_data is None:
        validation_split = check_fraction(validation_split)
    else:
        validation_split = real(validation_split, "validation_split")
    if unfreeze is None or unfreeze is False:
        unfreeze = 0
    if unfreeze != "all":
        unfreeze = whole(unfreeze, "unfreeze", 0, hint=" (0 = head only, k = the top k backbone layers, or 'all')")
    if lr is not None and lr != "auto":
        lr = real(lr, "lr", 0, 10, open_low=True, hint=" (a learning rate such as 1e-3, 'auto' or None)")
    if batch_size is not None and batch_size != "auto":
        batch_size = whole(batch_size, "batch_size", 1, MAX_BATCH_SIZE, hint=" (or 'auto' or None)")
    if optimizer is not None and not isinstance(optimizer, str) and not hasattr(optimizer, "apply_gradients"):
        raise InputError(f"optimizer must be a name ('adam', 'adamw', 'sgd', 'rmsprop') or a "
                         f"keras.optimizers.Optimizer, not {type(optimizer).__name__}")
    if not (augment is None or isinstance(augment, (bool, np.bool_)) or callable(augment)
            or (isinstance(augment, (list, tuple)) and all(callable(layer) for layer in augment))):
        raise InputError("augment must be False, True, a list of Keras preprocessing layers or a callable, "
                         f"not {type(augment).__name__}")
    augment = bool(augment) if augment is None or isinstance(augment, (bool, np.bool_)) else augment
    dropout = real(dropout, "dropout", 0, 1, open_high=True)
    seed = whole(seed, "seed", 0, MAX_SEED)
    progress = flag(progress, "progress")
    if callbacks is None:
        callbacks = ()
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, (list, tuple)):
        callbacks = (callbacks,)
    for cb in callbacks:
        missing = [m for m in _CALLBACK_METHODS if not callable(getattr(cb, m, None))]
        if missing:
            raise InputError(f"callbacks must be Keras callbacks (keras.callbacks.Callback); {cb!r:.60} has no "
                             f"{', '.join(missing)}")
    kind = text(kind, "kind", choices=FINETUNE_KINDS)
    tfds_data_dir = optional_path(tfds_data_dir, "tfds_data_dir")
    if feature_cache is not None and not isinstance(feature_cache, dict):
        raise InputError(f"feature_cache must be a dict (shared between calls) or None, not "
                         f"{type(feature_cache).__name__}")
    wanted = _checkpoint_epochs(checkpoints)
    if wanted and epochs is not None and max(wanted) > epochs:
        raise InputError(f"checkpoint epoch {max(wanted)} is after the last epoch ({epochs})")
    return FinetuneArguments(epochs, validation_split, unfreeze, lr, batch_size, optimizer, augment or False,
                             dropout, seed, progress, tuple(callbacks), kind, tfds_data_dir, feature_cache,
                             frozenset(wanted))


def check_trainable(record: "ModelRecord") -> None:
    """Refuse a model that cannot be fine-tuned here (a TFLite file) before any data is read."""
    from .zoo.sources import source_of

    if not source_of(record).trainable:  # the source says (zoo/sources): TFLite files are inference only
        raise ModelLoadError(f"{record.ref} is a {record.source_kind}; it cannot be fine-tuned: only Keras models "
                             "can be fine-tuned (register a Keras .keras/.h5 file of it with reg.add_model(path), or "
                             "pick a Keras model: reg.search('format=keras or format=kerashub'))")


def records_defaults(reg: "Registry", data: Any, *, lr: Any, epochs: Any,
                     unfreeze: Any) -> tuple[Any, Any, Any, dict[str, Any] | None]:
    """``(lr, epochs, unfreeze, origin)``: the user's own settings when any is given (``unfreeze`` None -> 0);
    otherwise those of the best finished run (highest validation accuracy) on the registered dataset nearest to
    the training images (``reg.similar_datasets``; the training data's own dataset first, at distance 0), with
    ``origin`` saying which run, model and dataset they came from. ``(None, None, 0, None)`` when the registry
    has no finished run to learn from."""
    if lr is not None or epochs is not None or unfreeze is not None:
        return lr, epochs, 0 if unfreeze is None else unfreeze, None
    with_runs = set(reg.datasets_with_records(runs_only=True))
    if not with_runs:
        return None, None, 0, None
    own = getattr(data.dataset, "id", None)
    if own in with_runs:
        nearest, distance = own, 0.0
    else:
        from .errors import FmcError

        try:
            near = reg.similar_datasets(data.train.x, data.train.y, k=1, among=with_runs)
        except FmcError:                    # no reference embedder here: the mode defaults
            return None, None, 0, None
        if near.empty:
            return None, None, 0, None
        nearest, distance = int(near.loc[0, "dataset_id"]), float(near.loc[0, "distance"])
    best = reg.best_runs(nearest, limit=1)
    if best.empty:
        return None, None, 0, None
    row = best.iloc[0]
    unfreeze = row["unfreeze"] if row["unfreeze"] not in (None, False) else 0
    origin = {"dataset": reg.dataset(nearest).name, "distance": distance, "run_id": int(row["run_id"]),
              "model": str(row["model"]), "val_accuracy": float(row["val_accuracy"]),
              "learning_rate": float(row["learning_rate"]), "epochs": int(row["epochs"]), "unfreeze": unfreeze}
    return origin["learning_rate"], origin["epochs"], unfreeze, origin


def finetune(model: Any, x: Any = None, y: Any = None, *, epochs: int | None = None,
             registry: "Registry | None" = None, class_names: Sequence[str] | None = None,
             validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.2,
             unfreeze: int | str | None = None, lr: float | str | None = None, batch_size: int | str | None = None,
             optimizer: Any = None, augment: Any = False, dropout: float = 0.2, seed: int = 0,
             progress: bool = True, callbacks: Sequence[Any] = (), kind: str = "finetune",
             tfds_data_dir: str | None = None, feature_cache: dict | None = None,
             checkpoints: Sequence[int] = ()) -> TrainingRun:
    """Fine-tune a copy of ``model`` on labelled images; every epoch is recorded in ``registry`` as it ends.

    ``model``: registry name, ``name:vN``, id, record, ranking row or ``Ranking`` (its best model).
    ``x, y``: images ``(N, H, W[, C])`` and labels ``(N,)`` (ints or strings); or ``x`` = a registry
    dataset name, or ``"tfds:<name>[/<split>]"`` (read with ``tfds.load``; ``tfds_data_dir`` for offline data).
    ``validation_data=(x_val, y_val)`` or a stratified ``validation_split``.
    ``unfreeze``: 0 (head only), k (top k weighted backbone layers) or ``"all"``; BatchNorm stays frozen.
    When none of ``lr``, ``epochs``, ``unfreeze`` is given, they come from the best finished run on the nearest
    registered dataset that has runs (:func:`records_defaults`; said in a note and in ``run.config
    ["defaults_from"]``), else from the mode defaults (``unfreeze=0``).
    ``lr``: a number, ``"auto"`` (learning-rate range test, see :mod:`.training.lr_finder`) or None (mode default).
    ``batch_size``: a number, ``"auto"`` (start large, halve on out-of-memory) or None (mode default); any
    batch size is halved on out-of-memory and the training carries on (recorded in the run).
    ``augment``: False, True, a list of Keras layers or a callable on float batches.
    ``callbacks``: Keras callbacks (``on_epoch_end`` etc.; ``EarlyStopping`` works).
    ``feature_cache``: a dict reused across calls on the same data (``fmc.auto`` shares one between trials).
    ``checkpoints``: epochs, counted from 1, after which the model is stored as a version of its own
    (``reg.add_checkpoint``; private, parent = the base model), e.g. ``checkpoints=[2, 5]``; they are listed
    by ``reg.checkpoints(run.run_id)`` under the run's 0-based epoch index and in ``run.checkpoints``.

    Returns a :class:`TrainingRun`. A failure or Ctrl-C marks the run ``failed``/``interrupted`` (its
    epochs so far stay recorded) and re-raises.
    """
    import keras

    from .registry import open_registry
    from .training.batching import auto_batch_size
    from .training.data import prepare_data, register_data
    from .training.device import describe_device
    from .training.heads import build_classifier, set_unfrozen
    from .training.progress import Progress

    unfreeze_given = unfreeze is not None      # None: from the records of the nearest runs, else 0
    checked = check_finetune_arguments(
        epochs=epochs, validation_data=validation_data, validation_split=validation_split, unfreeze=unfreeze, lr=lr,
        batch_size=batch_size, optimizer=optimizer, augment=augment, dropout=dropout, seed=seed, progress=progress,
        callbacks=callbacks, kind=kind, tfds_data_dir=tfds_data_dir, feature_cache=feature_cache,
        checkpoints=checkpoints)
    epochs, validation_split, unfreeze, lr = checked.epochs, checked.validation_split, checked.unfreeze, checked.lr
    batch_size, augment, dropout, seed = checked.batch_size, checked.augment, checked.dropout, checked.seed
    progress, callbacks, wanted = checked.progress, checked.callbacks, set(checked.checkpoints)
    reg = registry if registry is not None else open_registry()
    record = resolve_model(model, reg)
    check_trainable(record)
    # everything below up to register_data only reads: a refused call leaves the registry as it was
    data = prepare_data(x, y, registry=reg, class_names=class_names, validation_data=validation_data,
                        validation_split=validation_split, seed=seed, tfds_data_dir=tfds_data_dir)
    lr, epochs, unfreeze, warm_start = records_defaults(reg, data, lr=lr, epochs=epochs,
                                                        unfreeze=unfreeze if unfreeze_given else None)
    keras.utils.set_random_seed(seed)
    clf = build_classifier(record, reg, data.train.class_names, dropout=dropout, seed=seed)
    unfrozen = set_unfrozen(clf, unfreeze)
    mode = "unfrozen" if unfrozen else "head"
    defaults = MODE_DEFAULTS[mode]
    use_features = mode == "head" and not augment
    epochs = int(epochs or defaults["epochs"])
    if wanted and max(wanted) > epochs:
        raise InputError(f"checkpoint epoch {max(wanted)} is after the last epoch ({epochs}); pass epochs>="
                         f"{max(wanted)} or drop that checkpoint")
    opt_name = optimizer if optimizer is not None else defaults["optimizer"]
    if batch_size == "auto":
        batch = auto_batch_size(len(data.train.y), use_features)
    elif batch_size is None:
        batch = defaults["batch_size"]
    else:
        batch = int(batch_size)
    rate = defaults["learning_rate"] if lr in (None, "auto") else float(lr)
    if isinstance(opt_name, str):
        _optimizer(opt_name, rate)  # an unknown name is refused here, not after the run was opened
    augmenter = _augmenter(augment, seed)
    data = register_data(reg, data)
    pre_record = replace(record, input_size=clf.input_size)
    config = {"mode": mode, "unfreeze": unfreeze, "unfrozen_layers": unfrozen, "augment": bool(augment),
              "features_once": use_features, "fresh_head": clf.fresh_head, "dropout": dropout, "seed": seed,
              "lr": lr if lr == "auto" else rate, "batch_size_requested": batch_size, "input_size": clf.input_size,
              "class_names": list(data.train.class_names), "train_examples": int(len(data.train.y)),
              "val_examples": int(len(data.val.y)), "defaults_from": warm_start, "validation": "given" if validation_data is not None
              else f"stratified {validation_split}", "source": data.source, "backend": keras.backend.backend()}
    started = time.perf_counter()
    run_id = reg.start_run(record.id, data.dataset.id if data.dataset else None, kind=kind,
                           optimizer=opt_name if isinstance(opt_name, str) else type(opt_name).__name__,
                           loss=LOSS, batch_size=batch, learning_rate=rate, epochs=epochs, config=config,
                           device=describe_device())
    if data.dataset is not None:
        reg.link_slice("runs", run_id, data.dataset)          # trained on a slice of a registered dataset
    changes: list[dict[str, Any]] = []
    show = Progress(progress, title=f"{record.name} run {run_id}")
    if warm_start:
        show.note(f"learning rate {warm_start['learning_rate']:.3g}, {warm_start['epochs']} epochs, unfreeze="
                  f"{warm_start['unfreeze']!r} from run {warm_start['run_id']} ({warm_start['model']}, val accuracy "
                  f"{warm_start['val_accuracy']:.3f}) on '{warm_start['dataset']}', the nearest dataset with runs "
                  f"(distance {warm_start['distance']:.2f}); pass lr=, epochs= or unfreeze= to choose yourself")

    def record_change(change) -> None:
        changes.append(change.to_dict() if hasattr(change, "to_dict") else change)
        reg.update_run(run_id, batch_size=changes[-1]["to"], batch_size_changes=changes)

    checkpoint_records: list[Any] = []

    def log_epoch(row: dict[str, Any]) -> None:
        reg.log_epoch(run_id, **{k: v for k, v in row.items()})
        if row["epoch"] + 1 in wanted:
            checkpoint_records.append(_save_checkpoint(reg, clf, record, run_id, row["epoch"], data.train.class_names))

    try:
        finder = None
        if use_features:
            key = (record.id, data.dataset.content_hash if data.dataset else None,
                   getattr(data.dataset, "slice_id", None), len(data.train.y),
                   len(data.val.y), seed, validation_split if validation_data is None else "given")
            cached = feature_cache.get(key) if feature_cache is not None else None
            if cached is None:
                def feature_change(old: int, new: int, exc: BaseException) -> None:
                    record_change({"epoch": -1, "step": -1, "from": old, "to": new,
                                   "reason": f"{type(exc).__name__}: {str(exc)[:200]} (feature extraction)"})

                show.note(f"computing {clf.feature_dim}-d backbone features of "
                          f"{len(data.train.y) + len(data.val.y)} images once")
                # inference needs no gradients or optimizer state: a larger batch fits and runs faster
                infer = max(batch, 64)
                f_train, infer = _features(clf.backbone, pre_record, data.train.x, infer, feature_change, show)
                f_val, infer = _features(clf.backbone, pre_record, data.val.x, infer, feature_change, show)
                batch = min(batch, infer)
                cached = (f_train, f_val)
                if feature_cache is not None:
                    feature_cache[key] = cached
            x_train, x_val = cached
            trainee = clf.head
        else:
            from .zoo import preprocess_images

            x_train = preprocess_images(pre_record, data.train.x)
            x_val = preprocess_images(pre_record, data.val.x)
            trainee = clf.model
        _compile(trainee, opt_name, rate)
        reg.update_run(run_id, optimizer_config=_optimizer_config(trainee))
        if lr == "auto":
            from .training.lr_finder import lr_range_test

            weights = trainee.get_weights()
            finder = lr_range_test(lambda xb, yb: trainee.train_on_batch(xb, yb, return_dict=True)["loss"],
                                   lambda r: trainee.optimizer.learning_rate.assign(r), x_train, data.train.y,
                                   batch, steps=60 if use_features else 30, seed=seed)
            trainee.set_weights(weights)
            rate = finder.suggested
            _compile(trainee, opt_name if isinstance(opt_name, str) else type(opt_name)(), rate)
            config["lr_finder"] = finder.to_dict()
            reg.update_run(run_id, learning_rate=rate, config=config, optimizer_config=_optimizer_config(trainee))
            show.note(f"learning-rate range test chose {rate:.3g}")

        from .training.loop import TrainingLoop, probabilities_metrics

        loop = TrainingLoop(trainee, x_train, data.train.y, x_val, data.val.y, batch_size=batch, epochs=epochs,
                            seed=seed, augment=augmenter, callbacks=list(callbacks), progress=show,
                            on_epoch=log_epoch, on_batch_size=record_change)
        loop.run()
        probs = loop.val_probs if not callbacks else loop.predict(x_val)
        from .report import classification_metrics

        metrics = classification_metrics(data.val.y, probs.argmax(axis=1), len(data.train.class_names))
        final = {"val_accuracy": metrics.accuracy, "val_loss": probabilities_metrics(probs, data.val.y)[0],
                 "per_class": metrics.to_dict(data.train.class_names)["per_class"],
                 "val_examples": int(len(data.val.y)), "epochs_run": len(loop.history)}
        if loop.history:
            final.update({"train_loss": loop.history[-1]["loss"], "train_accuracy": loop.history[-1]["accuracy"]})
        reg.finish_run(run_id, "finished", metrics=final, confusion=metrics.confusion.tolist(),
                       batch_size=loop.batch_size, duration_s=time.perf_counter() - started)
    except KeyboardInterrupt:
        show.close()
        reg.finish_run(run_id, "interrupted", error="interrupted by the user (KeyboardInterrupt)",
                       duration_s=time.perf_counter() - started)
        raise
    except BaseException as exc:
        show.close()
        reg.finish_run(run_id, "failed", duration_s=time.perf_counter() - started,
                       error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000])
        raise
    run = TrainingRun(registry=reg, run_id=run_id, base=record, model=clf.model,
                      class_names=data.train.class_names, dataset=data.dataset, history=loop.history,
                      metrics=metrics, config=config, lr_finder=finder, batch_size_changes=changes,
                      checkpoints=checkpoint_records)
    run.curves_shown = show.notebook  # the live plot already drew the curves in this cell's output
    return run
