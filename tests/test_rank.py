"""fmc.rank on real pretrained models (Keras MobileNet 0.25 ImageNet weights, int8 TFLite MobileNets) and real
images from ../shared/data, on tiny slices; every bad-input path; the feature cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fmc_jupyter.config import shared_data_dir

if "KERAS_HOME" not in os.environ and shared_data_dir() is not None:  # the suite's conftest normally does this
    from fmc_jupyter.zoo.keras_home import use_weights_dir

    use_weights_dir(shared_data_dir() / "keras")

import fmc_jupyter as fmc  # noqa: E402
from fmc_jupyter.errors import FmcError, InputError, NotFoundError  # noqa: E402
from fmc_jupyter.ranking import Ranking  # noqa: E402
from fmc_jupyter.registry import Registry  # noqa: E402

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="offline data folder ../shared/data (or $FMC_SHARED_DATA) "
                                                     "is absent: real weights/images unavailable")
pytestmark = [needs_data, pytest.mark.slow]

TFLITE = ["mobilenet_v1_0.25_128_quant", "mobilenet_v1_0.5_160_quant"]


def cifar_slice(per_class=6, classes=(0, 1, 2)):
    """A few real CIFAR-10 images per class at 32x32 (the models resize them to their input size)."""
    with np.load(DATA / "datasets" / "cifar10_small.npz") as npz:
        x, y, names = npz["x_train"], npz["y_train"], npz["class_names"]
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in classes])
    return x[idx], np.array([str(names[c]) for c in y[idx]])


def small_keras_file(path: Path, seed: int, input_shape=(32, 32, 3), classes=3, convs=2) -> Path:
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape)
    h = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_a")(inp)
    h = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_b")(h)
    for i in range(convs - 2):
        h = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name=f"conv_{i}")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="head")(h)
    keras.Model(inp, out).save(path)
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A registry (user alice) with the real candidates registered, and a module-wide feature cache."""
    root = tmp_path_factory.mktemp("rank")
    old = os.environ.get("FMC_CACHE_DIR")
    os.environ["FMC_CACHE_DIR"] = str(root / "cache")
    reg = Registry(root / "registry.db", user="alice")
    refs = ["MobileNet_0.25_224:v1"]
    for name in TFLITE:
        refs.append(reg.add_model(DATA / "models" / "tflite" / f"{name}.tflite", domain="natural",
                                  pretrained_on="imagenet").ref)
    user = reg.add_model(small_keras_file(root / "tiny.keras", seed=1), name="tiny_cnn", preprocessing="unit")
    refs.append(user.ref)
    yield reg, refs, root
    reg.close()
    if old is None:
        os.environ.pop("FMC_CACHE_DIR", None)
    else:
        os.environ["FMC_CACHE_DIR"] = old


def test_rank_real_models_on_real_images(env):
    reg, refs, _ = env
    x, y = cifar_slice(per_class=8)
    x_before, y_before = x.copy(), y.copy()
    r = fmc.rank(x, y, models=refs, registry=reg, per_class=6, bootstrap=5, progress=False)
    assert isinstance(r, Ranking)
    np.testing.assert_array_equal(x, x_before)          # the caller's arrays are untouched
    np.testing.assert_array_equal(y, y_before)
    assert r.num_examples == 18 and r.num_classes == 3
    assert sorted(r["model"]) == sorted(refs)
    assert r["error"].isna().all(), r.failed
    assert list(r["rank"]) == [1, 2, 3, 4]
    assert r["combined"].is_monotonic_decreasing and r["combined"].between(0, 1).all()
    row = r.table.set_index("model")
    assert np.isnan(row.loc["MobileNet_0.25_224:v1", "leep"])       # no source head loaded for Keras apps
    assert np.isfinite(row.loc[refs[1], "leep"])                     # TFLite ImageNet head probabilities
    assert row.loc["MobileNet_0.25_224:v1", "top1"] == pytest.approx(0.498)
    assert np.isfinite(row[["logme", "knn", "linear_probe"]].to_numpy(dtype=float)).all()
    from fmc_jupyter.ranking import DEFAULT_COMBINATION

    assert r.combination == DEFAULT_COMBINATION and "records" in r.columns   # no records yet: all NaN
    assert r["records"].isna().all() and r.records_from == []
    assert r["top1_freq"].sum() == pytest.approx(1.0)               # exactly one winner per sub-slice
    assert (r["top3_freq"] >= r["top1_freq"]).all()
    # the user's 24 images are registered (reported), the ranking is stored against its 18-image slice
    stored = reg.rankings(dataset=r.dataset.id)
    assert set(stored["model"]) == {ref.split(":v")[0] for ref in refs}
    assert r.dataset.num_examples == 24 and len(r.dataset.slice_rows) == 18
    html = r._repr_html_()
    assert "MobileNet_0.25_224:v1" in html and "<table" in html
    ax = r.plot()
    assert len(ax.patches) == 4
    assert r.best == r["model"][0]
    again = fmc.rank(x, y, models=refs, registry=reg, per_class=6, bootstrap=5, progress=False)
    assert again["cached"].all()                                     # features and stability from the cache
    assert again.table[["model", "top1_freq", "top3_freq"]].equals(r.table[["model", "top1_freq", "top3_freq"]])


def test_cached_rerank_skips_extraction(env, monkeypatch):
    reg, refs, root = env
    x, y = cifar_slice(per_class=5, classes=(3, 4))
    first = fmc.rank(x, y, models=refs[:3], registry=reg, per_class=5, bootstrap=0, progress=False)
    assert not first["cached"].any()
    from fmc_jupyter.zoo.sources import SOURCES

    def no_extraction(*args, **kwargs):
        raise AssertionError("features should have come from the cache")

    for source in SOURCES.values():  # every source's extractor
        monkeypatch.setattr(source, "features", no_extraction)
    again = fmc.rank(x, y, models=refs[:3], registry=reg, per_class=5, bootstrap=0, progress=False,
                     methods=["logme", "hscore"])     # another method: same cached features
    assert again["cached"].all() and again["error"].isna().all()
    assert again.table.set_index("model")["logme"].to_dict() == pytest.approx(
        first.table.set_index("model")["logme"].to_dict())
    assert list((root / "cache" / "features").rglob("*.npz"))


def test_failing_model_is_reported_and_others_still_ranked(env, tmp_path):
    reg, refs, _ = env
    broken = reg.add_model(small_keras_file(tmp_path / "broken.keras", seed=7), name="broken_cnn")
    reg.artifact_path(broken).write_bytes(b"this is not a Keras file any more")
    x, y = cifar_slice(per_class=4)
    r = fmc.rank(x, y, models=[refs[1], broken.ref], registry=reg, per_class=4, bootstrap=2, progress=False)
    rows = r.table.set_index("model")
    assert "broken_cnn" in rows.loc[broken.ref, "error"]
    assert pd_isna(rows.loc[broken.ref, "rank"]) and rows.loc[refs[1], "rank"] == 1
    assert list(r.failed["model"]) == [broken.ref]
    stored = reg.rankings(dataset=r.dataset.id)
    assert stored.set_index("model").loc["broken_cnn", "error"]


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_grayscale_images_from_a_registry_dataset_with_a_named_layer(env):
    reg, refs, _ = env
    with np.load(DATA / "datasets" / "mnist_t10k.npz") as npz:
        x, y = npz["x"], npz["y"]
    idx = np.concatenate([np.flatnonzero(y == c)[:5] for c in (0, 1, 7)])
    ds = reg.add_dataset(x[idx], y[idx], name="mnist-tiny")
    r = fmc.rank("mnist-tiny", models=[refs[1], refs[3]], registry=reg, per_class=None, bootstrap=0,
                 layer="conv_b", methods=["knn", "logme"], progress=False)
    assert r.dataset.id == ds.id and r["error"].isna().all()
    assert list(r.methods) == ["knn", "logme"]
    assert reg.rankings(dataset="mnist-tiny")["ranking_id"].nunique() == 1


def test_images_too_small_for_a_variable_size_model(env, tmp_path):
    reg, _, _ = env
    rec = reg.add_model(small_keras_file(tmp_path / "var.keras", seed=3, input_shape=(None, None, 3), convs=3),
                          name="var_cnn")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(8, 8, 8, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 4)
    r = fmc.rank(x, y, models=[rec.ref], registry=reg, per_class=None, bootstrap=0, progress=False)
    assert "8x8 px" in r.table.loc[0, "error"]


@pytest.mark.parametrize("case, match", [
    ("one_class", "1 class"),
    ("few_per_class", "class 'b' has 1 image"),
    ("nan", "NaN"),
    ("lengths", "must match"),
    ("tiny", "too small"),
    ("unit_scale", r"\[0, 1\]"),
    ("method", "unknown method"),
    ("no_models", "no model you can see"),
    ("empty_list", "empty"),
    ("per_class", "per_class"),
    ("dataset_and_y", "y must be None"),
    ("no_labels", "labels"),
])
def test_bad_input_raises_clear_errors(env, case, match):
    reg, refs, _ = env
    x, y = cifar_slice(per_class=3)
    kwargs = dict(models=[refs[1]], registry=reg, per_class=3, bootstrap=0, progress=False)
    if case == "one_class":
        y = np.array(["a"] * len(y))
    elif case == "few_per_class":
        y = np.array(["a"] * (len(y) - 1) + ["b"])
    elif case == "nan":
        x = x.astype(np.float32)
        x[2, 0, 0, 0] = np.nan
    elif case == "lengths":
        y = y[:-1]
    elif case == "tiny":
        x = x[:, :4, :4]
    elif case == "unit_scale":
        x = x / 255.0
    elif case == "method":
        kwargs["methods"] = ["logme", "magic"]
    elif case == "no_models":
        kwargs["models"] = "params<1 and params>2"
    elif case == "empty_list":
        kwargs["models"] = []
    elif case == "per_class":
        kwargs["per_class"] = 1
    elif case == "dataset_and_y":
        x = "mnist-tiny"
    elif case == "no_labels":
        y = None
    with pytest.raises(InputError, match=match):
        fmc.rank(x, y, **kwargs)


def test_unknown_model_and_dataset_names(env):
    reg, _, _ = env
    x, y = cifar_slice(per_class=3)
    with pytest.raises(NotFoundError, match="MobileNet_0.25_224"):
        fmc.rank(x, y, models=["MobileNet_0.25_22"], registry=reg, progress=False)
    with pytest.raises(NotFoundError):
        fmc.rank("no-such-dataset", models=["MobileNet_0.25_224"], registry=reg, progress=False)
    assert issubclass(NotFoundError, FmcError)


def test_every_registered_model_is_rankable_kept_finetuned_and_multi_output(env, tmp_path):
    """A version kept after fine-tuning (Input -> backbone model -> head model) and a user file with several
    outputs are ranked on the features feeding their classifier output (issue 16)."""
    import keras

    from fmc_jupyter.training.heads import build_classifier

    reg, refs, _ = env
    base = reg.model("tiny_cnn")
    clf = build_classifier(base, reg, ("airplane", "automobile", "bird"), seed=0)
    clf.model.save(tmp_path / "kept.keras")
    kept = reg.add_model(tmp_path / "kept.keras", parent=base.ref, labels=["airplane", "automobile", "bird"])
    assert kept.version == 2

    keras.utils.set_random_seed(5)
    inp = keras.Input((32, 32, 3))
    conv = keras.layers.Conv2D(6, 3, strides=2, activation="relu", name="conv")(inp)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(conv)
    aux = keras.layers.Dense(7, name="aux_logits")(pooled)                 # logits: softmax applied for LEEP
    main = keras.layers.Dense(3, activation="softmax", name="main")(pooled)
    keras.Model(inp, [conv, aux, main]).save(tmp_path / "multi.keras")    # a 4-D output first
    multi = reg.add_model(tmp_path / "multi.keras", name="multi_out")

    x, y = cifar_slice(per_class=5)
    r = fmc.rank(x, y, models=[kept.ref, multi.ref], registry=reg, per_class=5, bootstrap=0, progress=False,
                 methods=["knn", "leep"])
    assert r["error"].isna().all(), r.failed
    rows = r.table.set_index("model")
    assert np.isfinite(rows[["knn", "leep"]].to_numpy(dtype=float)).all()
    from fmc_jupyter.zoo.features import extract_features

    ex = extract_features(multi, x.astype(np.float32), reg, progress=False, cache=False)
    assert ex.features.shape == (len(x), 6) and ex.probs.shape == (len(x), 7)   # first classifier output: aux
    np.testing.assert_allclose(ex.probs.sum(axis=1), 1.0, rtol=1e-5)
    ex_kept = extract_features(kept, x.astype(np.float32), reg, progress=False, cache=False)
    assert ex_kept.features.shape == (len(x), 8) and ex_kept.probs.shape == (len(x), 3)


def test_ranking_a_subset_keeps_the_datasets_identity_and_save_false_writes_nothing(env):
    reg, refs, _ = env
    with np.load(DATA / "datasets" / "cifar10_small.npz") as npz:
        x, y, names = npz["x_test"], npz["y_test"], npz["class_names"]
    idx = np.concatenate([np.flatnonzero(y == c)[:10] for c in (0, 1, 2)])
    full = reg.add_dataset(x[idx], y[idx], name="cifar-30", class_names=[str(n) for n in names])
    sub = idx[np.r_[0:6, 10:16, 20:26]]                  # 6 of each class, a subset of the registered images
    before = len(reg.datasets()), len(reg.rankings())
    tables_before = {t: reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("datasets", "dataset_slices", "rankings", "ranking_scores")}
    quiet = fmc.rank(x[sub], y[sub], models=refs[1:2], registry=reg, per_class=4, bootstrap=0, progress=False,
                     save=False)
    assert quiet.ranking_id is None and quiet.dataset.name == "cifar-30"
    assert {t: reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables_before} == tables_before
    r = fmc.rank(x[sub], y[sub], models=refs[1:2], registry=reg, per_class=4, bootstrap=0, progress=False)
    assert len(reg.datasets()) == before[0]              # no rank-<hash> / arrays-<hash> dataset
    assert r.dataset.id == full.id and len(r.dataset.slice_rows) == 12
    assert "cifar-30 (slice: 12 of 30 images)" in repr(r)
    stored = reg.db.execute("SELECT dataset_id, slice_id FROM rankings WHERE id = ?", [r.ranking_id]).fetchone()
    assert stored == (full.id, r.dataset.slice_id)
    assert len(reg.rankings(dataset="cifar-30")) == 1


def test_new_images_are_registered_and_reported(env):
    from fmc_jupyter.errors import FmcWarning

    reg, refs, _ = env
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 4)
    with pytest.warns(FmcWarning, match="registered your 8 images as the new public dataset 'arrays-"):
        r = fmc.rank(x, y, models=refs[1:2], registry=reg, per_class=None, bootstrap=0, progress=False)
    assert r.dataset.name.startswith("arrays-") and r.dataset.num_examples == 8


def test_budgeted_ranking_halves_the_field_and_says_how_far_each_model_got(env, tmp_path, monkeypatch):
    from fmc_jupyter.ranking_budget import parse_budget

    reg, refs, _ = env
    assert parse_budget("10min") == 600 and parse_budget("90s") == 90 and parse_budget(2.5) == 2.5
    for bad in ("soon", "-3s", 0, True, "5 parsecs"):
        with pytest.raises(InputError, match="budget"):
            parse_budget(bad)
    gone = reg.add_model(small_keras_file(tmp_path / "gone.keras", seed=2), name="gone_cnn")
    reg.artifact_path(gone).unlink()                      # its weights are not available here
    x, y = cifar_slice(per_class=10)
    models = refs + [gone.ref]
    events: dict[str, list[str]] = {}
    r = fmc.rank(x, y, models=models, registry=reg, per_class=10, budget="1h", progress=False,
                 on_stage=lambda ref, stage: events.setdefault(ref, []).append(stage))
    stages = r.table.set_index("model")["stage"]
    assert stages[gone.ref].startswith("weights unavailable here")
    assert (stages[refs] == "10/class").sum() == 2           # 4 models on 5/class, the better 2 on 10/class
    assert (stages[refs] == "5/class").sum() == 2
    assert list(r.table["stage"][:2]) == ["10/class", "10/class"]     # the deepest rung first
    assert r.table["rank"].notna().sum() == 4
    # how far each model got, in images: 3 classes, 5/class then 10/class
    rows = r.table.set_index("model")
    kept = [m for m in refs if stages[m] == "10/class"]
    dropped = [m for m in refs if stages[m] == "5/class"]
    assert list(rows.loc[kept, "images_per_class"]) == [10, 10] and list(rows.loc[kept, "images_used"]) == [45, 45]
    assert list(rows.loc[dropped, "images_per_class"]) == [5, 5] and list(rows.loc[dropped, "images_used"]) == [15, 15]
    assert rows.loc[gone.ref, "images_used"] == 0 and rows["images_per_class"].isna()[gone.ref]
    assert r.budget_s == 3600 and r.rungs == (5, 10) and "within 3600 s" in repr(r)
    # every model's stage events, rung by rung (progress=False still reports them)
    assert set(events) == set(models)
    for m in kept:
        assert events[m] == ["extracting 5/class", "scored 5/class", "5/class ✓ kept",
                             "extracting 10/class", "scored 10/class", "10/class ✓ done"]
    for m in dropped:
        assert events[m] == ["extracting 5/class", "scored 5/class", "stopped at 5/class (dropped by halving)"]
    assert events[gone.ref][0] == "extracting 5/class" and events[gone.ref][1].startswith("failed: ")
    assert events[gone.ref][2:] == ["weights unavailable here"]
    with pytest.raises(InputError, match="on_stage must be a function"):
        fmc.rank(x, y, models=models, registry=reg, per_class=10, budget="1h", progress=False, on_stage="print")
    from fmc_jupyter.zoo.sources import SOURCES

    calls = []
    source = SOURCES["keras_file"]
    real = source.features
    monkeypatch.setattr(source, "features", lambda record, *a, **k: calls.append(record.ref) or real(record, *a, **k))
    again: list[tuple[str, str]] = []
    fmc.rank(x, y, models=[gone.ref, refs[1]], registry=reg, per_class=10, budget=60, progress=False,
             on_stage=lambda ref, stage: again.append((ref, stage)))
    assert gone.ref not in calls                          # remembered as unavailable: not tried again
    assert [s for ref, s in again if ref == gone.ref] == ["weights unavailable here"]     # and said so at once
    assert again[0] == (gone.ref, "weights unavailable here")


def test_budgeted_ranking_progress_shows_every_models_stage_in_a_terminal(env, capsys):
    """progress=True outside a notebook: one text bar (models scored over all rungs) and, after each rung, lines
    grouping the models by stage; the bar is left full at the end."""
    reg, refs, _ = env
    x, y = cifar_slice(per_class=10)
    capsys.readouterr()
    r = fmc.rank(x, y, models=refs, registry=reg, per_class=10, budget="1h", progress=True)
    err = " ".join(capsys.readouterr().err.replace("\r", "\n").split())
    kept = [m for m in refs if m in set(r.table["model"][:2])]          # each group lists models in the given order
    dropped = [m for m in refs if m in set(r.table["model"][2:4])]
    assert "5/class: 4 model(s) in" in err and "10/class: 2 model(s) in" in err
    assert f"5/class ✓ kept (2): {kept[0]}, {kept[1]}" in err
    assert f"stopped at 5/class (dropped by halving) (2): {dropped[0]}, {dropped[1]}" in err
    assert f"10/class ✓ done (2): {kept[0]}, {kept[1]}" in err
    assert "ranking within 3600 s" in err and "6/6" in err             # 4 + 2 model-rungs, bar left full
    for ref in refs:
        assert f"{ref}: extracting" in err or f"{ref}: scored" in err    # the bar's postfix names each model
    capsys.readouterr()
    fmc.rank(x, y, models=refs[:2], registry=reg, per_class=10, budget="1h", progress=False)
    assert capsys.readouterr().err == ""                                  # progress=False draws nothing


def test_stage_board_in_a_notebook_redraws_one_html_board(monkeypatch):
    """In a kernel the board is one HTML display updated in place (escaped), left at the final stages."""
    import IPython.display

    from fmc_jupyter.ranking_progress import StageBoard

    shown: list[str] = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    refs = [f"net_{i}:v1" for i in range(31)] + ["<b>odd</b>:v1"]
    seen = []
    board = StageBoard(refs, notebook=True, on_stage=lambda ref, stage: seen.append((ref, stage)))
    board.start_rung(5, len(refs), 63)
    for ref in refs:
        board.set(ref, "extracting 5/class")
        assert shown[-1].count(">extracting 5/class</span>") == 1     # a model starting work is shown at once
        board.set(ref, "scored 5/class")
        board.advance()
    board.set(refs[0], "5/class ✓ kept")
    board.set(refs[-1], "stopped at 5/class (dropped by halving)")
    board.report("5/class: 32 model(s) in 3 s")
    board.close()
    final = shown[-1]
    assert len(shown) >= 2 and all("fmc-stages" in h for h in shown)
    assert "&lt;b&gt;odd&lt;/b&gt;:v1" in final and "<b>odd</b>" not in final
    assert "5/class ✓ kept" in final and "stopped at 5/class (dropped by halving)" in final
    assert final.count(">scored 5/class</span>") == 30 and "5/class: 32 model(s) in 3 s" in final
    assert "waiting" not in final
    assert len(seen) == 2 * 32 + 2 and board.stages[refs[0]] == "5/class ✓ kept"
    quiet = StageBoard(refs[:2], enabled=False, on_stage=lambda ref, stage: seen.append((ref, stage)))
    quiet.set(refs[0], "extracting 5/class")
    quiet.close()
    assert seen[-1] == (refs[0], "extracting 5/class") and shown[-1] is final      # nothing drawn, still told


def test_a_budgeted_ranking_extracts_each_image_once_per_model(env, monkeypatch):
    """The rungs' slices are nested: a kept model is fed only the images it has not seen, and features assembled
    from what was remembered equal a plain extraction."""
    import fmc_jupyter.zoo.sources as sources_module
    from fmc_jupyter.zoo.features import extract_features, features_memo

    reg, refs, _ = env
    real = sources_module.source_of
    fed: dict[int, int] = {}

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def features(self, record, images, *args, **kwargs):
            fed[record.id] = fed.get(record.id, 0) + len(images)
            return self.inner.features(record, images, *args, **kwargs)

    monkeypatch.setattr(sources_module, "source_of", lambda record: Counting(real(record)))
    x, y = cifar_slice(per_class=12)
    r = fmc.rank(x, y, models=refs[:4], registry=reg, per_class=10, budget="1h", cache=False, progress=False)
    classes = len(set(y))
    for row in r.table.itertuples():
        assert fed[row.model_id] == row.images_per_class * classes            # each image once
    assert max(r.table["images_used"]) == (5 + 10) * classes                 # though scored on both rungs

    record = reg.model(refs[1])
    plain = extract_features(record, x, reg, cache=False, progress=False)
    with features_memo():
        extract_features(record, x[::2], reg, cache=False, progress=False)
        before = fed[record.id]
        again = extract_features(record, x, reg, cache=False, progress=False)
    assert fed[record.id] - before == len(x) - len(x[::2])
    np.testing.assert_allclose(again.features, plain.features, rtol=1e-5, atol=1e-5)
