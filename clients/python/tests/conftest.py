"""Fixtures: a real cairnd (on the redis-server of $CAIRN_TEST_REDIS_URL) started once per
session, an admin client, and a fresh tenant with its own token per test."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import cairn


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port on which every connection is refused while the block runs: a socket of
    ours is bound to it and never listens. (A port that was merely free a moment ago may be taken
    by another test's server before it is used; this one cannot be bound by anyone else.)"""
    with socket.socket() as s:  # no SO_REUSEADDR: then nobody else can bind this port
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


_LISTENING = re.compile(rb"cairnd listening on 127\.0\.0\.1:(\d+) ")


def _answers_ping(port: int, tls: ssl.SSLContext | None = None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as plain:
            s = tls.wrap_socket(plain, server_hostname="127.0.0.1") if tls else plain
            f = s.makefile("rwb")
            hello = json.loads(f.readline())
            if hello.get("method") != "hello":
                return False
            f.write(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
            f.flush()
            return json.loads(f.readline()).get("result") == {"pong": True}
    except (OSError, ValueError):
        return False


@dataclass
class Server:
    """A running cairnd."""

    port: int
    admin_token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"cairn://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_cairnd(log_dir: Path, *extra: str, redis_url: str | None = None, tls: ssl.SSLContext | None = None) -> Server:
    """Starts cairnd on a loopback port of its own and waits (with a deadline) until it answers
    ping (over TLS with the context ``tls``, when given)."""
    cairnd = os.environ.get("CAIRND")
    redis = redis_url or os.environ.get("CAIRN_TEST_REDIS_URL")
    if not cairnd or not redis:
        pytest.fail("set CAIRND (a built cairnd) and CAIRN_TEST_REDIS_URL (a running redis-server); see run-tests.sh")
    admin_token = secrets.token_hex(24)
    env = dict(os.environ, CAIRN_ADMIN_TOKEN=admin_token, CAIRN_LOG_LEVEL="info")  # info: the line with the port
    for name in ("CAIRN_ADMIN_TOKEN_FILE", "CAIRN_AUTH", "CAIRN_LISTEN", "CAIRN_STREAM_LENGTH", "CAIRN_HISTORY_LIMIT"):
        env.pop(name, None)
    # Port 0: cairnd binds a port the kernel picks and logs it; no port is chosen here that
    # someone else could take before cairnd binds it.
    log_path = log_dir / f"cairnd-{secrets.token_hex(4)}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [cairnd, "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--redis-url", redis,
             "--key-prefix", f"pytest-{secrets.token_hex(6)}", *extra],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(0, admin_token, process, log_path, list(extra))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if server.port == 0:
            found = _LISTENING.search(log_path.read_bytes())
            server.port = int(found.group(1)) if found else 0
        if server.port and _answers_ping(server.port, tls):
            return server
        time.sleep(0.05)  # polling a condition, with a deadline
    server.stop()
    pytest.fail(f"cairnd did not start; its log:\n{server.log()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_cairnd(tmp_path_factory.mktemp("cairnd"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def admin(server: Server) -> Iterator[cairn.Client]:
    with cairn.Client(server.url, token=server.admin_token) as c:
        yield c


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class Minter:
    def __init__(self, admin: cairn.Client, tenant: str) -> None:
        self.admin = admin
        self.tenant = tenant

    def __call__(
        self, grants: tuple[str, ...] = ("read", "write"), *, tenant: str | None = None, principal: str = "tester",
        task: str | None = None, role: str | None = None,
    ) -> cairn.CreatedToken:
        return self.admin.token_create(tenant or self.tenant, principal, list(grants), task=task, role=role)


@pytest.fixture
def mint(admin: cairn.Client, tenant: str) -> Minter:
    """Mints tokens (default: read+write on the test's tenant) with the admin token."""
    return Minter(admin, tenant)


@pytest.fixture
def token(mint: Minter) -> str:
    return mint(("read", "write", "append")).token


@pytest.fixture
def client(server: Server, token: str) -> Iterator[cairn.Client]:
    with cairn.Client(server.url, token=token) as c:
        yield c


@pytest.fixture
def connect(server: Server) -> Iterator[Any]:
    """Opens more clients (closed at the end of the test): connect(token=..., url=..., **options)."""
    opened: list[cairn.Client] = []

    def open_client(token: str | None = None, url: str | None = None, **options: Any) -> cairn.Client:
        c = cairn.Client(url or server.url, token=token if token is not None else "", **options)
        opened.append(c)
        return c

    yield open_client
    for c in opened:
        c.close()
