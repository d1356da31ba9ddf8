"""Every notebook in example_notebooks/ runs end to end in a real kernel (nbclient); any cell error fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from fmc_jupyter.notebooks import NotebookFailed, example_notebooks_dir, execute_notebook

NOTEBOOKS = sorted(example_notebooks_dir().glob("*.ipynb"))
# the quickstart runs through the main job (test_quickstart_main_job...), the others here
OTHERS = [p for p in NOTEBOOKS if p.name != "quickstart.ipynb"]
# notebooks that read offline weights / images (the others build what they need)
NEEDS_SHARED_DATA = {"quickstart.ipynb", "auto.ipynb"}


def test_there_are_example_notebooks():
    assert "quickstart.ipynb" in [p.name for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", OTHERS, ids=[p.stem for p in OTHERS])
def test_notebook_runs_without_errors(notebook, request, tmp_path):
    if notebook.name in NEEDS_SHARED_DATA:
        request.getfixturevalue("shared_data")  # skips without the offline weights and images
    if notebook.name == "hub.ipynb":
        from fmc_jupyter.service.localhub import find_proxy_command

        if importlib.util.find_spec("jupyterhub") is None or find_proxy_command() is None:
            pytest.skip("hub.ipynb starts a local JupyterHub: needs jupyterhub and configurable-http-proxy "
                        "(npm ci --prefix tests/hub, as scripts/test.sh does, or $FMC_CHP)")
    out = tmp_path / "out"
    registry = tmp_path / "registry.db"
    executed = execute_notebook(notebook, out, timeout=600, env={"FMC_REGISTRY": str(registry)})
    nb = nbformat.read(executed, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "every code cell ran"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert executed.with_suffix(".html").stat().st_size > 0
    if notebook.name != "hub.ipynb":  # (the hub notebook uses the hub's registry service)
        assert registry.exists()  # the notebook used the registry it was pointed at, not the user's


def test_a_failing_cell_fails_and_still_writes_the_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext fmc_jupyter"),
                nbformat.v4.new_code_cell("%findcnn show NoSuchModel"),
                nbformat.v4.new_code_cell("print('never')")]
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(NotebookFailed, match="broken.ipynb failed") as info:
        execute_notebook(source, tmp_path / "out", html=False, timeout=120,
                         env={"FMC_REGISTRY": str(tmp_path / "r.db")})
    assert "no model 'NoSuchModel'" in str(info.value)
    written = nbformat.read(tmp_path / "out" / "broken.ipynb", as_version=4)
    # the kernel shows a user's mistake as one short line, no traceback
    (shown,) = written.cells[1].outputs
    assert shown.output_type == "stream" and shown.name == "stderr"
    assert shown.text.startswith("UsageError: no model 'NoSuchModel'") and shown.text.count("\n") == 1
    assert not written.cells[2].get("outputs")


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = json.loads(Path(path).read_text())
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), path.name


@pytest.mark.slow
def test_quickstart_main_job_writes_notebook_html_and_report(shared_data, tmp_path, monkeypatch):
    from fmc_jupyter.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--registry", str(tmp_path / "reg.db"), "--timeout", "600"]) == 0
    out = tmp_path / "quickstart-output"
    assert (out / "quickstart.ipynb").is_file() and (out / "quickstart.html").is_file()
    assert "Training run" in (out / "report.html").read_text()  # the fine-tuning report, where README says
    nb = nbformat.read(out / "quickstart.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "every code cell ran"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert (tmp_path / "reg.db").exists()  # the kernel used the registry it was given
