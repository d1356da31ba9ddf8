"""Which registry dataset the user's arrays are: the services' one call into the registry's dataset identity.

``rank``, ``finetune`` and ``evaluate`` take arrays; :func:`dataset_of_arrays` returns the registered dataset
they are, or the dataset they are a slice of (with its row indices), and registers new images only when asked
(reporting it). :func:`slice_of` narrows a dataset record to some of its rows. See
:mod:`fmc_jupyter.registry.datasets_identity` for how arrays are matched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dataset_of_arrays", "slice_of"]


def dataset_of_arrays(registry, data, *, save: bool, name: str | None = None, source: str = "arrays",
                      description: str = "", labels: Any = None):
    """The registry dataset the user's arrays ``data`` are, or a slice of (``registry.record_arrays``); new
    images are registered (and reported with an :class:`~fmc_jupyter.errors.FmcWarning`) only when ``save``.
    ``save=False`` writes nothing and gives None for new images. ``labels``: the user's own labels (integer ids
    are matched to a dataset's class ids when their names differ)."""
    import warnings

    from .errors import FmcWarning

    dataset, new = registry.record_arrays(data, labels, save=save, name=name, source=source, description=description)
    if new:
        warnings.warn(f"registered your {dataset.num_examples} images as the new public dataset '{dataset.name}' "
                      f"(datasets are public and never deleted; to choose its name, register it first with "
                      f"reg.add_dataset(x, y, name=...) and pass that name)", FmcWarning, stacklevel=3)
    return dataset


def slice_of(registry, dataset, rows: np.ndarray, *, save: bool):
    """``dataset`` (itself possibly a slice) restricted to its ``rows``; stored as a slice when ``save``."""
    from dataclasses import replace

    base = np.asarray(dataset.slice_rows if dataset.slice_rows is not None else np.arange(dataset.num_examples))
    picked = base[np.asarray(rows)]
    if save:
        return registry.record_slice(dataset, picked)
    return replace(dataset, slice_id=None, slice_rows=[int(r) for r in picked])
