"""Datasets: public, immutable, content-hashed, never deleted; the caller's arrays are never modified."""

from __future__ import annotations


import numpy as np
import pytest

from fmc_jupyter.arrays import check_labelled, stratified_indices
from fmc_jupyter.errors import InputError, NotFoundError
from fmc_jupyter.registry.sqlite_driver import dbapi


def images(n=12, seed=0, shape=(8, 8, 3)):
    return np.random.default_rng(seed).integers(0, 255, (n, *shape), dtype=np.uint8)


def test_add_dataset_is_content_hashed_and_public(tmp_registry, bob_registry):
    x, y = images(), np.array(["cat", "dog"] * 6)
    x_before, y_before = x.copy(), y.copy()
    ds = tmp_registry.add_dataset(x, y, "pets")
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    assert (ds.num_examples, ds.num_classes, ds.class_names, ds.class_counts) == (12, 2, ["cat", "dog"], [6, 6])
    assert tmp_registry.add_dataset(x.copy(), y.copy(), "pets-again").id == ds.id  # same content
    assert bob_registry.dataset("pets").id == ds.id  # datasets are public
    loaded = bob_registry.load_dataset("pets")
    np.testing.assert_array_equal(loaded.x, x)
    assert loaded.class_names == ("cat", "dog")
    with pytest.raises(InputError, match="already named"):
        tmp_registry.add_dataset(images(seed=1), y, "pets")
    with pytest.raises(dbapi.IntegrityError, match="never deleted"):
        with tmp_registry.transaction() as db:
            db.execute("DELETE FROM datasets")
    assert len(tmp_registry.datasets()) == 1


def test_grayscale_is_repeated_to_rgb(tmp_registry):
    gray = images(shape=(8, 8))
    ds = tmp_registry.add_dataset(gray, np.arange(12) % 3, "gray", class_names=["a", "b", "c"])
    assert ds.image_shape == [8, 8, 3]
    assert gray.shape == (12, 8, 8)


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((3, 8, 8, 3), np.uint8), [0, 1], "3 images but y has 2"),
    (np.zeros((2, 8, 8, 4), np.uint8), [0, 1], "channels"),
    (np.zeros((2, 8), np.uint8), [0, 1], "shape"),
    (np.full((2, 4, 4, 3), np.nan), [0, 1], "NaN"),
    (np.zeros((2, 4, 4, 3)), [0.5, 1.0], "non-integer"),
    (np.array([["a"]]), [0], "numeric"),
])
def test_bad_arrays_get_clear_errors(tmp_registry, x, y, message):
    with pytest.raises(InputError, match=message):
        tmp_registry.add_dataset(x, y, "bad")
    assert len(tmp_registry.datasets()) == 0


def test_check_labelled_names_the_short_class():
    with pytest.raises(InputError, match="class 'b' has 1 image"):
        check_labelled(images(5), ["a", "a", "a", "a", "b"], min_per_class=2)
    with pytest.raises(InputError, match="1 class"):
        check_labelled(images(4), [0, 0, 0, 0])


def test_stratified_indices_are_seeded_and_balanced():
    labels = np.array([0] * 10 + [1] * 3)
    picks = stratified_indices(labels, 2, seed=7)
    assert np.bincount(labels[picks]).tolist() == [2, 2]
    assert np.array_equal(picks, stratified_indices(labels, 2, seed=7))


def test_image_folder(tmp_registry, tmp_path):
    from PIL import Image

    for cls in ("ants", "bees"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(images(1, seed=i, shape=(20, 30, 3))[0]).save(tmp_path / "imgs" / cls / f"{i}.png")
    ds = tmp_registry.add_dataset_from_folder(tmp_path / "imgs", "insects", image_size=(16, 16))
    assert (ds.num_examples, ds.class_names, ds.image_shape) == (6, ["ants", "bees"], [16, 16, 3])
    with pytest.raises(InputError, match="does not exist"):
        tmp_registry.add_dataset_from_folder(tmp_path / "nope", "x")


def test_unknown_dataset(tmp_registry):
    tmp_registry.add_dataset(images(), [0, 1] * 6, "pets")
    with pytest.raises(NotFoundError, match="Did you mean 'pets'"):
        tmp_registry.dataset("pet")


def test_a_person_names_images_that_only_had_a_generated_name(tmp_registry, bob_registry):
    x, y = images(seed=3), np.arange(12) % 2
    auto = tmp_registry.add_dataset(x, y, "arrays-0123456789ab")   # as rank/finetune on arrays register them
    named = bob_registry.add_dataset(x.copy(), y.copy(), "pets")
    assert named.id == auto.id and named.name == "pets"
    assert tmp_registry.add_dataset(x, y, "cats").name == "pets"    # a name a person gave stays
    assert tmp_registry.add_dataset(x, y, "arrays-ffffffffffff").name == "pets"
    assert len(tmp_registry.datasets()) == 1
