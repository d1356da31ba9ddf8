#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
# configurable-http-proxy for the JupyterHub end-to-end test, project-local (tests/hub/node_modules), never global
if command -v npm >/dev/null; then npm ci --prefix tests/hub --no-audit --no-fund --loglevel=error; fi
# The panel's front-end unit tests (jest: the typed REST client, formats, chart ticks, snippets)
(cd labextension && jlpm install && jlpm test)
# The browser tests (tests/test_browser.py) drive Debian's Chromium through Playwright; never a browser download.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
    || { echo "chromium could not be installed: the browser tests will be skipped"; [ "${CI:-}" != "true" ] || exit 1; }
fi
# PostgreSQL for tests/test_postgres*.py: Debian's server package; the tests start (initdb + pg_ctl, as the
# 'postgres' system user when run as root) and remove a throw-away cluster themselves (tests/_postgres.py).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql; } \
    || { echo "postgresql could not be installed: the PostgreSQL tests will be skipped"; [ "${CI:-}" != "true" ] || exit 1; }
fi
python -m pytest "$@"
