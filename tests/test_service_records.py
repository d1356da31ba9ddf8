"""The registry service identifies arrays and compares signatures without TensorFlow: every dataset identity and
records method it serves runs in a fresh process (a real service object on a real registry file) and leaves
Keras, TensorFlow and JAX unimported; computing a signature is not something the service offers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, sys
import numpy as np
from fmc_jupyter.errors import InputError
from fmc_jupyter.registry.datasets_identity import arrays_identity
from fmc_jupyter.service.app import RegistryService
from fmc_jupyter.similarity import signature_from_features

svc = RegistryService(sys.argv[1], threads=1)

def call(method, *args, run=None, **kwargs):
    text = svc.pool.submit(svc.call, "alice", method, list(args), kwargs, "req" + str(call.n).zfill(8), run).result()
    call.n += 1
    return json.loads(text)["result"]
call.n = 0

rng = np.random.default_rng(0)
x, y = rng.integers(0, 256, size=(9, 8, 8, 3), dtype=np.uint8), np.arange(9) % 3
data = call("add_dataset", run=lambda reg: reg.add_dataset(x, y, "pets", ["a", "b", "c"]))
_, _, ident = arrays_identity(x[[4, 1, 7]], np.array(["b", "b", "b"]))
assert call("match_hashes", **ident)["fields"]["slice_rows"] == [4, 1, 7]
part = call("record_hashes", **ident)["fields"]
assert part["slice_id"] is not None and part["slice_rows"] == [4, 1, 7]
sig = signature_from_features(rng.normal(size=(9, 16)), y).to_dict()
assert call("missing_signatures", None) == [data["fields"]["id"]]
assert call("store_signature", "pets", sig) is True and call("stored_signature", "pets")["embedder"]
near = call("datasets_near", sig, 3)
assert near["rows"][0][1] == "pets" and near["rows"][0][2] < 1e-6
assert call("dataset_records", "pets") == {} and call("datasets_with_records", True) == []
assert call("best_runs", "pets", 5)["rows"] == []
try:
    call("dataset_signature", "pets")
except InputError as exc:
    assert "no operation" in str(exc)
else:
    raise AssertionError("the service computed a signature")
svc.close()
heavy = sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_identity_and_records_calls_never_load_keras_on_the_service(tmp_path):
    pytest.importorskip("jupyterhub", reason="the registry service needs jupyterhub")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "registry.db")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HEAVY []" in done.stdout, done.stdout
