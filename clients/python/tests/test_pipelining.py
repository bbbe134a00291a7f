"""Pipelining: many requests on the wire before any answer, answers matched to their calls."""

from __future__ import annotations

import asyncio
import threading

import pytest

import cairn
from cairn import Namespace


def test_async_gather_pipelines_and_matches_answers(server, token, tenant) -> None:
    from proxy import Proxy

    proxy = Proxy(server.port)

    async def main() -> None:
        async with cairn.AsyncClient(proxy.url, token=token, timeout=20) as c:
            ns = Namespace(tenant)
            await asyncio.gather(*(c.put(ns, f"k{i}", {"i": i}) for i in range(50)))
            # The proxy forwards no answer until all 100 requests have reached it: a client
            # that waited for an answer before sending the next request would time out here.
            proxy.hold_responses(until_requests=100)
            items = await asyncio.gather(*(c.get(ns, f"k{i}") for i in range(100)))
            assert [it.value if it else None for it in items] == [{"i": i} for i in range(50)] + [None] * 50

    try:
        asyncio.run(main())
    finally:
        proxy.close()


def test_sync_pipeline_sends_all_then_reads_in_order(server, token, tenant) -> None:
    from proxy import Proxy

    proxy = Proxy(server.port)
    try:
        with cairn.Client(proxy.url, token=token, timeout=20) as c:
            ns = Namespace(tenant)
            p = c.pipeline()
            p.put(ns, "a", {"v": 1}).get(ns, "a").put(ns, "a", {"v": 2}, if_version=1).get(ns, "a", version=1)
            p.delete(ns, "a").get(ns, "a").ping()
            assert len(p) == 7
            proxy.hold_responses(until_requests=7)
            put1, got1, put2, old, deleted, gone, pong = p.execute()
            # Requests on a connection run in order: each sees the writes queued before it.
            assert (put1.version, got1.value, put2.version, old.value) == (1, {"v": 1}, 2, {"v": 1})
            assert (deleted.existed, gone, pong) == (True, None, True)
            assert len(p) == 0 and p.execute() == []
    finally:
        proxy.close()


def test_pipeline_errors_in_place_or_raised(client, tenant) -> None:
    ns = Namespace(tenant)
    p = client.pipeline()
    p.put(ns, "k", 1, if_version=0).put(ns, "k", 2, if_version=0).get(ns, "k")
    created, conflict, item = p.execute(return_exceptions=True)
    assert created.version == 1
    assert isinstance(conflict, cairn.VersionConflict) and conflict.current_version == 1
    assert item.value == 1  # a failed call does not stop the others

    p = client.pipeline()
    p.put(ns, "k", 3, if_version=5).put(ns, "other", 1)
    with pytest.raises(cairn.VersionConflict):
        p.execute()
    assert client.get(ns, "other").value == 1  # not a transaction
    with pytest.raises(AttributeError):
        client.pipeline().subscribe(tenant)


def test_threads_share_one_connection(server, token, tenant) -> None:
    with cairn.Client(server.url, token=token) as c:
        ns = Namespace(tenant)
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    key = f"w{n}-{i}"
                    c.put(ns, key, {"n": n, "i": i})
                    assert c.get(ns, key).value == {"n": n, "i": i}
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert len(c.search(tenant, limit=1000)) == 120
        assert c.aclient.connections_opened == 1
