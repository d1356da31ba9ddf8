"""Executing the example notebooks end to end in a real Jupyter kernel (nbclient).

Used by ``python -m fmc_jupyter quickstart`` and by the test suite. The kernel imports the same
``fmc_jupyter`` as the caller (its folder is put first on the kernel's ``PYTHONPATH``), starts in the
output folder, and gets ``FMC_OUTPUT_DIR`` so the notebook writes its files (e.g. the training report)
there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import FmcError

__all__ = ["example_notebooks_dir", "execute_notebook", "NotebookFailed"]


class NotebookFailed(FmcError):
    """A cell of an executed notebook raised; the partly executed notebook was still written."""


def example_notebooks_dir() -> Path:
    """``example_notebooks/`` of the checkout this package was imported from."""
    folder = Path(__file__).resolve().parents[1] / "example_notebooks"
    if not folder.is_dir():
        raise FmcError(f"{folder} does not exist: the example notebooks ship with the source checkout "
                       "(git clone the project and pip install -e . from it)")
    return folder


@contextlib.contextmanager
def _environment(changes: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a kernel started inside the block (it inherits them), then restore."""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute_notebook(notebook: str | os.PathLike, output_dir: str | os.PathLike, *, timeout: int = 900,
                     html: bool = True, env: dict[str, str] | None = None, kernel_name: str = "python3") -> Path:
    """Run every cell of ``notebook`` in a fresh kernel; write the executed copy (and an HTML copy) to ``output_dir``.

    Returns the executed notebook's path. A failing cell raises :class:`NotebookFailed` naming the cell,
    after the partly executed notebook was written (open it to see the error in place).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(notebook)
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(source, as_version=4)
    package_parent = str(Path(__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    changes = {"FMC_OUTPUT_DIR": str(out), "PYTHONPATH": python_path, **(env or {})}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(out)}})
    target = out / source.name
    failure: CellExecutionError | None = None
    with _environment(changes):
        try:
            client.execute()
        except CellExecutionError as exc:
            failure = exc
    nbformat.write(nb, target)
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        target.with_suffix(".html").write_text(body, encoding="utf-8")
    if failure is not None:
        summary = str(failure).strip().splitlines()
        raise NotebookFailed(f"{source.name} failed; the executed notebook is {target}.\n" + "\n".join(summary[-12:]))
    return target
