"""Records-informed recommendation on real images and the real reference embedder (issue 16): dataset signatures
stored once, similar datasets, the ``records`` vote in rank, and fine-tuning defaults from the nearest runs."""

from __future__ import annotations

import numpy as np
import pytest

from fmc_jupyter.config import shared_data_dir

DATA = shared_data_dir()
pytestmark = [pytest.mark.skipif(DATA is None, reason="offline data folder ../shared/data is absent"),
              pytest.mark.slow]


def part(name, per_class, offset=0, classes=None):
    with np.load(DATA / "datasets" / f"{name}.npz") as npz:
        x, y, names = npz["x_train"], npz["y_train"], [str(c) for c in npz["class_names"]]
    keep = classes if classes is not None else np.unique(y)
    idx = np.concatenate([np.flatnonzero(y == c)[offset:offset + per_class] for c in keep])
    return x[idx], np.array([names[c] for c in y[idx]])


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    from fmc_jupyter.registry import Registry

    r = Registry(tmp_path_factory.mktemp("records") / "registry.db", user="alice")
    for name, ds in (("corn", "corn4"), ("blood", "blood_cells"), ("clothes", "clothing10")):
        x, y = part(ds, 6, classes=[0, 1, 2, 3])
        r.add_dataset(x, y, name=name)
    yield r
    r.close()


def test_similar_datasets_computes_each_signature_once(reg):
    near = reg.similar_datasets("corn", k=5)
    assert list(near.columns) == ["dataset_id", "name", "distance", "num_classes", "num_examples"]
    assert set(near["name"]) == {"blood", "clothes"} and near["distance"].is_monotonic_increasing
    assert (near["distance"] > 0).all()
    stored = reg.db.execute("SELECT count(*) FROM dataset_signatures").fetchone()[0]
    assert stored == 3
    x, y = part("corn4", 6, offset=20, classes=[0, 1, 2, 3])      # new maize images: corn is nearest
    fresh = reg.similar_datasets(x, y, k=1)
    assert list(fresh["name"]) == ["corn"]
    assert reg.db.execute("SELECT count(*) FROM dataset_signatures").fetchone()[0] == stored   # arrays: not stored
    with pytest.raises(Exception, match="k must be"):
        reg.similar_datasets("corn", k=0)


def test_rank_gets_a_records_vote_from_the_nearest_datasets(reg):
    import fmc_jupyter as fmc

    tflite = reg.add_model(DATA / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite", top1=0.399)
    base = reg.model("MobileNet_0.25_224:v1")
    reg.add_evaluation(base, "corn", accuracy=0.5)
    reg.add_evaluation(tflite, "corn", accuracy=0.9)                   # the TFLite model did best on maize
    x, y = part("corn4", 5, offset=30, classes=[0, 1, 2, 3])
    r = fmc.rank(x, y, models=[base.ref, tflite.ref], registry=reg, per_class=5, bootstrap=0, progress=False,
                 save=False)
    rows = r.table.set_index("model")
    assert rows.loc[tflite.ref, "records"] == 1.0 and rows.loc[base.ref, "records"] == 0.0
    assert r.records_from and r.records_from[0][0] == "corn"
    assert "records from corn" in repr(r)
    off = fmc.rank(x, y, models=[base.ref, tflite.ref], registry=reg, per_class=5, bootstrap=0, progress=False,
                   save=False, neighbours=0)
    assert off.table["records"].isna().all() and off.records_from == []


def test_finetune_takes_its_defaults_from_the_best_run_on_the_nearest_dataset(reg):
    import fmc_jupyter as fmc

    first = fmc.finetune("MobileNet_0.25_224:v1", "corn", epochs=2, lr=0.02, registry=reg, progress=False)
    x, y = part("corn4", 6, offset=40, classes=[0, 1, 2, 3])
    run = fmc.finetune("MobileNet_0.25_224:v1", x, y, registry=reg, progress=False)
    origin = run.config["defaults_from"]
    assert origin["run_id"] == first.run_id and origin["dataset"] == "corn" and origin["distance"] > 0
    rec = reg.run(run.run_id)
    assert rec.learning_rate == pytest.approx(0.02) and rec.epochs == 2 and len(rec.history) == 2
    mine = fmc.finetune("MobileNet_0.25_224:v1", x, y, epochs=1, registry=reg, progress=False)
    assert mine.config["defaults_from"] is None and reg.run(mine.run_id).epochs == 1


@pytest.fixture(scope="module")
def hub_reg(tmp_path_factory):
    """alice's registry on a real JupyterHub's registry service (a kernel's ``open_registry("hub")``)."""
    pytest.importorskip("jupyterhub", reason="jupyterhub is not installed: pip install -e '.[test]'")
    from fmc_jupyter.registry import RemoteRegistry
    from fmc_jupyter.service.localhub import LocalHub, find_proxy_command

    if find_proxy_command() is None:
        pytest.skip("configurable-http-proxy is not installed: npm ci --prefix tests/hub (scripts/test.sh does)")
    with LocalHub(tmp_path_factory.mktemp("hub"), threads=2) as hub:
        with RemoteRegistry(hub.service_url(), hub.create_user("alice")) as reg:
            yield reg


def test_a_hub_kernel_gets_similar_datasets_slices_and_the_records_vote(hub_reg):
    import fmc_jupyter as fmc

    reg = hub_reg
    for name, ds in (("corn", "corn4"), ("blood", "blood_cells")):
        reg.add_dataset(*part(ds, 6, classes=[0, 1, 2, 3]), name=name)
    x, y = part("corn4", 5, offset=30, classes=[0, 1, 2, 3])            # new maize images
    near = reg.similar_datasets(x, y, k=2)
    assert list(near["name"]) == ["corn", "blood"] and near["distance"].is_monotonic_increasing
    assert reg.dataset_signature("corn", compute=False) is not None      # computed in the kernel, kept by the service
    tflite = reg.add_model(DATA / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite", top1=0.399)
    base = reg.model("MobileNet_0.25_224:v1")
    reg.add_evaluation(base, "corn", accuracy=0.5)
    reg.add_evaluation(tflite, "corn", accuracy=0.9)
    r = fmc.rank(x, y, models=[base.ref, tflite.ref], registry=reg, per_class=5, bootstrap=0, progress=False,
                 save=False)
    rows = r.table.set_index("model")
    assert rows.loc[tflite.ref, "records"] == 1.0 and rows.loc[base.ref, "records"] == 0.0
    assert r.records_from[0][0] == "corn" and r.records_from[0][1] > 0
    sub_x, sub_y = part("corn4", 3, classes=[0, 1, 2, 3])                # images corn holds: a slice, nothing new
    mine = fmc.rank(sub_x, sub_y, models=[base.ref, tflite.ref], registry=reg, per_class=3, bootstrap=0,
                    progress=False)
    assert mine.dataset.name == "corn" and mine.dataset.slice_id is not None and len(mine.dataset.slice_rows) == 12
    assert mine.records_from[0] == ("corn", 0.0)
    assert sorted(reg.datasets()["name"]) == ["blood", "corn"]
