"""fmc.diff: structure, weights and metadata differences between two real Keras models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fmc_jupyter.modeldiff import ModelDiff, diff, weight_change
from fmc_jupyter.errors import InputError, ModelLoadError, NotFoundError

keras = pytest.importorskip("keras")


def _backbone(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inp)
    x = keras.layers.Conv2D(8, 3, name="c1", activation="relu")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, name="c2", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return inp, x


@pytest.fixture(scope="module")
def parent_file(tmp_path_factory):
    """A small classifier with a 10-way head, as a .keras file."""
    inp, x = _backbone()
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="predictions")(x), name="tiny")
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    model.save(path)
    return path


def _images(shared_data, n: int = 48):
    with np.load(shared_data / "datasets" / "cifar10_small.npz") as npz:
        x, y = npz["x_train"][:n], npz["y_train"][:n]
    return x, (y % 3).astype("int64")  # three classes, enough to train a fresh head


def _finetune(parent_path, out_path, x, y, *, unfreeze: tuple[str, ...] = (), head: str | None = "head"):
    """Load ``parent_path``, replace the head by Dense(3) (or keep it), freeze all but ``unfreeze``, train 1 epoch."""
    keras.utils.set_random_seed(1)
    base = keras.models.load_model(parent_path)
    for layer in base.layers:
        layer.trainable = layer.name in unfreeze
    if head:
        out = keras.layers.Dense(3, activation="softmax", name=head)(base.get_layer("gap").output)
        model = keras.Model(base.input, out, name="tiny")
    else:
        model = base
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    model.fit(x.astype("float32"), y, epochs=1, batch_size=16, verbose=0)
    model.save(out_path)
    return out_path


@pytest.fixture
def lineage(tmp_registry, parent_file, shared_data, tmp_path):
    """tiny:v1 (parent) and tiny:v2 (fine-tuned child: new head, frozen backbone) with a finished run."""
    reg = tmp_registry
    x, y = _images(shared_data)
    v1 = reg.add_model(parent_file, name="tiny")
    data = reg.add_dataset(x, y, "cifar3", ["a", "b", "c"])
    run_id = reg.start_run(v1, data, optimizer="sgd", learning_rate=0.05, epochs=1)
    child = _finetune(parent_file, tmp_path / "child.keras", x, y)
    reg.log_epoch(run_id, 1, loss=1.0, accuracy=0.4, val_loss=1.1, val_accuracy=0.375)
    v2 = reg.add_model(child, parent=v1, run_id=run_id)
    reg.finish_run(run_id, outcome="kept", result_model_id=v2.id)
    return reg, v1, v2, x, y


def test_finetuned_child_head_replaced_backbone_frozen(lineage):
    reg, v1, v2, _, _ = lineage
    d = diff("tiny:v1", "tiny:v2", registry=reg)
    assert isinstance(d, ModelDiff)
    assert d.summary.startswith("head replaced: Dense(10) -> Dense(3)")
    assert "3 layers frozen" in d.summary  # c1, bn1, c2 were trainable in the parent
    rows = d.layers.set_index("name_b", drop=False)
    for name in ("c1", "bn1", "c2"):
        assert rows.loc[name, "status"] == "frozen"
        assert rows.loc[name, "l2_change"] == 0.0 and rows.loc[name, "fraction_moved"] == 0.0
        assert rows.loc[name, "cosine"] == pytest.approx(1.0)
    assert rows.loc["head", "status"] == "added" and rows.loc["head", "params_b"] == 8 * 3 + 3
    removed = d.layers[d.layers["status"] == "removed"]
    assert list(removed["name_a"]) == ["predictions"]
    # depth order: the removed head sits right before the added one, after the backbone
    assert list(d.layers["status"])[-2:] == ["removed", "added"]
    assert d.relation == "tiny:v2 descends from tiny:v1 (1 generation)"
    meta = d.metadata
    assert meta.loc["run_dataset", "b"] == "cifar3" and meta.loc["run_best_val_accuracy", "b"] == 0.375
    assert meta.loc["read_from", "a"] == "file"  # stored .keras files are read from the file
    assert not d.identical


def test_unfrozen_layer_moves_and_others_stay(lineage, tmp_path):
    reg, v1, v2, x, y = lineage
    child2 = _finetune(reg.artifact_path(v2), tmp_path / "child2.keras", x, y, unfreeze=("c2", "head"), head=None)
    v3 = reg.add_model(child2, parent=v2)
    d = diff(v2, v3, registry=reg)
    rows = d.layers.set_index("name_b")
    assert rows.loc["c2", "status"] == "unfrozen" and rows.loc["c2", "weights_changed"]
    assert rows.loc["c2", "relative_change"] > 0 and rows.loc["c2", "cosine"] < 1
    assert rows.loc["c1", "fraction_moved"] == 0.0 and rows.loc["bn1", "fraction_moved"] == 0.0
    assert rows.loc["head", "weights_changed"]
    assert "1 layer unfrozen" in d.summary and "weights changed in 2 of" in d.summary
    # a big tolerance hides the small moves: no weight moved by more than 10
    calm = diff(v2, v3, registry=reg, tolerance=10.0)
    assert not calm.layers["weights_changed"].any()
    # the same diff read through Keras (both models in memory) gives the same numbers
    mem = diff(v2, v3, registry=reg, mode="memory")
    assert mem.metadata.loc["read_from", "a"] == "keras"
    np.testing.assert_allclose(mem.layers["l2_change"].to_numpy(float), d.layers["l2_change"].to_numpy(float),
                               rtol=1e-9, equal_nan=True)
    assert list(mem.layers["status"]) == list(d.layers["status"])


def test_identical_models_empty_diff(parent_file, tmp_path):
    copy = tmp_path / "same.keras"
    copy.write_bytes(parent_file.read_bytes())
    d = diff(parent_file, copy)
    assert d.identical and d.changes.empty
    assert d.summary.startswith("identical")
    assert (d.layers["fraction_moved"].dropna() == 0).all() and len(d.layers) == 6
    assert "no layer differs" in d._repr_html_()


def test_renamed_layer(parent_file, tmp_path):
    model = keras.models.load_model(parent_file)
    config = model.get_config()
    text = json.dumps(config).replace('"c2"', '"<img src=x onerror=alert(1)>"')
    renamed = keras.Model.from_config(json.loads(text))
    renamed.set_weights(model.get_weights())
    path = tmp_path / "renamed.keras"
    renamed.save(path)
    d = diff(parent_file, path)
    changed = d.changes
    assert len(changed) == 1
    row = changed.iloc[0]
    assert row["status"] == "renamed" and row["name_a"] == "c2" and row["name_b"] == "<img src=x onerror=alert(1)>"
    assert row["fraction_moved"] == 0.0
    assert d.summary == "1 layer renamed"
    page = d._repr_html_()
    assert "<img" not in page and "&lt;img src=x" in page


def test_unrelated_architectures(parent_file, tmp_path):
    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Flatten(name="flat")(inp)
    x = keras.layers.Dense(16, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(0.2, name="drop")(x)
    mlp = keras.Model(inp, keras.layers.Dense(10, name="out")(x), name="mlp")
    path = tmp_path / "mlp.keras"
    mlp.save(path)
    d = diff(parent_file, path)
    assert d.summary.startswith("different architectures")
    counts = d.layers["status"].value_counts()
    assert counts.get("same", 0) == 0
    assert counts.get("removed", 0) + counts.get("added", 0) >= 6
    # nothing with different weight shapes was compared
    compared = d.layers.dropna(subset=["l2_change"])
    assert all(r["params_a"] == r["params_b"] for _, r in compared.iterrows())
    json.dumps(d.to_dict(), allow_nan=False)  # JSON-safe for the REST route


def test_legacy_h5_and_file_reader_agree(parent_file, tmp_path):
    model = keras.models.load_model(parent_file)
    h5 = tmp_path / "tiny.h5"
    model.save(h5)
    from_files = diff(parent_file, h5, mode="files")
    assert from_files.identical, from_files.changes
    assert from_files.metadata.loc["read_from", "b"] == "file"
    # perturb one layer and read both files layer by layer with h5py
    weights = model.get_weights()
    model.get_layer("c1").set_weights([w + 0.01 for w in model.get_layer("c1").get_weights()])
    moved = tmp_path / "moved.h5"
    model.save(moved)
    d = diff(h5, moved, mode="files")
    row = d.layers.set_index("name_b").loc["c1"]
    assert row["status"] == "weights" and row["fraction_moved"] == 1.0
    kernel, bias = weights[0], weights[1]
    expected = math.sqrt(kernel.size + bias.size) * 0.01
    assert row["l2_change"] == pytest.approx(expected, rel=1e-4)
    assert d.summary == "weights changed in 1 of 4 compared layers"


def test_weight_change_math_against_float64_reference():
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(70, 30)).astype("float32"), rng.normal(size=(30,)).astype("float32")]
    b = [w + rng.normal(scale=1e-3, size=w.shape).astype("float32") * (rng.random(w.shape) < 0.5) for w in a]
    fa = np.concatenate([w.ravel() for w in a]).astype(np.float64)
    fb = np.concatenate([w.ravel() for w in b]).astype(np.float64)
    import fmc_jupyter.modeldiff as mod

    old = mod.CHUNK_ELEMENTS
    mod.CHUNK_ELEMENTS = 64  # force many chunks
    try:
        stats = weight_change(a, b, tolerance=1e-4)
    finally:
        mod.CHUNK_ELEMENTS = old
    d = fb - fa
    assert stats["l2_change"] == pytest.approx(np.linalg.norm(d))
    assert stats["relative_change"] == pytest.approx(np.linalg.norm(d) / np.linalg.norm(fa))
    assert stats["cosine"] == pytest.approx(fa @ fb / np.linalg.norm(fa) / np.linalg.norm(fb))
    assert stats["fraction_moved"] == pytest.approx(np.mean(np.abs(d) > 1e-4))
    zero = weight_change([np.zeros(3)], [np.zeros(3)], 0.0)
    assert zero["relative_change"] == 0.0 and math.isnan(zero["cosine"])


def test_tflite_model_is_refused(tmp_registry, shared_data, parent_file):
    tflite = shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite"
    record = tmp_registry.add_model(tflite, name="mnv1-tflite")
    with pytest.raises(ModelLoadError, match="TFLite"):
        diff(record, parent_file, registry=tmp_registry)
    with pytest.raises(ModelLoadError, match="TFLite"):
        diff(parent_file, tflite)


def test_bad_arguments(tmp_registry, parent_file):
    with pytest.raises(InputError, match="tolerance"):
        diff(parent_file, parent_file, tolerance=-1)
    with pytest.raises(InputError, match="mode"):
        diff(parent_file, parent_file, mode="fast")
    with pytest.raises(NotFoundError, match="no model"):
        diff("no-such-model", parent_file, registry=tmp_registry)
    bad = parent_file.parent / "broken.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="broken.keras"):
        diff(bad, parent_file)


def test_plot_marks_every_layer(parent_file, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = keras.models.load_model(parent_file)
    model.get_layer("c2").set_weights([w * 1.5 for w in model.get_layer("c2").get_weights()])
    path = tmp_path / "scaled.keras"
    model.save(path)
    d = diff(parent_file, path)
    assert d.layers.set_index("name_b").loc["c2", "relative_change"] == pytest.approx(0.5, rel=1e-5)
    fig = d.plot()  # a Figure of its own: shown once in a notebook, no "<Axes ...>" echo, no pyplot state
    ax = fig.axes[0]
    assert len(ax.patches) == len(d.layers)
    assert max(p.get_height() for p in ax.patches) == pytest.approx(0.5, rel=1e-5)
    _, given = plt.subplots()
    assert d.plot(ax=given) is given and len(given.patches) == len(d.layers)
    plt.close(given.figure)


@pytest.mark.slow
def test_catalog_mobilenet_with_real_weights_vs_its_finetuned_child(tmp_registry, shared_data, tmp_path):
    """The catalog entry is built by Keras's loader (ImageNet weights); the child adds a head on the frozen backbone."""
    reg = tmp_registry
    base = keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet", input_shape=(224, 224, 3),
                                        pooling="avg")
    base.trainable = False
    out = keras.layers.Dense(2, activation="softmax", name="head")(base.output)
    child = keras.Model(base.input, out, name="mobilenet_child")
    path = tmp_path / "child.keras"
    child.save(path)
    record = reg.add_model(path, parent="MobileNet_0.25_224")
    d = diff("MobileNet_0.25_224:v1", record, registry=reg)  # the bare name now means the newest version, v2
    assert any("without its ImageNet top" in n for n in d.notes)  # only the no-top weights are offline
    assert d.summary.startswith("head added: Dense(2)")
    backbone = d.layers[d.layers["status"] != "added"]
    assert len(backbone) > 50 and (backbone["fraction_moved"].fillna(0) == 0).all()
    assert d.metadata.loc["read_from", "a"] == "keras" and d.metadata.loc["read_from", "b"] == "file"
    assert d.relation == f"{record.ref} descends from MobileNet_0.25_224:v1 (1 generation)"


def test_nested_backbone_matches_flat_one_and_file_reader_agrees_with_keras(tmp_path):
    keras.utils.set_random_seed(5)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="c1")(inp)
    x = keras.layers.Conv2D(4, 3, name="c2")(x)
    back = keras.Model(inp, keras.layers.GlobalAveragePooling2D(name="gap")(x), name="backbone")
    nested = keras.Sequential([keras.Input((16, 16, 3)), back, keras.layers.Dense(3, name="head")], name="seq")
    flat = keras.Model(back.input, keras.layers.Dense(3, name="head")(back.output), name="flat")
    flat.get_layer("head").set_weights(nested.get_layer("head").get_weights())
    nested.save(tmp_path / "nested.keras")
    flat.save(tmp_path / "flat.keras")
    d = diff(tmp_path / "nested.keras", tmp_path / "flat.keras")
    assert d.identical, d.changes  # same layers and weights; only the nesting differs
    assert list(d.layers["name_a"]) == ["backbone/c1", "backbone/c2", "backbone/gap", "head"]
    assert list(d.layers["name_b"]) == ["c1", "c2", "gap", "head"]
    from_files = diff(tmp_path / "nested.keras", tmp_path / "nested.keras", mode="files").layers
    from_keras = diff(tmp_path / "nested.keras", tmp_path / "nested.keras", mode="memory").layers
    assert list(from_files["output_shape_a"]) == list(from_keras["output_shape_a"])
    assert list(from_files["output_shape_a"]) == [(None, 14, 14, 4), (None, 12, 12, 4), (None, 4), (None, 3)]
