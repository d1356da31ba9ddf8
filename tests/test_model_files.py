"""Untrusted model files cannot hurt the caller: each bad file is refused with a clear ModelLoadError/InputError,
the process survives (a crash stays in the inspecting worker), and the registry and artifact store are unchanged."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from _keras_models import tiny_keras_model
from fmc_jupyter.errors import InputError, ModelLoadError


def _state(reg) -> tuple[int, list[str]]:
    """(number of model rows, every file under the artifact store)."""
    count = reg.db.execute("SELECT count(*) FROM models").fetchone()[0]
    files = sorted(str(p.relative_to(reg.artifacts_root)) for p in reg.artifacts_root.rglob("*")) \
        if reg.artifacts_root.exists() else []
    return count, files


def _refused(reg, path, error, pattern):
    before = _state(reg)
    with pytest.raises(error, match=pattern) as info:
        reg.add_model(path)
    assert _state(reg) == before, "a refused add_model changed the registry or the artifact store"
    assert "File not found" not in str(info.value) and "codec" not in str(info.value)
    return str(info.value)


def test_random_bytes_named_keras(tmp_registry, tmp_path):
    path = tmp_path / "random.keras"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _refused(tmp_registry, path, ModelLoadError, r"random\.keras is not a Keras archive")


def test_sparse_3gb_file_named_keras_is_refused_from_its_header(tmp_registry, tmp_path):
    path = tmp_path / "huge.keras"
    with open(path, "wb") as fh:
        fh.truncate(3 * 1024 ** 3)          # sparse: 3 GB of zeros, no disk used
    _refused(tmp_registry, path, ModelLoadError, r"huge\.keras is not a Keras archive.*zip header")


def test_zip_bomb_keras_is_refused_with_the_cap_and_how_to_raise_it(tmp_registry, tmp_path, monkeypatch):
    monkeypatch.delenv("FMC_MAX_INFLATE_MB", raising=False)
    good = tiny_keras_model(tmp_path / "tiny.keras")
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "model.weights.h5":
                dst.writestr(info, src.read(info.filename))
        member = zipfile.ZipInfo("model.weights.h5")
        member.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(member, "w", force_zip64=True) as out:
            block = bytes(16 * 1024 * 1024)
            for _ in range(64):             # 1 GiB of zeros, about 1 MB deflated
                out.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    message = _refused(tmp_registry, bomb, ModelLoadError, r"refused: bomb\.keras would inflate to 1,024\.\d MB")
    assert "cap of 256.0 MB" in message and "FMC_MAX_INFLATE_MB" in message


def test_lambda_layer_is_refused_short_and_explicit(tmp_registry, tmp_path):
    path = tiny_keras_model(tmp_path / "lambda.keras", lambda_layer=True)
    message = _refused(tmp_registry, path, ModelLoadError,
                       r"^refused: lambda\.keras contains Python code \(Lambda layer 'double'\)")
    assert len(message) < 300


def test_config_naming_os_system_is_refused(tmp_registry, tmp_path):
    good = tiny_keras_model(tmp_path / "tiny.keras")
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["config"]["activation"] = {
                    "module": "os", "class_name": "system", "config": "echo pwned", "registered_name": "system"}
                data = json.dumps(config).encode()
            dst.writestr(info, data)
    message = _refused(tmp_registry, evil, ModelLoadError, r"^refused: evil\.keras refers to Python code outside "
                                                           r"Keras \(os\.system\)")
    assert len(message) < 300


def test_empty_tflite(tmp_registry, tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    _refused(tmp_registry, path, ModelLoadError, r"empty\.tflite is empty \(0 bytes\)")


def test_random_bytes_as_tflite(tmp_registry, tmp_path):
    path = tmp_path / "noise.tflite"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 10_000, dtype=np.uint8).tobytes())
    _refused(tmp_registry, path, ModelLoadError, r"noise\.tflite is not a TFLite model.*'TFL3'")


@pytest.mark.slow
def test_truncated_tflite_crashes_only_the_worker_and_the_next_file_loads(tmp_registry, shared_data, tmp_path):
    real = shared_data / "models" / "tflite" / "mobilenet_v1_0.25_128_quant.tflite"
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(real.read_bytes()[:256 * 1024])
    _refused(tmp_registry, cut, ModelLoadError, r"cut\.tflite")
    # this process is alive, and a good file registers through a fresh worker
    record = tmp_registry.add_model(real, name="after-crash")
    assert record.source_kind == "tflite_file" and record.input_size == 128


def test_directory_and_missing_paths(tmp_registry, tmp_path):
    _refused(tmp_registry, tmp_path / "nope.keras", InputError, "does not exist")
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    before = _state(tmp_registry)
    with pytest.raises((InputError, ModelLoadError)):
        tmp_registry.add_model(folder)
    assert _state(tmp_registry) == before


def test_inspection_limits_are_read_from_the_environment(monkeypatch):
    from fmc_jupyter.zoo.sources import untrusted

    monkeypatch.setenv("FMC_MAX_INFLATE_MB", "1.5")
    assert untrusted.inflate_cap_bytes() == int(1.5 * 1024 * 1024)
    monkeypatch.setenv("FMC_MAX_INFLATE_MB", "lots")
    with pytest.raises(InputError, match="FMC_MAX_INFLATE_MB='lots' is not a number"):
        untrusted.inflate_cap_bytes()
    monkeypatch.setenv("FMC_INSPECT_TIMEOUT_S", "-3")
    with pytest.raises(InputError, match="must be positive"):
        untrusted.time_cap_seconds()
