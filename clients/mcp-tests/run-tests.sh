#!/usr/bin/env bash
# Runs the MCP tests: the official MCP Python SDK and langchain-mcp-adapters as real clients of
# `cairn mcp` (stdio) and `cairnd --mcp-listen` (Streamable HTTP).
#
#   CAIRND=/path/to/cairnd CAIRN=/path/to/cairn clients/mcp-tests/run-tests.sh [pytest args]
#
# Uses the redis-server of $CAIRN_TEST_REDIS_URL when set, else starts a private one on a free
# port. Creates clients/mcp-tests/.venv when missing and installs the test dependencies and the
# Cairn Python client (clients/python, for writes through the wire protocol) into it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "cairn mcp tests: need Python >= 3.10 as $python" >&2
  exit 1
fi
: "${CAIRND:?set CAIRND to the path of a built cairnd binary}"
: "${CAIRN:?set CAIRN to the path of a built cairn binary}"
for binary in "$CAIRND" "$CAIRN"; do
  if [ ! -x "$binary" ]; then
    echo "cairn mcp tests: $binary is not an executable file" >&2
    exit 1
  fi
done

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "cairn mcp tests: the Python venv module (with ensurepip) is missing; on Debian/Ubuntu: apt-get install python3-venv" >&2
    exit 3
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.cairn-deps"
wanted="$(cat requirements-test.txt ../python/pyproject.toml | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt -e ../python >&2
  echo "$wanted" > "$stamp"
fi

exec "$venv/bin/python" -m pytest "$@"
