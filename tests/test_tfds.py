"""A real TFDS dataset read through ``tfds.load`` from a local data dir (no download)."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.errors import InputError

tfds = pytest.importorskip("tensorflow_datasets")


def _prepare_local_dataset(data_dir, images, labels, names):
    """Build and prepare a TFDS image-classification dataset from arrays (what a team's TFDS cache holds)."""

    class FmcTinyDigits(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")
        RELEASE_NOTES = {"1.0.0": "test data"}

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=images.shape[1:]),
                    "label": tfds.features.ClassLabel(names=list(names))}),
                supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i, (image, label) in enumerate(zip(images, labels)):
                yield i, {"image": image, "label": int(label)}

    builder = FmcTinyDigits(data_dir=str(data_dir))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return builder.name


def test_add_dataset_from_local_tfds_dir(tmp_registry, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 20, 20, 3), dtype=np.uint8)
    labels = np.arange(12) % 3
    name = _prepare_local_dataset(tmp_path / "tfds", images, labels, ["zero", "one", "two"])
    ds = tmp_registry.add_dataset_from_tfds(name, data_dir=tmp_path / "tfds", split="train", image_size=(16, 16))
    assert ds.source == f"tfds:{name}/train"
    assert (ds.num_examples, ds.class_names, ds.image_shape) == (12, ["zero", "one", "two"], [16, 16, 3])
    assert sorted(ds.class_counts) == [4, 4, 4]
    again = tmp_registry.add_dataset_from_tfds(name, "other-name", data_dir=tmp_path / "tfds", image_size=(16, 16))
    assert again.id == ds.id  # same content -> the same dataset
    with pytest.raises(InputError, match="cannot load TFDS dataset"):
        tmp_registry.add_dataset_from_tfds("no_such_dataset_here", data_dir=tmp_path / "tfds")
