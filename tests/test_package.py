"""The package as a user meets it: a fast import and the quickstart command line."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_keras_or_jupyter():
    code = ("import sys, fmc_jupyter as fmc; fmc.open_registry; "
            "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'IPython', 'ipywidgets', 'jupyter_server', 'matplotlib') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_surface_is_explicit():
    import fmc_jupyter as fmc

    for name in ("open_registry", "Registry", "FmcError", "QueryError", "rank", "finetune", "diff"):
        assert name in fmc.__all__
    import pytest

    with pytest.raises(AttributeError):
        fmc.no_such_thing  # noqa: B018


def test_lazy_services_are_functions_in_any_import_order():
    code = ("import fmc_jupyter.ranking, fmc_jupyter.finetuning, fmc_jupyter.evaluation, fmc_jupyter.autopilot, "
            "fmc_jupyter.modeldiff, inspect, fmc_jupyter as fmc; "
            "print(all(inspect.isfunction(getattr(fmc, n)) for n in ('rank', 'finetune', 'evaluate', 'auto', 'diff')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "True"


def test_tensorflow_retracing_advice_is_dropped_but_other_tensorflow_warnings_show(caplog):
    import logging

    import fmc_jupyter  # noqa: F401  (installs the filter)

    logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        logger.warning("5 out of the last 8 calls to <function f> triggered tf.function retracing. Tracing is ...")
        logger.warning("something else went wrong")
    assert [r.getMessage() for r in caplog.records] == ["something else went wrong"]
