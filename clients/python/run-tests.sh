#!/usr/bin/env bash
# Runs the Python client's tests against a real cairnd (started by the tests themselves).
#
#   CAIRND=/path/to/cairnd CAIRN_TEST_REDIS_URL=redis://127.0.0.1:6379 clients/python/run-tests.sh [pytest args]
#
# Creates clients/python/.venv when missing, installs the package (editable) and the test
# dependencies into it, then runs pytest. Arguments go to pytest (-k store, -x, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "cairn python tests: $python not found; install Python >= 3.10" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "cairn python tests: need Python >= 3.10, $python is $("$python" -V 2>&1)" >&2
  exit 1
fi
: "${CAIRND:?set CAIRND to the path of a built cairnd binary}"
: "${CAIRN_TEST_REDIS_URL:?set CAIRN_TEST_REDIS_URL to a running redis-server, e.g. redis://127.0.0.1:6379}"
if [ ! -x "$CAIRND" ]; then
  echo "cairn python tests: CAIRND=$CAIRND is not an executable file" >&2
  exit 1
fi

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "cairn python tests: the Python venv module (with ensurepip) is missing." >&2
    echo "  On Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 3
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.cairn-deps"
wanted="$(cat pyproject.toml requirements-test.txt 2>/dev/null | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt -e . >&2
  echo "$wanted" > "$stamp"
fi

exec "$venv/bin/python" -m pytest "$@"
