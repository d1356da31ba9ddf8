#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
# configurable-http-proxy for the JupyterHub end-to-end test, project-local (tests/hub/node_modules), never global
if command -v npm >/dev/null; then npm ci --prefix tests/hub --no-audit --no-fund --loglevel=error; fi
python -m pytest "$@"
