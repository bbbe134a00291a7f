"""Broken connections: reads are sent again on a new connection, and so are writes, with the
same request id, so that each takes effect once."""

from __future__ import annotations

import asyncio
import time

import pytest

import cairn
from cairn import Namespace


@pytest.fixture
def proxy(server):
    from proxy import Proxy

    p = Proxy(server.port)
    yield p
    p.close()


def test_read_in_flight_is_retried_on_a_new_connection(proxy, token, tenant) -> None:
    with cairn.Client(proxy.url, token=token) as c:
        ns = Namespace(tenant)
        c.put(ns, "k", {"v": 1})
        proxy.drop_on(b'"method":"get"')  # the get is lost with its connection
        item = c.get(ns, "k")
        assert item is not None and item.value == {"v": 1}
        assert c.aclient.connections_opened == 2
        assert c.identity is not None and c.identity.tenant == tenant  # authenticated again


def test_write_in_flight_without_retries_raises_connection_lost(proxy, token, tenant) -> None:
    with cairn.Client(proxy.url, token=token, max_attempts=1) as c:
        ns = Namespace(tenant)
        proxy.drop_on(b'"method":"put"')
        with pytest.raises(cairn.ConnectionLost):
            c.put(ns, "k", {"v": 1})
        # It may or may not have been applied in general; here the proxy never forwarded it.
        assert c.get(ns, "k") is None
        assert c.put(ns, "k", {"v": 2}).version == 1  # and the client works again


def test_write_whose_answer_is_lost_is_applied_once(proxy, token, tenant) -> None:
    with cairn.Client(proxy.url, token=token) as c:
        ns = Namespace(tenant)
        c.block_create(ns, "notes", value="start")
        proxy.cut_after(b'"method":"block.insert"')
        result = c.block_insert(ns, "notes", "finding")
        assert proxy.cuts == 1 and c.aclient.connections_opened == 2
        assert result.version == 2
        block = c.block_get(ns, "notes")
        assert block.value == "start\nfinding" and block.version == 2  # the line once, not twice

        proxy.cut_after(b'"method":"put"')
        assert c.put(ns, "k", 1).version == 1
        assert [e.version for e in c.history(ns, "k")] == [1]


def test_a_caller_given_request_id_replays(server, token, tenant) -> None:
    with cairn.Client(server.url, token=token) as c:
        ns = {"tenant": tenant}
        first = c.call("put", {"ns": ns, "key": "k", "value": 1, "request_id": "mine-1"})
        again = c.call("put", {"ns": ns, "key": "k", "value": 1, "request_id": "mine-1"})
        assert "replayed" not in first and again == {**first, "replayed": True}
        with pytest.raises(cairn.InvalidParams) as reused:
            c.call("put", {"ns": ns, "key": "other", "value": 1, "request_id": "mine-1"})
        assert reused.value.data.get("reason_detail") == "reused"
        # The keyword on the write methods does the same.
        assert c.put(ns, "k2", 1, request_id="mine-2").version == 1
        assert c.put(ns, "k2", 1, request_id="mine-2").version == 1
        assert [e.version for e in c.history(ns, "k2")] == [1]


def test_idle_break_is_repaired_by_the_next_call(proxy, token, tenant) -> None:
    with cairn.Client(proxy.url, token=token) as c:
        c.ping()
        proxy.break_all()
        deadline = time.monotonic() + 10
        while c.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not c.connected
        # The client knows the connection is gone, so nothing is in flight: the write goes
        # out on a new connection. (A write sent before the client noticed the break would
        # raise ConnectionLost: it may or may not have reached the server.)
        assert c.put(Namespace(tenant), "k", 1).version == 1
        assert c.aclient.connections_opened == 2


def test_without_reconnect_a_broken_connection_fails(proxy, token, tenant) -> None:
    with cairn.Client(proxy.url, token=token, reconnect=False) as c:
        c.ping()
        proxy.drop_on(b'"method":"get"')
        with pytest.raises(cairn.ConnectionLost):
            c.get(Namespace(tenant), "k")
        with pytest.raises(cairn.ConnectionFailed):
            c.ping()


def test_async_client_retries_reads_too(proxy, token, tenant) -> None:
    async def main() -> None:
        async with cairn.AsyncClient(proxy.url, token=token) as c:
            ns = Namespace(tenant)
            await c.put(ns, "k", 1)
            proxy.drop_on(b'"method":"search"')
            found, item = await asyncio.gather(c.search(tenant), c.get(ns, "k"))
            assert [i.key for i in found] == ["k"] and item is not None and item.value == 1
            assert c.connections_opened == 2

    asyncio.run(main())


def test_give_up_after_retry_timeout(server, token, tenant) -> None:
    from proxy import Proxy

    p = Proxy(server.port)
    with cairn.Client(p.url, token=token, retry_timeout=0.5, connect_timeout=0.5) as c:
        c.ping()
        p.close()  # the proxy stops listening: no new connection can be made
        with pytest.raises(cairn.ConnectionFailed):
            c.get(Namespace(tenant), "k")


def test_auth_later_and_authenticated_again_after_reconnect(proxy, mint, tenant) -> None:
    with cairn.Client(proxy.url, token="") as c:
        assert c.identity is None
        with pytest.raises(cairn.Unauthenticated):
            c.get(Namespace(tenant), "k")
        info = c.auth(mint(("read", "write"), principal="late").token)
        assert (info.principal, info.tenant, info.grants) == ("late", tenant, ("read", "write"))
        c.put(Namespace(tenant), "k", 1)
        proxy.break_all()
        proxy.drop_on(b'"method":"get"')
        item = c.get(Namespace(tenant), "k")  # lost, retried on a new, re-authenticated connection
        assert item is not None and item.updated_by == "late"
        assert c.aclient.connections_opened >= 2
