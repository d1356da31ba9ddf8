"""The registry interface: every operation a registry backend offers, declared once.

Like mlflow's ``AbstractStore``: each public operation is a documented abstract method here, and every
backend implements all of them explicitly (no forwarding by method name):

- :class:`~fmc_jupyter.registry.registry.Registry`: the embedded SQLite file + artifact folder (default);
- :class:`~fmc_jupyter.registry.remote.RemoteRegistry`: the HTTP client of the team's registry service;
- a PostgreSQL backend later: one more module, picked by :func:`~fmc_jupyter.registry.backends.open_registry`
  from the ``postgresql://`` scheme, passing the same contract tests (``tests/test_contract.py``).

Who may see what is the same for every backend (``docs/registry.md``): private rows are visible and
changeable only by their owner, public rows are visible to all and changeable by their owner, the catalog is
public and read-only, datasets are public and never deleted. Something you may not see is indistinguishable
from something that does not exist (same :class:`~fmc_jupyter.errors.NotFoundError`, same message).

Model references (``ref``) are an id, a record, or ``[owner/]name[:vN|@alias]``; a bare name means your
own line first, then the catalog's, then a public line of another user (see ``docs/registry.md``).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..arrays import LabelledImages
from ..records import DatasetRecord, ModelRecord, RunRecord

__all__ = ["RegistryInterface"]


class RegistryInterface(abc.ABC):
    """What every registry backend does. ``user`` is who reads and writes; ``path`` where the registry is."""

    user: str
    path: Any

    # ------------------------------------------------------------------ lifetime
    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the object is unusable afterwards."""

    def __enter__(self) -> "RegistryInterface":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @abc.abstractmethod
    def schema_version(self) -> list[int]:
        """Ids of the applied schema migrations, ascending."""

    @abc.abstractmethod
    def change_count(self) -> int:
        """A counter that grows with every committed change (any user, any process); cheap to poll.

        Live views (the side panel) refresh when it differs from the value they last saw.
        """

    # ------------------------------------------------------------------ models: search and lookup
    @abc.abstractmethod
    def search(self, query: str = "", order_by: str | None = None, limit: int | None = 50, offset: int = 0,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Models matching ``query`` (the query language of :mod:`fmc_jupyter.query`) that you may see.

        ``order_by``: comma-separated fields, ``-`` for descending; ``limit`` ``None`` means all rows;
        ``columns`` a list of column names (default: all). One row per model version; top-1/top-5 as fractions.
        """

    @abc.abstractmethod
    def count(self, query: str = "") -> int:
        """How many models you may see match ``query``."""

    @abc.abstractmethod
    def model(self, ref: Any) -> ModelRecord:
        """A model version by id, record, ``name`` (newest version), ``owner/name``, ``name:vN`` or ``name@alias``."""

    @abc.abstractmethod
    def artifact_path(self, record: ModelRecord | DatasetRecord) -> Path:
        """A local path of a model's stored file (a remote backend downloads it into the cache)."""

    # ------------------------------------------------------------------ models: changes
    @abc.abstractmethod
    def add_model(self, path: str | os.PathLike, name: str | None = None, **kwargs: Any) -> ModelRecord:
        """Register a Keras (``.keras``/``.h5``) or TFLite model file as a new version of one of your lines.

        Keywords: ``parent`` (a model you can see: the new version derives from it and joins your line of its
        name), ``fork`` (with ``name``: a new line derived from ``parent``), ``visibility`` (default private),
        ``family task domain description tags labels pretrained_on top1 top5 license preprocessing``,
        ``run_id`` (one of your runs that produced it), ``facts`` (overrides of inspected facts).
        """

    @abc.abstractmethod
    def publish(self, ref: Any) -> ModelRecord:
        """Make one of your model versions visible to everyone."""

    @abc.abstractmethod
    def unpublish(self, ref: Any) -> ModelRecord:
        """Make one of your model versions private again."""

    @abc.abstractmethod
    def update_model(self, ref: Any, **changes: Any) -> ModelRecord:
        """Change descriptive fields of one of your versions (see :data:`fields.MODEL_CHANGEABLE`)."""

    @abc.abstractmethod
    def delete_model(self, ref: Any) -> None:
        """Delete one of your model versions with its training runs (datasets stay)."""

    # ------------------------------------------------------------------ lineage
    @abc.abstractmethod
    def versions(self, ref: Any) -> pd.DataFrame:
        """Every version you may see of ``ref``'s line, oldest first, with run, alias and comment facts."""

    def ancestors(self, ref: Any) -> list[ModelRecord]:
        """The parent chain of ``ref``, nearest first (stops at a version you cannot see, or a cycle)."""
        from ..errors import NotFoundError

        record = self.model(ref)
        chain: list[ModelRecord] = []
        seen = {record.id}
        while record.parent_id is not None and record.parent_id not in seen:
            try:
                record = self.model(int(record.parent_id))
            except NotFoundError:
                break
            seen.add(record.id)
            chain.append(record)
        return chain

    @abc.abstractmethod
    def set_alias(self, model: Any, alias: str) -> ModelRecord:
        """Point ``alias`` of your line at ``model`` (a version of yours), creating or moving it."""

    @abc.abstractmethod
    def remove_alias(self, line: Any, alias: str) -> None:
        """Remove ``alias`` from one of your lines."""

    @abc.abstractmethod
    def aliases(self, line: Any) -> pd.DataFrame:
        """Aliases of a line that point at versions you may see: ``alias, model_id, version, set_by, set_at``."""

    @abc.abstractmethod
    def add_comment(self, model: Any, text: str) -> int:
        """Comment on a version you may see; returns the comment id."""

    @abc.abstractmethod
    def comments(self, model: Any) -> pd.DataFrame:
        """Comments on a version you may see, oldest first: ``id, model_id, author, text, created_at``."""

    @abc.abstractmethod
    def delete_comment(self, comment_id: int) -> None:
        """Delete one of your own comments."""

    @abc.abstractmethod
    def add_checkpoint(self, path: str | os.PathLike, run_id: int, epoch: int, **kwargs: Any) -> ModelRecord:
        """Register a model file saved at ``epoch`` of your run ``run_id`` as a version of its own."""

    @abc.abstractmethod
    def checkpoints(self, run_id: int) -> pd.DataFrame:
        """Checkpoint versions of a run you may see: ``epoch, model_id, name, version`` and the epoch's metrics."""

    # ------------------------------------------------------------------ datasets (public, never deleted)
    @abc.abstractmethod
    def add_dataset(self, x: Any, y: Any, name: str, class_names: Sequence[str] | None = None, *,
                    description: str = "", source: str = "arrays") -> DatasetRecord:
        """Store a labelled image set ``x (N, H, W[, C])``, ``y (N,)``: public, immutable, content-hashed."""

    def add_dataset_from_folder(self, folder: str | os.PathLike, name: str, image_size: tuple[int, int] = (224, 224),
                                description: str = "") -> DatasetRecord:
        """Images in ``folder/<class name>/*.{png,jpg,jpeg,bmp,gif}``, resized to ``image_size`` (H, W)."""
        from ..datasets import read_image_folder

        x, y, names = read_image_folder(folder, image_size)
        return self.add_dataset(x, y, name, names, description=description, source=f"folder:{Path(folder).name}")

    def add_dataset_from_tfds(self, tfds_name: str, name: str | None = None, *, split: str = "train",
                              data_dir: str | os.PathLike | None = None, image_size: tuple[int, int] | None = None,
                              limit: int | None = None, description: str = "") -> DatasetRecord:
        """A TFDS image-classification dataset (``tfds.load``; offline with a local ``data_dir``)."""
        from ..datasets import read_tfds

        x, y, names = read_tfds(tfds_name, split=split, data_dir=data_dir, image_size=image_size, limit=limit)
        return self.add_dataset(x, y, name or f"{tfds_name}-{split}".replace(":", "-").replace("[", "-").strip("]"),
                                names, description=description, source=f"tfds:{tfds_name}/{split}")

    @abc.abstractmethod
    def datasets(self) -> pd.DataFrame:
        """All datasets."""

    @abc.abstractmethod
    def dataset(self, ref: Any) -> DatasetRecord:
        """A dataset by id or name."""

    @abc.abstractmethod
    def load_dataset(self, ref: Any) -> LabelledImages:
        """The stored arrays of a dataset."""

    # ------------------------------------------------------------------ dataset identity (datasets_identity.py)
    @abc.abstractmethod
    def record_arrays(self, x: Any, y: Any, class_names: Sequence[str] | None = None, *, save: bool = True,
                      name: str | None = None, source: str = "arrays",
                      description: str = "") -> tuple[DatasetRecord | None, bool]:
        """``(dataset, new)``: the registered dataset the user's arrays are, or (with ``slice_rows``, and
        ``slice_id`` when ``save``) the dataset they are a subset of; else, when ``save``, the arrays registered as
        a new dataset (``new=True``, named ``name`` or ``<source>-<content hash>``); else ``(None, False)``.

        Arrays are matched by hashes computed where they are (content hash, per-image hashes, labels): a remote
        registry never receives images only to tell which dataset they are; new images are uploaded only when
        they are saved. ``save=False`` writes nothing. ``x`` may be a :class:`LabelledImages` (then ``y`` is the
        user's own labels, or None)."""

    @abc.abstractmethod
    def record_slice(self, dataset: Any, rows: Any) -> DatasetRecord:
        """Store (once) the slice ``rows`` (distinct row indices, in order) of ``dataset``; the dataset record with
        ``slice_id`` and ``slice_rows`` set."""

    @abc.abstractmethod
    def dataset_slice(self, slice_id: int) -> DatasetRecord:
        """The dataset record of a stored slice, with ``slice_id`` and ``slice_rows``."""

    @abc.abstractmethod
    def link_slice(self, table: str, row_id: int, dataset: DatasetRecord | None) -> None:
        """Mark one of your ``rankings`` / ``runs`` / ``evaluations`` rows as made on ``dataset``'s stored slice
        (nothing for a whole dataset or None). A row that is not yours is a :class:`NotFoundError`."""

    # ------------------------------------------------------------------ dataset records (dataset_records.py)
    @abc.abstractmethod
    def dataset_signature(self, dataset: Any, *, compute: bool = True, store: bool = True) -> Any:
        """The :class:`~fmc_jupyter.similarity.Signature` of ``dataset``: the stored one; else computed here
        (reference embedder, Keras) and stored unless ``store=False``; None when missing and ``compute=False``."""

    @abc.abstractmethod
    def store_signature(self, dataset: Any, signature: Any) -> bool:
        """Store a signature of ``dataset`` computed by the caller (checked: reference embedder, finite values,
        shape); True if stored, False if the dataset already had one (never replaced)."""

    @abc.abstractmethod
    def similar_datasets(self, x_or_dataset: Any, y: Any = None, k: int = 5, *, compute: bool = True,
                         store: bool = True, among: Any = None) -> pd.DataFrame:
        """The ``k`` registered datasets nearest to a dataset (name, id, record), to images ``x`` with labels ``y``,
        or to a :class:`~fmc_jupyter.similarity.Signature`, nearest first: ``dataset_id, name, distance,
        num_classes, num_examples`` (the dataset itself left out). Signatures are computed by the caller; missing
        dataset signatures are computed and stored once (``compute=False``: those datasets are skipped;
        ``store=False``: nothing is written). ``among``: dataset ids to consider (default all)."""

    @abc.abstractmethod
    def dataset_records(self, dataset: Any) -> dict[str, float]:
        """``{model line name: best accuracy}`` on ``dataset`` (and its slices), from evaluations of models you may
        see and finished training runs you may see."""

    @abc.abstractmethod
    def datasets_with_records(self, runs_only: bool = False) -> list[int]:
        """Ids of datasets with an evaluation or finished training run you may see (only runs: ``runs_only``)."""

    @abc.abstractmethod
    def best_runs(self, dataset: Any, limit: int = 5) -> pd.DataFrame:
        """Finished training runs on ``dataset`` you may see, best validation accuracy first: ``run_id, model,
        learning_rate, epochs, unfreeze, val_accuracy``."""

    # ------------------------------------------------------------------ training runs
    @abc.abstractmethod
    def start_run(self, model: Any, dataset: Any = None, *, kind: str = "finetune", **fields: Any) -> int:
        """Open a run of yours in status ``running`` on a model you may see; returns its id.

        ``fields``: see :data:`fields.RUN_FIELDS` (optimizer, loss, batch_size, learning_rate, epochs, config...).
        """

    @abc.abstractmethod
    def log_epoch(self, run_id: int, epoch: int, **metrics: Any) -> None:
        """Record one finished epoch of your run (loss, accuracy, val_loss, val_accuracy, ...; others -> extra)."""

    @abc.abstractmethod
    def update_run(self, run_id: int, **fields: Any) -> None:
        """Change fields of your run (``result_model_id`` must name a version of yours)."""

    @abc.abstractmethod
    def finish_run(self, run_id: int, status: str = "finished", **fields: Any) -> None:
        """Close your run: ``finished``, ``failed`` or ``interrupted``, with its duration and final fields."""

    @abc.abstractmethod
    def run(self, run_id: int) -> RunRecord:
        """A run you may see (yours, or one that produced a model you may see from a base you may see)."""

    @abc.abstractmethod
    def runs(self, model: Any = None) -> pd.DataFrame:
        """Runs you may see, newest first; of one model line if ``model`` is given."""

    # ------------------------------------------------------------------ rankings and evaluations
    @abc.abstractmethod
    def save_ranking(self, dataset: Any, method: str, scores: Sequence[dict[str, Any]], *,
                     per_class: int | None = None, seed: int | None = None, models_query: str | None = None,
                     seconds: float | None = None) -> int:
        """Store a ranking of models you may see (``scores`` rows: model_id, rank, score, scores, ...)."""

    @abc.abstractmethod
    def rankings(self, dataset: Any = None, model: Any = None) -> pd.DataFrame:
        """Your stored ranking rows (one per ranking and model), newest ranking first."""

    @abc.abstractmethod
    def add_evaluation(self, model: Any, dataset: Any, *, accuracy: float, loss: float | None = None,
                       num_examples: int | None = None, metrics: dict | None = None, confusion: Any = None) -> int:
        """Record the result of evaluating a model you may see on a dataset."""

    @abc.abstractmethod
    def leaderboard(self, dataset: Any) -> pd.DataFrame:
        """Best evaluation of every model you may see on ``dataset``, best first."""
