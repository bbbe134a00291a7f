"""cairn.langgraph.CairnStore: LangGraph's BaseStore semantics on Cairn, checked against
LangGraph's own InMemoryStore wherever the two are meant to agree."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import pytest

pytest.importorskip("langgraph.store.base")

from langgraph.store.base import GetOp, InvalidNamespaceError, Item, ListNamespacesOp, MatchCondition, PutOp, SearchItem, SearchOp
from langgraph.store.memory import InMemoryStore

import cairn
from cairn import Namespace
from cairn.langgraph import CairnItem, CairnSearchItem, CairnStore, StoreEvent, translate_filter


@pytest.fixture
def store(server, token):
    with CairnStore(server.url, token=token) as s:
        yield s


def test_put_get_delete_with_versions(store, tenant) -> None:
    ns = (tenant, "user-1")
    assert store.get(ns, "prefs") is None
    store.put(ns, "prefs", {"theme": "dark"})
    item = store.get(ns, "prefs")
    assert isinstance(item, CairnItem) and isinstance(item, Item)
    assert (item.namespace, item.key, item.value, item.version, item.kind) == (ns, "prefs", {"theme": "dark"}, 1, "item")
    assert isinstance(item.created_at, datetime) and item.created_at.tzinfo is not None
    assert item.dict()["version"] == 1 and item.dict()["namespace"] == list(ns)
    store.put(ns, "prefs", {"theme": "light"})
    again = store.get(ns, "prefs")
    assert again.value == {"theme": "light"} and again.version == 2
    assert again.created_at == item.created_at and again.updated_at >= item.updated_at
    store.delete(ns, "prefs")
    assert store.get(ns, "prefs") is None
    store.put(ns, "prefs", {"theme": "blue"})
    assert store.get(ns, "prefs").version == 4  # versions go on across a delete
    store.put(ns, "prefs", None)  # put(value=None) deletes, as in LangGraph
    assert store.get(ns, "prefs") is None


def test_tuples_map_onto_tenant_task_role(store, client, tenant) -> None:
    store.put((tenant,), "a", {"v": 1})
    store.put((tenant, "task-1"), "b", {"v": 2})
    store.put((tenant, "task-1", "critic"), "c", {"v": 3})
    assert client.get(Namespace(tenant), "a").value == {"v": 1}
    assert client.get(Namespace(tenant, "task-1"), "b").value == {"v": 2}
    assert client.get(Namespace(tenant, "task-1", "critic"), "c").value == {"v": 3}
    client.put(Namespace(tenant, "task-2", "planner"), "d", {"v": 4})
    assert store.get((tenant, "task-2", "planner"), "d").value == {"v": 4}


def test_deeper_or_empty_namespaces_are_clear_errors(store, tenant) -> None:
    deep = (tenant, "a", "b", "c")
    for call in (
        lambda: store.put(deep, "k", {"v": 1}),
        lambda: store.get(deep, "k"),
        lambda: store.delete(deep, "k"),
        lambda: store.search(deep),
        lambda: store.list_namespaces(prefix=deep),
        lambda: store.batch([GetOp((tenant,), "k"), PutOp(deep, "k", {"v": 1})]),
    ):
        with pytest.raises(InvalidNamespaceError, match=r"at most 3 labels \(tenant, task, role\)"):
            call()
    with pytest.raises(InvalidNamespaceError):
        store.get((), "k")
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph",), "k", {"v": 1})  # LangGraph's own rule
    # The batch with a bad op wrote nothing.
    assert store.search((tenant,)) == []


def test_search_by_namespace_prefix(store, tenant) -> None:
    placed = {
        "root": (tenant,),
        "t1": (tenant, "t1"),
        "t1-r1": (tenant, "t1", "r1"),
        "t1-r2": (tenant, "t1", "r2"),
        "t2-r1": (tenant, "t2", "r1"),
    }
    for key, ns in placed.items():
        store.put(ns, key, {"key": key})

    def keys(prefix: tuple[str, ...]) -> set[str]:
        return {i.key for i in store.search(prefix, limit=100)}

    assert keys((tenant,)) == set(placed)
    assert keys(()) == set(placed)  # the token's tenant
    assert keys((tenant, "t1")) == {"t1", "t1-r1", "t1-r2"}
    assert keys((tenant, "t1", "r1")) == {"t1-r1"}
    assert keys((tenant, "t3")) == set()
    results = store.search((tenant, "t1", "r2"))
    assert isinstance(results[0], CairnSearchItem) and isinstance(results[0], SearchItem)
    assert (results[0].namespace, results[0].value, results[0].score, results[0].version) == ((tenant, "t1", "r2"), {"key": "t1-r2"}, None, 1)


def test_role_without_task_is_skipped_and_pages_stay_exact(store, client, tenant) -> None:
    # Written by a non-LangGraph client: (tenant, role) has no tuple.
    for i in range(6):
        client.put(Namespace(tenant, None, "r"), f"hidden{i}", {"i": i})
        store.put((tenant, "t"), f"shown{i}", {"i": i})
    found = store.search((tenant,), limit=100)
    assert sorted(i.key for i in found) == [f"shown{i}" for i in range(6)]
    assert found == sorted(found, key=lambda i: (-i.updated_at.timestamp(), i.key))  # newest first
    everything = [i.key for i in found]
    pages = [[i.key for i in store.search((tenant,), limit=4, offset=o)] for o in (0, 4, 8)]
    assert pages == [everything[:4], everything[4:], []]
    assert store.list_namespaces() == [(tenant, "t")]


DATASET = {
    "a": {"status": "open", "score": 9, "meta": {"owner": "bob", "level": 2}, "tags": ["x", "y"], "flag": True},
    "b": {"status": "open", "score": 10, "meta": {"owner": "eve", "level": 5}, "tags": ["y"], "flag": False},
    "c": {"status": "closed", "score": 3.5, "meta": {"owner": "bob", "level": 9}, "tags": [], "flag": True},
    "d": {"status": "draft", "score": -1, "tags": ["x", "y"], "flag": False},
    "e": {"status": "open", "score": 0, "meta": {"owner": "zed"}, "tags": ["z"], "flag": True},
}

FILTERS = [
    {"status": "open"},
    {"status": {"$eq": "closed"}},
    {"status": {"$ne": "open"}},
    {"score": {"$gt": 3.5}},
    {"score": {"$gte": 3.5}},
    {"score": {"$lt": 3.5}},
    {"score": {"$lte": 0}},
    {"score": {"$gt": 0, "$lt": 10}},
    {"score": 10},
    {"status": "open", "score": {"$gte": 9}},
    {"meta": {"owner": "bob"}},
    {"meta": {"owner": "bob", "level": {"$gt": 5}}},
    {"meta": {"owner": "eve", "level": 5}},
    {"absent": {"$ne": 1}},
    {"status": {"$ne": 1}},
    {"tags": ["x", "y"]},
    {"flag": True},
    {"flag": {"$ne": True}},
    {"status": {"$ne": "open"}, "flag": True},
    {"nothing": "here"},
]


def test_filters_match_in_memory_store(store, tenant) -> None:
    memory = InMemoryStore()
    for key, value in DATASET.items():
        for s in (store, memory):
            s.put((tenant, "docs"), key, value)
    for f in FILTERS:
        expected = {i.key for i in memory.search((tenant,), filter=f, limit=100)}
        got = {i.key for i in store.search((tenant,), filter=f, limit=100)}
        assert got == expected, f


def test_nested_ne_also_matches_a_missing_parent(store, tenant) -> None:
    # A documented difference: Cairn filters are dotted paths, and a missing path matches $ne;
    # InMemoryStore requires "meta" to be an object first.
    memory = InMemoryStore()
    for key, value in DATASET.items():
        for s in (store, memory):
            s.put((tenant, "docs"), key, value)
    f = {"meta": {"owner": {"$ne": "bob"}}}
    assert {i.key for i in store.search((tenant,), filter=f)} == {"b", "d", "e"}
    assert {i.key for i in memory.search((tenant,), filter=f)} == {"b", "e"}


def test_filter_translation() -> None:
    assert translate_filter(None) is None and translate_filter({}) is None
    assert translate_filter({"a": 1, "b": {"c": {"d": {"$gt": 2}}}, "t": ("x", 1)}) == {"a": 1, "b.c.d": {"$gt": 2}, "t": ["x", 1]}


def test_search_order_pages_and_limits(store, client, tenant) -> None:
    ns = (tenant, "t")
    for i in range(10):
        store.put(ns, f"k{i}", {"i": i})
    found = store.search((tenant,), limit=100)
    assert sorted(i.key for i in found) == sorted(f"k{i}" for i in range(10))
    # Newest first (ties within a millisecond by key), not InMemoryStore's insertion order.
    assert found == sorted(found, key=lambda i: (-i.updated_at.timestamp(), i.key))
    assert [i.updated_at for i in sorted(found, key=lambda i: int(i.key[1:]))] == sorted(i.updated_at for i in found)
    store.put(ns, "k0", {"i": 0, "touched": True})
    assert store.search((tenant,), limit=1)[0].key == "k0"  # an update moves it first
    order = [i.key for i in store.search((tenant,), limit=100)]
    pages = list(itertools.chain.from_iterable(store.search((tenant,), limit=3, offset=o) for o in range(0, 12, 3)))
    assert [i.key for i in pages] == order and len(set(order)) == 10
    assert store.search((tenant,), limit=0) == []
    assert store.search((tenant,), offset=10) == []
    with pytest.raises(ValueError):
        store.search((tenant,), limit=-1)
    # More than the server's page (1000) is fetched in several pages.
    p = client.pipeline()
    for i in range(1000):
        p.put(Namespace(tenant, "bulk"), f"b{i:04d}", {"i": i})
    p.execute()
    everything = store.search((tenant,), limit=2000)
    assert len(everything) == 1010 and len({(i.namespace, i.key) for i in everything}) == 1010
    assert [i.key for i in store.search((tenant,), limit=5, offset=1003)] == [i.key for i in everything[1003:1008]]


def test_query_ranks_and_scores(store, tenant) -> None:
    ns = (tenant, "notes")
    store.put(ns, "1", {"text": "tea is nice"})
    store.put(ns, "2", {"text": "tea tea tea, more tea"})
    store.put(ns, "3", {"text": "coffee"})
    found = store.search((tenant,), query="tea")
    assert [i.key for i in found] == ["2", "1"]
    assert all(isinstance(i.score, float) and i.score > 0 for i in found)
    assert found[0].score > found[1].score
    assert [i.key for i in store.search((tenant,), query="tea", filter={"text": "tea is nice"})] == ["1"]
    assert len(store.search((tenant,), query="  ")) == 3  # a blank query is no query


NAMESPACES = [("a",), ("a", "x"), ("a", "x", "1"), ("a", "x", "2"), ("a", "y"), ("a", "y", "1"), ("a", "z", "1")]


def test_list_namespaces_matches_in_memory_store(store, tenant) -> None:
    def real(ns: tuple[str, ...]) -> tuple[str, ...]:
        return (tenant, *ns[1:])

    memory = InMemoryStore()
    for ns in NAMESPACES:
        store.put(real(ns), "k", {"v": 1})
        memory.put(real(ns), "k", {"v": 1})
    prefixes = [None, (tenant,), (tenant, "x"), (tenant, "*", "1"), ("*",), ("*", "y"), (tenant, "x", "2"), (tenant, "q")]
    suffixes = [None, ("1",), ("x",), ("x", "*"), ("*", "1"), (tenant,), ("y", "1")]
    depths = [None, 1, 2, 3]
    pages = [(100, 0), (2, 1), (1, 3)]
    checked = 0
    for prefix, suffix, depth, (limit, offset) in itertools.product(prefixes, suffixes, depths, pages):
        kw = dict(prefix=prefix, suffix=suffix, max_depth=depth, limit=limit, offset=offset)
        assert store.list_namespaces(**kw) == memory.list_namespaces(**kw), kw
        checked += 1
    assert checked == 672
    assert store.list_namespaces(prefix=(tenant, "x"), max_depth=3) == [(tenant, "x"), (tenant, "x", "1"), (tenant, "x", "2")]


def test_list_namespaces_shows_only_live_namespaces(store, tenant) -> None:
    store.put((tenant, "gone"), "k", {"v": 1})
    store.put((tenant, "kept"), "k", {"v": 1})
    store.delete((tenant, "gone"), "k")
    assert store.list_namespaces() == [(tenant, "kept")]


def test_batch_matches_in_memory_store(store, tenant) -> None:
    memory = InMemoryStore()
    ns1, ns2 = (tenant, "t1"), (tenant, "t2", "r")
    for s in (store, memory):
        s.put(ns1, "a", {"v": 1})
        s.put(ns2, "b", {"v": 2})
    ops = [
        PutOp(ns1, "a", {"v": 10}),
        GetOp(ns1, "a"),  # reads see the store before the batch's writes
        SearchOp((tenant,), filter={"v": {"$gte": 2}}),
        ListNamespacesOp(max_depth=2),
        PutOp(ns2, "c", {"v": 3}),
        PutOp(ns2, "c", {"v": 4}),  # of several writes to one key the last wins
        GetOp(ns2, "c"),
        PutOp(ns2, "b", None),
        GetOp(ns2, "b"),
        GetOp((tenant,), "missing"),
    ]

    def plain(result):
        if result is None:
            return None
        if isinstance(result, Item):
            return (result.namespace, result.key, result.value)
        return sorted(plain(r) if isinstance(r, Item) else r for r in result)

    got = store.batch(ops)
    expected = memory.batch(ops)
    assert [plain(r) for r in got] == [plain(r) for r in expected]
    assert [plain(r) for r in got] == [
        None, (ns1, "a", {"v": 1}), [(ns2, "b", {"v": 2})], [(tenant, "t1"), (tenant, "t2")], None, None, None, None,
        (ns2, "b", {"v": 2}), None,
    ]
    after = [GetOp(ns1, "a"), GetOp(ns2, "b"), GetOp(ns2, "c")]
    assert [plain(r) for r in store.batch(after)] == [plain(r) for r in memory.batch(after)]
    assert store.get(ns2, "c").version == 1  # the overwritten put was never sent


def test_async_twins(store, tenant) -> None:
    async def main() -> None:
        ns = (tenant, "async")
        await store.aput(ns, "k", {"v": 1})
        item = await store.aget(ns, "k")
        assert item.value == {"v": 1} and item.version == 1
        found, namespaces = await asyncio.gather(store.asearch((tenant,)), store.alist_namespaces(prefix=(tenant,)))
        assert [i.key for i in found] == ["k"] and namespaces == [ns]
        results = await store.abatch([GetOp(ns, "k"), PutOp(ns, "k", None)])
        assert results[0].value == {"v": 1} and results[1] is None
        assert await store.aget(ns, "k") is None
        await store.aput(ns, "k2", {"v": 2})
        await store.adelete(ns, "k2")
        assert await store.aget(ns, "k2") is None
        assert await store.aput_if_version(ns, "k3", {"v": 3}, if_version=0) == 1

    asyncio.run(main())


def test_put_if_version_is_compare_and_set(store, tenant) -> None:
    ns = (tenant, "cas")
    assert store.put_if_version(ns, "counter", {"n": 0}, if_version=0) == 1
    with pytest.raises(cairn.VersionConflict) as e:
        store.put_if_version(ns, "counter", {"n": 99}, if_version=0)
    assert e.value.current_version == 1
    item = store.get(ns, "counter")
    assert store.put_if_version(ns, "counter", {"n": item.value["n"] + 1}, if_version=item.version) == 2
    with pytest.raises(cairn.VersionConflict):
        store.put_if_version(ns, "counter", {"n": 5}, if_version=item.version)
    assert store.get(ns, "counter").value == {"n": 1}
    with pytest.raises(cairn.VersionConflict):
        store.put_if_version(ns, "counter", None, if_version=1)
    assert store.put_if_version(ns, "counter", None, if_version=2) == 3
    assert store.get(ns, "counter") is None


def test_watch_sees_other_writers(server, store, token, tenant) -> None:
    with CairnStore(server.url, token=token) as other:
        watch = store.watch((tenant, "t1"))
        other.put((tenant, "t2"), "elsewhere", {"v": 0})
        other.put((tenant, "t1"), "k", {"v": 1})
        other.put((tenant, "t1", "critic"), "k", {"v": 2})
        other.delete((tenant, "t1"), "k")
        changes = [watch.get(timeout=10) for _ in range(3)]
        assert all(isinstance(c, StoreEvent) for c in changes)
        assert [(c.namespace, c.key, c.op, c.version, c.value) for c in changes] == [
            ((tenant, "t1"), "k", "put", 1, {"v": 1}),
            ((tenant, "t1", "critic"), "k", "put", 1, {"v": 2}),
            ((tenant, "t1"), "k", "delete", 2, None),
        ]
        with pytest.raises(cairn.Timeout):
            watch.get(timeout=0.2)
        resume_at = changes[0].cursor
        watch.close()
        again = store.watch((tenant, "t1"), from_cursor=resume_at)
        assert [(c.key, c.version) for c in (again.get(timeout=10), again.get(timeout=10))] == [("k", 1), ("k", 2)]
        again.close()


def test_awatch(server, store, token, tenant) -> None:
    async def main() -> list[tuple[str, str]]:
        watch = await store.awatch((tenant,))
        await store.aput((tenant, "x"), "k", {"v": 1})
        await store.adelete((tenant, "x"), "k")
        seen = []
        async for change in watch:
            seen.append((change.key, change.op))
            if len(seen) == 2:
                break
        await watch.aclose()
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 20)) == [("k", "put"), ("k", "delete")]


def test_tenant_defaults_and_the_tenant_wall(server, admin, store, tenant) -> None:
    with CairnStore(client=admin) as as_admin:
        with pytest.raises(InvalidNamespaceError, match="tenant"):
            as_admin.list_namespaces()
        as_admin.put((tenant, "t"), "k", {"v": 1})
    assert not admin.closed  # a shared client is not closed with the store
    with CairnStore(client=admin, tenant=tenant) as scoped:
        assert scoped.list_namespaces() == [(tenant, "t")]
        assert [i.key for i in scoped.search(())] == ["k"]
    with pytest.raises(cairn.Forbidden):
        store.put((f"{tenant}-other",), "k", {"v": 1})
    with pytest.raises(cairn.Forbidden):
        store.get((f"{tenant}-other",), "k")


def test_narrowed_token_sees_its_part(server, mint, tenant, admin) -> None:
    admin.put(Namespace(tenant, "t1"), "mine", {"v": 1})
    admin.put(Namespace(tenant, "t2"), "theirs", {"v": 2})
    with CairnStore(server.url, token=mint(("read", "write"), task="t1").token) as narrowed:
        assert [i.key for i in narrowed.search((tenant,))] == ["mine"]
        assert narrowed.list_namespaces() == [(tenant, "t1")]
        with pytest.raises(cairn.Forbidden):
            narrowed.search((tenant, "t2"))


def test_blocks_and_other_values_appear_as_objects(store, client, tenant) -> None:
    client.block_create(Namespace(tenant), "plan", "step 1")
    client.put(Namespace(tenant), "number", 42)
    block = store.get((tenant,), "plan")
    assert block.value == {"value": "step 1"} and block.kind == "block"
    assert store.get((tenant,), "number").value == {"value": 42}
    with pytest.raises(cairn.WrongKind):
        store.put((tenant,), "plan", {"text": "no"})


def test_agent_and_reason_are_recorded(server, token, client, tenant) -> None:
    with CairnStore(server.url, token=token, agent="planner", reason="from langgraph") as s:
        s.put((tenant,), "k", {"v": 1})
    entry = client.history(Namespace(tenant), "k")[0]
    assert (entry.agent, entry.reason, entry.by) == ("planner", "from langgraph", "tester")


def test_values_must_be_json(store, tenant) -> None:
    with pytest.raises(TypeError):
        store.put((tenant,), "k", {"when": datetime.now()})
    assert store.get((tenant,), "k") is None


def test_documented_filter_differences(store, tenant) -> None:
    ns = (tenant, "f")
    store.put(ns, "num", {"n": 10, "flag": True, "tags": ["a", "b"], "meta": {"owner": "bob"}})
    store.put(ns, "str", {"n": "10", "flag": 1})
    store.put(ns, "dotted", {"meta.owner": "bob"})

    def keys(f: dict) -> set[str]:
        return {i.key for i in store.search((tenant,), filter=f)}

    assert keys({"n": {"$gt": 9}}) == {"num"}  # "10" is a string: no match (InMemoryStore: float("10") > 9)
    assert keys({"n": {"$ne": 10}}) == {"str", "dotted"}  # $ne negates $eq: "10" is not 10, and a missing path matches
    assert keys({"flag": True}) == {"num"}  # True is not 1
    assert keys({"tags.1": "b"}) == {"num"}  # paths index arrays
    assert keys({"meta.owner": "bob"}) == {"num"}  # a dotted key is a path, not a literal key
    with pytest.raises(cairn.InvalidFilter):
        store.search((tenant,), filter={"n": None})
