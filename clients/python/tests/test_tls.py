"""TLS (``cairns://``) in both Python clients, against a real cairnd with certificates made at
test time by the ``openssl`` binary (a throw-away CA)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import cairn
from cairn.aio import AsyncClient

from conftest import Server, start_cairnd


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_ca(folder: Path, name: str) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1/localhost, one for wrong.example, and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
             "-subj", f"/CN={name} CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    files = {"ca": str(ca)}
    for base, subject, ext in [
        ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("other", "/CN=wrong.example", "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n"),
        ("client", "/CN=agent", "extendedKeyUsage=clientAuth\n"),
    ]:
        (folder / f"{base}.ext").write_text(ext)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / f"{base}-key.pem"),
                 "-out", str(folder / f"{base}.csr"), "-subj", subject)
        _openssl("x509", "-req", "-in", str(folder / f"{base}.csr"), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-out", str(folder / f"{base}.pem"), "-days", "2", "-extfile", str(folder / f"{base}.ext"))
        files[base] = str(folder / f"{base}.pem")
        files[f"{base}_key"] = str(folder / f"{base}-key.pem")
    return files


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _make_ca(tmp_path_factory.mktemp("tls") / "ca", "cairn-pytest")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _make_ca(tmp_path_factory.mktemp("tls") / "stranger", "stranger")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, str]) -> Iterator[Server]:
    s = start_cairnd(tmp_path_factory.mktemp("cairnd-tls"), "--tls-cert", certs["server"], "--tls-key", certs["server_key"],
                     tls=ping_context(certs))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def mutual_server(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, str]) -> Iterator[Server]:
    s = start_cairnd(tmp_path_factory.mktemp("cairnd-mtls"), "--tls-cert", certs["server"], "--tls-key", certs["server_key"],
                     "--tls-client-ca", certs["ca"], tls=ping_context(certs, client=True))
    try:
        yield s
    finally:
        s.stop()


def ping_context(certs: dict[str, str], *, client: bool = False, check_host: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs["ca"])
    context.check_hostname = check_host
    if client:
        context.load_cert_chain(certs["client"], certs["client_key"])
    return context


def tls_url(server: Server, host: str = "127.0.0.1") -> str:
    return f"cairns://{host}:{server.port}"


def test_sync_client_over_tls(tls_server: Server, certs: dict[str, str]) -> None:
    with cairn.Client(tls_url(tls_server), token=tls_server.admin_token, tls_ca=certs["ca"]) as c:
        assert "tls" in c.hello.get("features", [])
        assert c.ping()


def test_ca_from_environment(tls_server: Server, certs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_TLS_CA", certs["ca"])
    with cairn.Client(tls_url(tls_server, "localhost"), token="") as c:
        assert c.ping()


def test_async_client_over_tls(tls_server: Server, certs: dict[str, str]) -> None:
    async def main() -> None:
        async with AsyncClient(tls_url(tls_server), token=tls_server.admin_token, tls_ca=certs["ca"]) as c:
            assert "tls" in c.hello.get("features", [])
            assert await c.ping()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_unknown_ca_is_named(tls_server: Server, stranger: dict[str, str]) -> None:
    with pytest.raises(cairn.ConnectionFailed, match="unknown CA"):
        cairn.Client(tls_url(tls_server), token="", tls_ca=stranger["ca"], max_attempts=1).open()


def test_plaintext_client_on_tls_listener_is_told_to_use_cairns(tls_server: Server) -> None:
    with pytest.raises(cairn.ConnectionFailed, match="cairns://"):
        cairn.Client(f"cairn://127.0.0.1:{tls_server.port}", token="", max_attempts=1, connect_timeout=5).open()


def test_tls_client_on_plaintext_server_is_named(server: Server, certs: dict[str, str]) -> None:
    with pytest.raises(cairn.ConnectionFailed, match="speaks plaintext, not TLS"):
        cairn.Client(f"cairns://127.0.0.1:{server.port}", token="", tls_ca=certs["ca"], max_attempts=1).open()


def test_mutual_tls_with_and_without_a_client_certificate(mutual_server: Server, certs: dict[str, str]) -> None:
    with cairn.Client(tls_url(mutual_server), token=mutual_server.admin_token, tls_ca=certs["ca"],
                      tls_cert=certs["client"], tls_key=certs["client_key"]) as c:
        assert c.ping()
    with pytest.raises(cairn.ConnectionFailed):
        with cairn.Client(tls_url(mutual_server), token="", tls_ca=certs["ca"], max_attempts=1, reconnect=False) as c:
            c.ping()


def test_wrong_host_is_named(tmp_path: Path, certs: dict[str, str]) -> None:
    s = start_cairnd(tmp_path, "--tls-cert", certs["other"], "--tls-key", certs["other_key"],
                     tls=ping_context(certs, check_host=False))
    try:
        with pytest.raises(cairn.ConnectionFailed, match="wrong host"):
            cairn.Client(tls_url(s), token="", tls_ca=certs["ca"], max_attempts=1).open()
    finally:
        s.stop()
