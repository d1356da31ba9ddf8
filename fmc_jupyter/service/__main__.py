"""``python -m fmc_jupyter.service --db PATH``: the registry service (started by JupyterHub)."""

from . import main

main()
