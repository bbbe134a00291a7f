"""Subscriptions: order, values, scopes, coalescing, resume from a cursor, reconnects, and the
bounded queue of a slow consumer."""

from __future__ import annotations

import asyncio
import time

import pytest

import cairn
from cairn import Namespace, Scope


def read(sub, n: int, timeout: float = 10) -> list:
    """The next n messages (each within the deadline)."""
    return [sub.get(timeout=timeout) for _ in range(n)]


def test_events_arrive_in_commit_order_with_their_fields(client, connect, token, tenant) -> None:
    ns = Namespace(tenant, "t", "r")
    sub = client.subscribe(tenant)
    assert sub.cursor  # where the subscription starts
    writer = connect(token)
    writer.put(ns, "k", {"v": 1}, reason="because", agent="w1")
    writer.put(ns, "k", {"v": 2})
    writer.block_create(ns, "notes", "one")
    writer.block_insert(ns, "notes", "two")
    writer.delete(ns, "k")
    events = read(sub, 5)
    assert [(e.key, e.version, e.type, e.op, e.kind) for e in events] == [
        ("k", 1, "write", "put", "item"),
        ("k", 2, "write", "put", "item"),
        ("notes", 1, "write", "create", "block"),
        ("notes", 2, "write", "insert", "block"),
        ("k", 3, "delete", "delete", "item"),
    ]
    first = events[0]
    assert (first.ns, first.by, first.agent, first.reason) == (ns, "tester", "w1", "because")
    assert all(isinstance(e, cairn.Event) and not e.has_value and e.value is None for e in events)
    assert len({e.cursor for e in events}) == 5
    assert sub.cursor == events[-1].cursor
    with pytest.raises(cairn.Timeout):
        sub.get(timeout=0.2)  # nothing more


def test_include_values_and_scope(client, admin, tenant) -> None:
    sub = client.subscribe(Scope(tenant, task="t1"), include_values=True)
    admin.put(Namespace(tenant, "t2"), "other", {"v": "not mine"})
    admin.put(Namespace(tenant, "t1"), "mine", {"v": "mine"})
    admin.put(Namespace(tenant, "t1", "r"), "mine", {"v": "also"})
    admin.delete(Namespace(tenant, "t1"), "mine")
    events = read(sub, 3)
    assert [(e.ns.role, e.value, e.has_value) for e in events] == [(None, {"v": "mine"}, True), ("r", {"v": "also"}, True), (None, None, True)]
    with pytest.raises(cairn.Timeout):
        sub.get(timeout=0.2)


def test_coalesced_batches_are_flattened(client, admin, tenant) -> None:
    sub = client.subscribe(tenant, coalesce_ms=50)
    p = admin.pipeline()
    for i in range(20):
        p.put(Namespace(tenant), f"k{i:02d}", i)
    p.execute()
    events = read(sub, 20)
    assert [e.key for e in events] == [f"k{i:02d}" for i in range(20)]


def test_resume_from_cursor_in_another_client_without_gap_or_duplicate(server, admin, token, tenant) -> None:
    ns = Namespace(tenant)
    with cairn.Client(server.url, token=token) as first:
        sub = first.subscribe(tenant)
        for i in range(3):
            admin.put(ns, f"a{i}", i)
        got = read(sub, 2)
        assert [e.key for e in got] == ["a0", "a1"]
        cursor = sub.cursor
    # The first process is gone; writes go on.
    for i in range(3):
        admin.put(ns, f"b{i}", i)
    with cairn.Client(server.url, token=token) as second:
        sub = second.subscribe(tenant, from_cursor=cursor)
        assert [e.key for e in read(sub, 4)] == ["a2", "b0", "b1", "b2"]
        with pytest.raises(cairn.Timeout):
            sub.get(timeout=0.2)


def test_subscription_survives_a_broken_connection(server, admin, token, tenant) -> None:
    from proxy import Proxy

    proxy = Proxy(server.port)
    try:
        with cairn.Client(proxy.url, token=token) as c:
            sub = c.subscribe(tenant)
            admin.put(Namespace(tenant), "before", 1)
            assert sub.get(timeout=10).key == "before"
            proxy.break_all()
            for i in range(5):  # written while the client may be disconnected
                admin.put(Namespace(tenant), f"during{i}", i)
            keys = [e.key for e in read(sub, 5)]
            assert keys == [f"during{i}" for i in range(5)]
            admin.put(Namespace(tenant), "after", 1)
            assert sub.get(timeout=10).key == "after"
            with pytest.raises(cairn.Timeout):
                sub.get(timeout=0.2)
            assert c.aclient.connections_opened == 2
    finally:
        proxy.close()


def test_slow_consumer_is_paused_and_resumed_without_loss(server, admin, token, tenant) -> None:
    with cairn.Client(server.url, token=token, max_queued_events=4) as c:
        sub = c.subscribe(tenant, include_values=True)
        p = admin.pipeline()
        for i in range(40):
            p.put(Namespace(tenant), "counter", {"i": i})
        p.execute()
        # Wait until the client had to pause (the queue holds at most 4).
        deadline = time.monotonic() + 10
        while sub.pauses == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sub.pauses >= 1
        assert sub.queued <= 4
        events = read(sub, 40)
        assert [e.version for e in events] == list(range(1, 41))
        assert [e.value for e in events] == [{"i": i} for i in range(40)]
        with pytest.raises(cairn.Timeout):
            sub.get(timeout=0.2)


def test_close_ends_iteration(client, admin, tenant) -> None:
    sub = client.subscribe(tenant)
    admin.put(Namespace(tenant), "k", 1)
    first = sub.get(timeout=10)
    assert first is not None and first.key == "k"
    sub.close()
    assert sub.closed
    assert list(sub) == []
    admin.put(Namespace(tenant), "k", 2)
    assert sub.get(timeout=1) is None


def test_revoked_token_ends_the_subscription(server, admin, mint, tenant) -> None:
    victim = mint(("read",))
    with cairn.Client(server.url, token=victim.token) as c:
        sub = c.subscribe(tenant)
        admin.token_revoke(victim.token_id)
        # The server checks the token at most once a second, when an event goes out.
        deadline = time.monotonic() + 15
        message = None
        last_event_cursor = sub.cursor
        i = 0
        while time.monotonic() < deadline:
            admin.put(Namespace(tenant), "k", i)
            i += 1
            message = sub.get(timeout=1)
            if isinstance(message, cairn.Resync):
                break
            last_event_cursor = message.cursor
        assert isinstance(message, cairn.Resync) and message.reason == "token_revoked"
        assert sub.cursor == last_event_cursor  # still where the last event left it
        with pytest.raises(cairn.Unauthenticated):
            while True:
                if sub.get(timeout=5) is None:
                    break


def test_resync_when_history_was_trimmed(tmp_path, tenant) -> None:
    from conftest import start_cairnd

    small = start_cairnd(tmp_path, "--stream-length", "5")
    try:
        with cairn.Client(small.url, token=small.admin_token) as c:
            ns = Namespace(tenant)
            c.put(ns, "first", 0)
            cursor = c.log(tenant)[0].cursor
            p = c.pipeline()
            for i in range(400):
                p.put(ns, "k", i)
            p.execute()
            sub = c.subscribe(tenant, from_cursor=cursor)
            message = sub.get(timeout=10)
            assert isinstance(message, cairn.Resync) and message.reason == "trimmed"
            assert message.cursor > cursor
            then = sub.get(timeout=10)  # and events go on from the oldest kept one
            assert isinstance(then, cairn.Event) and then.key == "k"
    finally:
        small.stop()


def test_async_subscription_iterates(server, admin, token, tenant) -> None:
    async def main() -> list[str]:
        async with cairn.AsyncClient(server.url, token=token) as c:
            sub = await c.subscribe(tenant)
            await asyncio.get_running_loop().run_in_executor(None, lambda: [admin.put(Namespace(tenant), f"k{i}", i) for i in range(3)])
            keys = []
            async for message in sub:
                keys.append(message.key)
                if len(keys) == 3:
                    await sub.close()
            return keys

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ["k0", "k1", "k2"]
