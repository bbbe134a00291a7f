"""Fixtures: a private redis-server, a real cairnd (with its MCP HTTP endpoint), the `cairn`
binary for `cairn mcp` over stdio, an admin client, and a fresh tenant per test.

Every server is started on a port the OS just reported free; when another process takes it in
between, the start fails and is tried again on another port."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import cairn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, deadline_s: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and process.poll() is None:
        if predicate():
            return True
        time.sleep(0.05)  # polling a condition, with a deadline
    return False


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _cairnd_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            f = s.makefile("rwb")
            if json.loads(f.readline()).get("method") != "hello":
                return False
            f.write(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
            f.flush()
            return json.loads(f.readline()).get("result") == {"pong": True}
    except (OSError, ValueError):
        return False


def _http_listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("CAIRN_TEST_REDIS_URL")
    if given:
        yield given
        return
    binary = os.environ.get("CAIRN_REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        pytest.fail("no redis-server: install it or set CAIRN_TEST_REDIS_URL")
    data = tempfile.mkdtemp(prefix="cairn-mcp-redis-")
    try:
        for _ in range(5):
            port = free_port()
            process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if _wait(lambda: _redis_answers(port), 20, process):
                try:
                    yield f"redis://127.0.0.1:{port}"
                finally:
                    _stop(process)
                return
            _stop(process)
        pytest.fail("could not start a private redis-server")
    finally:
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Cairnd:
    port: int
    mcp_port: int
    admin_token: str
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"cairn://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.mcp_port}/mcp"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def cairnd(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cairnd]:
    binary = os.environ.get("CAIRND")
    if not binary:
        pytest.fail("set CAIRND to a built cairnd; see run-tests.sh")
    log_dir = tmp_path_factory.mktemp("cairnd")
    admin_token = secrets.token_hex(24)
    env = dict(os.environ, CAIRN_ADMIN_TOKEN=admin_token, CAIRN_LOG_LEVEL="info")
    for name in ("CAIRN_ADMIN_TOKEN_FILE", "CAIRN_AUTH", "CAIRN_LISTEN", "CAIRN_MCP_LISTEN"):
        env.pop(name, None)
    last = ""
    for _ in range(5):
        port, mcp_port = free_port(), free_port()
        log_path = log_dir / f"cairnd-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [binary, "--listen", f"127.0.0.1:{port}", "--mcp-listen", f"127.0.0.1:{mcp_port}", "--metrics-listen", "off",
                 "--redis-url", redis_url, "--key-prefix", f"mcp-{secrets.token_hex(6)}"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        server = Cairnd(port, mcp_port, admin_token, process, log_path)
        if _wait(lambda: _cairnd_answers(port) and _http_listens(mcp_port), 30, process):
            try:
                yield server
            finally:
                _stop(process)
            return
        _stop(process)
        last = server.log()
    pytest.fail(f"cairnd did not start; its log:\n{last}")


@pytest.fixture(scope="session")
def cairn_binary() -> str:
    binary = os.environ.get("CAIRN")
    if not binary:
        pytest.fail("set CAIRN to a built cairn (the CLI); see run-tests.sh")
    return binary


@pytest.fixture(scope="session")
def admin(cairnd: Cairnd) -> Iterator[cairn.Client]:
    with cairn.Client(cairnd.url, token=cairnd.admin_token) as c:
        yield c


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def token(admin: cairn.Client, tenant: str) -> str:
    return admin.token_create(tenant, "mcp-tester", ["read", "write", "append"]).token


@pytest.fixture
def wire(cairnd: Cairnd, token: str) -> Iterator[cairn.Client]:
    """A plain wire-protocol client on the test's tenant."""
    with cairn.Client(cairnd.url, token=token) as c:
        yield c
