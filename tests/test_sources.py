"""Model sources as plug-ins: one contract over every source (rank, fine-tune where trainable, evaluate, diff),
with small real models built here: the Keras Applications catalog (offline MobileNet 0.25 weights), a stored
Keras file, a stored TFLite file, a KerasHub preset folder written by ``save_to_preset`` and the same preset laid
out as a Hugging Face repo and registered by ``hf://`` handle through the download step pointed at a local folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import fmc_jupyter as fmc
from _finetune_support import keras_weights, sign_digits
from _keras_models import tiny_keras_model
from fmc_jupyter.errors import InputError, ModelLoadError
from fmc_jupyter.registry import Registry
from fmc_jupyter.zoo.sources import SOURCES, get_source, source_of

CARD = """---
license: apache-2.0
datasets:
  - acme/leaf-photos
tags:
  - keras-hub
  - image-classification
library_name: keras-hub
---
# tiny-resnet

A tiny ResNet for the tests.
"""


def _tiny_preset(folder: Path, classes: int = 10) -> Path:
    """A 10-class KerasHub ResNet classifier (32 px, its own 1/255 image converter) saved with save_to_preset."""
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(None, None, 3))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    keras_hub.models.ResNetImageClassifier(backbone=backbone, num_classes=classes,
                                           preprocessor=preprocessor).save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A registry holding one model of every source, the mirror folder, and train/test images."""
    data = keras_weights()
    (x, y), (xt, yt) = sign_digits(5, 3)
    root = tmp_path_factory.mktemp("sources")
    reg = Registry(root / "registry.db", user="alice")
    preset = _tiny_preset(root / "tiny-preset")
    mirror = root / "mirror"
    shutil.copytree(preset, mirror / "hf" / "acme" / "tiny-resnet")
    (mirror / "hf" / "acme" / "tiny-resnet" / "README.md").write_text(CARD)
    refs = {
        "keras_application": "MobileNet_0.25_224:v1",
        "keras_file": reg.add_model(tiny_keras_model(root / "tiny.keras", classes=10), name="tiny-file").ref,
        "tflite_file": reg.add_model(data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite",
                                     name="tiny-tflite").ref,
        "kerashub_preset": reg.add_model(preset, name="tiny-hub").ref,
    }
    yield {"reg": reg, "refs": refs, "mirror": mirror, "x": x, "y": y, "xt": xt, "yt": yt}
    reg.close()


def _counts(reg) -> dict[str, int]:
    return {t: reg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("models", "runs", "evaluations")}


def test_lookup_table_names_every_source_and_refuses_unknown_names():
    assert {"keras_application", "keras_file", "tflite_file", "kerashub_preset"} <= set(SOURCES)
    assert {s.format for s in SOURCES.values()} >= {"keras", "tflite", "kerashub"}
    with pytest.raises(ModelLoadError, match=r"unknown model source 'kerashub'.*Did you mean 'kerashub_preset'"):
        get_source("kerashub")


def test_catalog_rows_all_have_a_source_and_the_kerashub_presets_are_searchable(tmp_registry):
    kinds = set(tmp_registry.search("", limit=None)["source_kind"])
    assert all(get_source(k) for k in kinds)
    assert tmp_registry.count("format=kerashub") >= 100
    med = tmp_registry.search("domain=medical", columns=["name", "family", "license", "input_size", "params"])
    assert list(med["name"]) == ["medsiglip_900m_448"]
    assert med.iloc[0]["input_size"] == 448 and med.iloc[0]["params"] == 878301426
    assert tmp_registry.count("family=dinov2 and pretrained=lvd-142m") == 8
    assert tmp_registry.count("format=kerashub and license=apache-2.0") > 50
    # KerasHub publishes no ImageNet top-1 per preset: none is invented
    assert tmp_registry.count("format=kerashub and top1>0") == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["keras_application", "keras_file", "tflite_file", "kerashub_preset"])
def test_every_source_ranks_finetunes_evaluates_and_diffs(world, kind):
    reg, ref = world["reg"], world["refs"][kind]
    record = reg.model(ref)
    source = source_of(record)
    assert source.kind == kind == record.source_kind and record.format == source.format
    ranking = fmc.rank(world["x"], world["y"], models=[ref], registry=reg, per_class=4, bootstrap=0, progress=False)
    row = ranking.table.iloc[0]
    assert row["error"] is None and np.isfinite(row["combined"]) and row["rank"] == 1, row["error"]

    if not source.trainable:
        with pytest.raises(ModelLoadError, match="cannot be fine-tuned"):
            fmc.finetune(ref, world["x"], world["y"], epochs=1, registry=reg, progress=False)
        before = _counts(reg)
        with pytest.raises(ModelLoadError, match="diff compares Keras models"):
            fmc.diff(ref, world["refs"]["keras_file"], registry=reg)
        assert _counts(reg) == before
        return
    run = fmc.finetune(ref, world["x"], world["y"], epochs=1, registry=reg, progress=False, batch_size=8)
    child = run.keep_both(f"{record.name}-child")
    assert child.parent_id == record.id and len(run.history) == 1
    changes = fmc.diff(ref, child.ref, registry=reg)
    assert "head" in changes.summary or not changes.identical
    result = fmc.evaluate(child.ref, world["xt"], world["yt"], registry=reg)
    assert 0.0 <= result.accuracy <= 1.0 and result.metrics.confusion.sum() == len(world["yt"])


@pytest.mark.slow
def test_kerashub_preset_evaluates_with_its_own_head_and_preprocessing(world):
    reg, ref = world["reg"], world["refs"]["kerashub_preset"]
    record = reg.model(ref)
    assert record.num_classes == 10 and record.input_size == 32 and record.architecture == "ResNetBackbone"
    assert record.weights_present == 1 and record.format == "kerashub" and record.artifact is None
    source = source_of(record)
    x = source.preprocess(record, world["xt"][:4])
    assert x.shape == (4, 32, 32, 3) and float(x.max()) <= 1.0 + 1e-6   # the converter's 1/255 scale
    result = fmc.evaluate(ref, world["xt"], world["yt"], registry=reg)
    assert result.metrics.confusion.shape == (10, 10)


@pytest.mark.slow
def test_hf_handle_registers_with_its_model_card_through_the_download_step(world, monkeypatch):
    reg = world["reg"]
    monkeypatch.setenv("FMC_HUB_MIRROR", str(world["mirror"]))
    record = reg.add_model("hf://acme/tiny-resnet")
    assert record.name == "tiny-resnet" and record.format == "hf" and record.source["preset"] == "hf://acme/tiny-resnet"
    assert record.license == "apache-2.0" and record.pretrained_on == "acme/leaf-photos"
    assert "image-classification" in record.tags and record.artifact is None and record.weights_present == 1
    assert reg.count("format=hf and license=apache-2.0") == 1
    ranking = fmc.rank(world["x"], world["y"], models=[record.ref], registry=reg, per_class=3, bootstrap=0,
                       progress=False)
    assert ranking.table.iloc[0]["error"] is None, ranking.table.iloc[0]["error"]


def test_bad_handles_are_refused_before_anything_is_written(tmp_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FMC_HUB_MIRROR", str(tmp_path))
    before = _counts(tmp_registry)
    with pytest.raises(InputError, match=r"not a Hugging Face handle; write hf://<owner>/<repo>"):
        tmp_registry.add_model("hf://only-owner")
    with pytest.raises(InputError, match="not a Kaggle model handle"):
        tmp_registry.add_model("kaggle://a/b")
    folder = tmp_path / "not-a-preset"
    folder.mkdir()
    with pytest.raises(InputError, match="neither a model file nor a KerasHub preset folder"):
        tmp_registry.add_model(folder)
    assert _counts(tmp_registry) == before


@pytest.mark.slow
def test_absent_catalog_weights_are_reported_once_with_the_file_keras_looks_for(tmp_registry, monkeypatch):
    keras_weights()
    from keras.src.utils import file_utils

    calls = []
    real = file_utils.get_file

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("fname"))
        return real(*args, **kwargs)

    monkeypatch.setattr(file_utils, "get_file", counting)
    record = tmp_registry.model("MobileNet_0.50_224:v1")
    assert record.weights_present == 0
    assert tmp_registry.count("name=MobileNet_0.25_224 and weights=present") == 1
    images = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    for _ in range(2):
        with pytest.raises(ModelLoadError, match=r"mobilenet_5_0_224_tf_no_top\.h5.*KERAS_HOME"):
            fmc.zoo.extract_features(record, images, tmp_registry, cache=False, progress=False)
    assert calls == ["mobilenet_5_0_224_tf_no_top.h5"]     # the second call did not try to download again


def test_weights_facet_follows_files_put_in_keras_home_later(tmp_registry, tmp_path, monkeypatch):
    import fmc_jupyter.registry.registry as registry_module

    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    tmp_registry.refresh_weights_present()
    query = "name=MobileNet_0.25_224 and weights=present"
    assert tmp_registry.count(query) == 0
    (home / "models").mkdir(parents=True)
    (home / "models" / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(b"weights")  # what Keras's get_file looks for
    assert tmp_registry.count(query) == 0                  # checked less than a minute ago: the stored answer
    monkeypatch.setattr(registry_module, "_WEIGHTS_RECHECK_S", 0.0)
    changes = tmp_registry.change_count()
    assert tmp_registry.count(query) == 1                  # a search about weights checks the files again
    assert list(tmp_registry.search(query)["name"]) == ["MobileNet_0.25_224"]
    assert tmp_registry.change_count() == changes + 1      # one stored change, seen by live panels
    assert tmp_registry.refresh_weights_present() == 0
