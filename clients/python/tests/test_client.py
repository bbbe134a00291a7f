"""The blocking client against a real cairnd: items, search, namespaces, history, log, tokens."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import cairn
from cairn import ANY, Namespace, Scope


def test_url_parsing() -> None:
    assert cairn.parse_url("cairn://example.org:1234") == ("example.org", 1234, False)
    assert cairn.parse_url("cairn://example.org") == ("example.org", 7420, False)
    assert cairn.parse_url("cairns://[::1]:9") == ("::1", 9, True)
    with pytest.raises(ValueError, match="cairn://"):
        cairn.parse_url("redis://127.0.0.1:6379")
    with pytest.raises(ValueError, match="token"):
        cairn.parse_url("cairn://secret@127.0.0.1:7420")


def test_connects_with_token_from_environment(server, token, tenant, monkeypatch) -> None:
    monkeypatch.setenv("CAIRN_TOKEN", token)
    monkeypatch.setenv("CAIRN_URL", server.url)
    with cairn.Client() as c:
        assert c.identity is not None
        assert c.identity.tenant == tenant
        assert set(c.identity.grants) == {"read", "write", "append"}
        assert c.hello["protocol"] == 1 and c.hello["max_line_bytes"] > 0
        assert c.ping() is True


def test_without_token_requests_are_unauthenticated(connect, tenant) -> None:
    c = connect(token="")
    assert c.identity is None
    assert c.ping() is True  # ping needs no token
    with pytest.raises(cairn.Unauthenticated):
        c.get(Namespace(tenant), "k")


def test_bad_token_fails_on_connect(server) -> None:
    with pytest.raises(cairn.Unauthenticated):
        cairn.Client(server.url, token="cairn_tk_nope")


def test_connection_refused_is_connection_failed() -> None:
    from conftest import refusing_port

    with refusing_port() as port, pytest.raises(cairn.ConnectionFailed):
        cairn.Client(f"cairn://127.0.0.1:{port}", token="", connect_timeout=2)


def test_put_get_versions_and_timestamps(client, tenant) -> None:
    ns = Namespace(tenant, "task-1", "researcher")
    first = client.put(ns, "findings", {"count": 1}, reason="first", agent="agent-1")
    assert first.version == 1
    assert first.created_at == first.updated_at
    assert first.created_at.tzinfo is not None
    second = client.put(ns, "findings", {"count": 2})
    assert second.version == 2
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at

    item = client.get(ns, "findings")
    assert item is not None
    assert (item.ns, item.key, item.kind, item.value, item.version) == (ns, "findings", "item", {"count": 2}, 2)
    assert item.created_at == first.created_at and item.updated_at == second.updated_at
    assert item.updated_by == "tester"
    old = client.get(ns, "findings", version=1)
    assert old is not None and old.value == {"count": 1} and old.version == 1 and old.agent == "agent-1"
    assert client.get(ns, "absent") is None
    # A namespace given as a mapping is the same namespace.
    assert client.get({"tenant": tenant, "task": "task-1", "role": "researcher"}, "findings") == item


def test_any_json_value_but_null(client, tenant) -> None:
    ns = Namespace(tenant)
    for key, value in [("s", "text"), ("n", 3.5), ("l", [1, "two", {"3": None}]), ("b", False), ("e", {})]:
        client.put(ns, key, value)
        got = client.get(ns, key)
        assert got is not None and got.value == value
    with pytest.raises(cairn.InvalidValue) as e:
        client.put(ns, "null", None)
    assert e.value.field == "value"


def test_if_version_create_only_and_compare_and_set(client, tenant) -> None:
    ns = Namespace(tenant, "t")
    assert client.put(ns, "k", {"v": 1}, if_version=0).version == 1
    with pytest.raises(cairn.VersionConflict) as e:
        client.put(ns, "k", {"v": "lost"}, if_version=0)
    assert e.value.current_version == 1 and e.value.code == 4009
    assert client.put(ns, "k", {"v": 2}, if_version=1).version == 2
    with pytest.raises(cairn.VersionConflict) as e:
        client.put(ns, "k", {"v": "stale"}, if_version=1)
    assert e.value.current_version == 2
    item = client.get(ns, "k")
    assert item is not None and item.value == {"v": 2} and item.version == 2  # the conflict wrote nothing
    with pytest.raises(cairn.VersionConflict) as e:
        client.put(ns, "never", {"v": 1}, if_version=3)
    assert e.value.current_version == 0


def test_delete_keeps_counting_versions(client, tenant) -> None:
    ns = Namespace(tenant)
    client.put(ns, "k", {"v": 1})
    client.put(ns, "k", {"v": 2})
    with pytest.raises(cairn.VersionConflict):
        client.delete(ns, "k", if_version=1)
    gone = client.delete(ns, "k", if_version=2, reason="cleanup")
    assert gone == cairn.DeleteResult(version=3, existed=True)
    assert client.get(ns, "k") is None
    again = client.delete(ns, "k")
    assert again.existed is False
    assert client.put(ns, "k", {"v": "back"}).version == 4
    assert client.delete(ns, "never-written").existed is False


def test_search_filters_order_query_and_pages(client, tenant) -> None:
    ns = Namespace(tenant, "t")
    rows = [
        ("a", {"status": "open", "score": 9, "meta": {"owner": "bob"}, "text": "apple pie recipe"}),
        ("b", {"status": "open", "score": 10, "meta": {"owner": "eve"}, "text": "apple apple apple"}),
        ("c", {"status": "closed", "score": 3, "text": "banana bread"}),
        ("d", {"status": "open", "score": "10", "text": "cherry"}),
    ]
    for key, value in rows:
        client.put(ns, key, value)

    def keys(**kw: object) -> list[str]:
        return [i.key for i in client.search(tenant, **kw)]

    # Without a query: newest first, ties (same millisecond) by namespace, then key.
    listing = client.search(tenant)
    assert sorted(i.key for i in listing) == ["a", "b", "c", "d"]
    assert listing == sorted(listing, key=lambda i: (-i.updated_at.timestamp(), i.key))
    assert [i.updated_at for i in sorted(listing, key=lambda i: i.key)] == sorted(i.updated_at for i in listing)
    order = [i.key for i in listing]

    def newest_first(*wanted: str) -> list[str]:
        return [k for k in order if k in wanted]

    assert keys(filter={"status": "open"}) == newest_first("d", "b", "a")
    assert keys(filter={"score": {"$gte": 9}}) == newest_first("b", "a")  # "10" is a string: never compared with numbers
    assert keys(filter={"score": {"$gt": 9}}) == ["b"]
    assert keys(filter={"score": {"$lt": 9}}) == ["c"]
    assert keys(filter={"score": {"$lte": 9}}) == newest_first("c", "a")
    assert keys(filter={"score": {"$eq": 10}}) == ["b"]
    assert keys(filter={"score": {"$ne": 10}}) == newest_first("d", "c", "a")  # $ne negates $eq: "10" is not 10
    assert keys(filter={"meta.owner": {"$ne": "bob"}}) == newest_first("d", "c", "b")  # a missing path matches only $ne
    assert keys(filter={"meta.owner": "eve", "status": "open"}) == ["b"]
    # With a query: matching items only, best first, each with a score.
    found = client.search(tenant, query="apple")
    assert [i.key for i in found] == ["b", "a"]
    assert all(i.score is not None and i.score > 0 for i in found)
    assert found[0].score > found[1].score  # type: ignore[operator]
    assert all(i.score is None for i in client.search(tenant))
    # Pages concatenate to the whole listing.
    pages = [keys(limit=1, offset=o) for o in range(5)]
    assert pages == [[k] for k in order] + [[]]
    with pytest.raises(cairn.InvalidFilter):
        client.search(tenant, filter={"score": {"$near": 3}})
    with pytest.raises(cairn.InvalidParams) as e:
        client.search(tenant, limit=1001)
    assert e.value.field == "limit"


def test_scope_matches_any_absent_or_exact(client, tenant) -> None:
    placed = {
        "tenant-wide": Namespace(tenant),
        "task-only": Namespace(tenant, "t1"),
        "task-role": Namespace(tenant, "t1", "r1"),
        "role-only": Namespace(tenant, None, "r1"),
        "other-task": Namespace(tenant, "t2", "r1"),
    }
    for key, ns in placed.items():
        client.put(ns, key, {"k": key})

    def keys(scope: Scope) -> set[str]:
        return {i.key for i in client.search(scope, limit=100)}

    assert keys(Scope(tenant)) == set(placed)
    assert keys(Scope(tenant, task="t1")) == {"task-only", "task-role"}
    assert keys(Scope(tenant, task=None)) == {"tenant-wide", "role-only"}
    assert keys(Scope(tenant, task=None, role=None)) == {"tenant-wide"}
    assert keys(Scope(tenant, role="r1")) == {"task-role", "role-only", "other-task"}
    assert keys(Scope(tenant, task=ANY, role=None)) == {"tenant-wide", "task-only"}
    assert Scope(tenant, None, ANY).to_json() == {"tenant": tenant, "task": None}


def test_list_namespaces_only_live_and_sorted(client, tenant) -> None:
    for ns in [Namespace(tenant, "b"), Namespace(tenant, "a", "x"), Namespace(tenant, "a")]:
        client.put(ns, "k", 1)
    client.put(Namespace(tenant, "gone"), "k", 1)
    client.delete(Namespace(tenant, "gone"), "k")
    listed = client.list_namespaces(tenant)
    assert set(listed) == {Namespace(tenant, "a"), Namespace(tenant, "a", "x"), Namespace(tenant, "b")}
    assert client.list_namespaces(tenant, limit=2) + client.list_namespaces(tenant, offset=2) == listed
    assert client.list_namespaces(Scope(tenant, task="a")) == [n for n in listed if n.task == "a"]


def test_history_newest_first_with_attribution(client, tenant) -> None:
    ns = Namespace(tenant)
    for i in range(1, 5):
        client.put(ns, "k", {"i": i}, reason=f"step {i}", agent="a1")
    client.delete(ns, "k", reason="done")
    entries = client.history(ns, "k")
    assert [e.version for e in entries] == [5, 4, 3, 2, 1]
    assert [e.op for e in entries] == ["delete", "put", "put", "put", "put"]
    assert entries[1].value == {"i": 4} and entries[1].reason == "step 4" and entries[1].agent == "a1"
    assert entries[0].reason == "done" and entries[0].by == "tester"
    assert [e.version for e in client.history(ns, "k", limit=2, before_version=4)] == [3, 2]


def test_log_audit_trail_with_cursor_by_and_time(client, admin, tenant) -> None:
    ns = Namespace(tenant, "t")
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    client.put(ns, "a", 1, reason="why a")
    client.put(ns, "b", 2)
    admin.put(ns, "c", 3)  # the server admin's principal is "admin"
    log = client.log(tenant)
    assert [(e.key, e.version, e.op, e.type) for e in log] == [("a", 1, "put", "write"), ("b", 1, "put", "write"), ("c", 1, "put", "write")]
    assert log[0].reason == "why a" and log[0].by == "tester" and log[2].by == "admin"
    assert all(e.cursor for e in log)
    assert [e.key for e in client.log(tenant, after=log[0].cursor)] == ["b", "c"]
    assert [e.key for e in client.log(tenant, by="admin")] == ["c"]
    assert [e.key for e in client.log(tenant, limit=2)] == ["a", "b"]
    assert len(client.log(tenant, since=start, until=datetime.now(timezone.utc) + timedelta(seconds=5))) == 3
    assert client.log(tenant, since=datetime.now(timezone.utc) + timedelta(hours=1)) == []


def test_tokens_grants_scope_revocation_and_tenant_wall(server, admin, mint, connect, tenant) -> None:
    ns = Namespace(tenant, "t1", "r1")
    admin.put(ns, "k", {"v": 1})

    reader = connect(mint(("read",)).token)
    assert reader.get(ns, "k") is not None
    with pytest.raises(cairn.Forbidden) as e:
        reader.put(ns, "k", {"v": 2})
    assert e.value.code == 4003

    appender = connect(mint(("append",)).token)
    assert appender.put(ns, "new", {"v": 1}, if_version=0).version == 1
    with pytest.raises(cairn.Forbidden):
        appender.put(ns, "new", {"v": 2})

    narrowed = connect(mint(("read", "write"), task="t1").token)
    assert narrowed.identity is not None and narrowed.identity.task == "t1"
    narrowed.put(Namespace(tenant, "t1"), "mine", 1)
    with pytest.raises(cairn.Forbidden):
        narrowed.put(Namespace(tenant, "t2"), "theirs", 1)
    with pytest.raises(cairn.Forbidden):
        narrowed.search(tenant)  # wider than the token: refused, not narrowed
    assert {i.key for i in narrowed.search(Scope(tenant, task="t1"))} == {"k", "new", "mine"}

    other = f"{tenant}-other"
    with pytest.raises(cairn.Forbidden):
        reader.get(Namespace(other), "k")

    tenant_admin = connect(mint(("admin",)).token)
    listed = tenant_admin.token_list(tenant)
    assert len(listed) >= 4 and all(t.tenant == tenant for t in listed)
    assert all(not hasattr(t, "token") for t in listed)
    assert {t.task for t in listed} >= {"t1", None}
    victim = mint(("read",))
    victim_client = connect(victim.token)
    assert victim_client.get(ns, "k") is not None
    tenant_admin.token_revoke(victim.token_id)
    assert victim.token_id not in {t.token_id for t in tenant_admin.token_list(tenant)}
    with pytest.raises(cairn.Unauthenticated) as e:
        victim_client.get(ns, "k")
    assert e.value.code == 4001
    with pytest.raises(cairn.NotFound):
        tenant_admin.token_revoke(victim.token_id)
    with pytest.raises(cairn.Forbidden):
        tenant_admin.token_create(other, "x", ["read"])


def test_client_is_safe_from_many_threads(client, tenant) -> None:
    import concurrent.futures

    ns = Namespace(tenant)

    def work(i: int) -> tuple[int, object]:
        client.put(ns, f"k{i}", {"i": i})
        item = client.get(ns, f"k{i}")
        return i, item.value if item else None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(64)))
    assert results == [(i, {"i": i}) for i in range(64)]


def test_timeout_and_late_answer_is_not_mixed_up(server, token, tenant) -> None:
    from proxy import Proxy

    proxy = Proxy(server.port)
    try:
        with cairn.Client(proxy.url, token=token, timeout=0.5) as c:
            c.put(Namespace(tenant), "k", {"v": "right"})
            proxy.hold_responses(until_requests=10**6)
            started = time.monotonic()
            with pytest.raises(cairn.Timeout):
                c.ping()
            assert time.monotonic() - started < 5
            proxy.release()
            # The late pong arrives now; the get must get its own answer, not the pong.
            item = c.get(Namespace(tenant), "k")
            assert item is not None and item.value == {"v": "right"}
    finally:
        proxy.close()
