"""Datasets keep their identity (issue 16): arrays equal to, or a subset of, a registered dataset are recorded as
that dataset (plus the slice's row indices); save=False writes nothing; the leaderboard lists slices, marked.
Real SQLite registry, small seeded uint8 images."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.registry import Registry

NAMES = ("cat", "dog", "fish")


def images(n=30, seed=0, side=8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8), np.arange(n) % 3


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "registry.db", user="alice")
    x, y = images()
    r.add_dataset(x, y, name="pets", class_names=NAMES)
    yield r
    r.close()


def snapshot(reg):
    tables = [t for (t,) in reg.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'models_fts%'")]
    counts = {t: reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    files = sorted(p.relative_to(reg.artifacts_root) for p in reg.artifacts_root.rglob("*") if p.is_file())
    return counts, files


def test_the_same_arrays_are_the_registered_dataset(reg):
    x, y = images()
    found, new = reg.record_arrays(x, np.array(NAMES)[y])
    assert not new and found.name == "pets" and found.slice_rows is None and found.label == "pets"


def test_a_subset_is_that_dataset_plus_row_indices(reg):
    x, y = images()
    rows = [17, 4, 9, 25, 3, 10]
    before = len(reg.datasets())
    found, new = reg.record_arrays(x[rows], np.array(NAMES)[y[rows]])
    assert not new and found.name == "pets"
    assert found.slice_rows == rows and found.slice_id is not None
    assert found.label == "pets (slice: 6 of 30 images)"
    assert len(reg.datasets()) == before                          # nothing new registered
    again, _ = reg.record_arrays(x[rows], np.array(NAMES)[y[rows]])
    assert again.slice_id == found.slice_id                       # the same slice is stored once
    assert reg.dataset_slice(found.slice_id).slice_rows == rows


def test_integer_labels_match_by_class_id_and_grayscale_by_its_3_channel_copy(tmp_path):
    reg = Registry(tmp_path / "r.db", user="alice")
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, size=(12, 8, 8), dtype=np.uint8)
    y = np.arange(12) % 2
    reg.add_dataset(gray, y, name="xray", class_names=("normal", "pneumonia"))
    found = reg.find_dataset(gray[[1, 2, 3, 5]], y[[1, 2, 3, 5]])          # ints, no names given
    assert found.name == "xray" and found.slice_rows == [1, 2, 3, 5]


def test_other_labels_or_other_images_are_not_the_dataset(reg):
    x, y = images()
    wrong = np.array(NAMES)[(y[:6] + 1) % 3]
    assert reg.find_dataset(x[:6], wrong) is None
    other, oy = images(seed=9)
    assert reg.find_dataset(other[:6], np.array(NAMES)[oy[:6]]) is None


def test_save_false_writes_nothing_even_the_lookup_index(tmp_path):
    reg = Registry(tmp_path / "r.db", user="alice")
    x, y = images()
    reg.add_dataset(x, y, name="pets", class_names=NAMES)
    before = snapshot(reg)
    found, new = reg.record_arrays(x[:9], np.array(NAMES)[y[:9]], save=False)
    assert found.name == "pets" and found.slice_rows == list(range(9)) and found.slice_id is None and not new
    other, oy = images(seed=5)
    assert reg.record_arrays(other, oy, save=False) == (None, False)
    assert snapshot(reg) == before


def test_new_images_are_registered_only_when_saved(reg):
    other, oy = images(seed=5)
    record, new = reg.record_arrays(other, oy, save=True, name="my-shots")
    assert new and record.name == "my-shots" and record.num_examples == 30


def test_leaderboard_lists_evaluations_on_slices_marked(reg):
    x, y = images()
    found, _ = reg.record_arrays(x[:12], np.array(NAMES)[y[:12]])
    model = reg.search("", limit=1)["id"][0]
    whole = reg.add_evaluation(int(model), "pets", accuracy=0.5, num_examples=30)
    part = reg.add_evaluation(int(model), found, accuracy=0.75, num_examples=12)
    reg.link_slice("evaluations", part, found)
    reg.link_slice("evaluations", whole, reg.dataset("pets"))     # a whole dataset: nothing to link
    board = reg.leaderboard("pets")
    assert len(board) == 2
    assert board.loc[0, "accuracy"] == 0.75 and board.loc[0, "slice"] == f"12 of 30 images (slice {found.slice_id})"
    assert board.loc[1, "slice"] == ""
