"""A LangGraph ``BaseStore`` on Cairn: shared, versioned, tenant-isolated, observable memory.

``CairnStore(url, token=...)`` replaces ``InMemoryStore()`` (or the SQLite / Postgres / Redis
stores) in ``graph.compile(store=...)``. It needs ``langgraph-checkpoint`` (the ``langgraph``
extra of ``cairn-client``).

Namespaces: a LangGraph namespace tuple of one to three labels is a Cairn namespace
``(tenant,)``, ``(tenant, task)`` or ``(tenant, task, role)``; a longer tuple raises
``InvalidNamespaceError`` naming the limit. Values are JSON objects. What differs from
LangGraph's ``InMemoryStore`` is listed in the package's README ("Differences").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from . import types as _t
from .aio import AsyncClient, AsyncSubscription
from .client import Client, Subscription
from .errors import VersionConflict
from .types import ANY, AnyType, Resync

__all__ = ["CairnStore", "CairnItem", "CairnSearchItem", "StoreEvent", "MAX_DEPTH", "VersionConflict"]

MAX_DEPTH = 3
"""Labels a namespace tuple may have: tenant, task, role."""

PAGE = 1000  # the server's largest page


class CairnItem(Item):
    """A LangGraph ``Item`` with what Cairn knows besides: ``version``, ``kind``, ``updated_by``, ``agent``."""

    __slots__ = ("version", "kind", "updated_by", "agent")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime,
        updated_at: datetime,
        version: int,
        kind: str = "item",
        updated_by: str = "",
        agent: str | None = None,
    ) -> None:
        super().__init__(value=value, key=key, namespace=namespace, created_at=created_at, updated_at=updated_at)
        self.version = version
        self.kind = kind
        self.updated_by = updated_by
        self.agent = agent

    def dict(self) -> dict[str, Any]:
        result = super().dict()
        result["version"] = self.version
        return result


class CairnSearchItem(SearchItem):
    """A LangGraph ``SearchItem`` with ``version``, ``kind``, ``updated_by``, ``agent``."""

    __slots__ = ("version", "kind", "updated_by", "agent")

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        score: float | None = None,
        *,
        version: int,
        kind: str = "item",
        updated_by: str = "",
        agent: str | None = None,
    ) -> None:
        super().__init__(namespace, key, value, created_at, updated_at, score)
        self.version = version
        self.kind = kind
        self.updated_by = updated_by
        self.agent = agent

    def dict(self) -> dict[str, Any]:
        result = super().dict()
        result["version"] = self.version
        return result


@dataclass(frozen=True)
class StoreEvent:
    """A change seen by :meth:`CairnStore.watch`, in LangGraph's terms.

    ``op`` is ``"put"`` or ``"delete"``; ``value`` the new value (None for a delete, or when
    watching without values); ``cairn_op`` the Cairn method behind it (``put``, ``insert``, ...).
    """

    namespace: tuple[str, ...]
    key: str
    op: str
    version: int
    value: dict[str, Any] | None
    at: datetime
    by: str
    agent: str | None
    reason: str | None
    kind: str
    cairn_op: str
    cursor: str


# Mapping ----------------------------------------------------------------------------------


def _check_depth(namespace: tuple[str, ...], what: str) -> None:
    if len(namespace) > MAX_DEPTH:
        raise InvalidNamespaceError(
            f"Cairn namespaces have at most {MAX_DEPTH} labels (tenant, task, role); "
            f"the {what} {tuple(namespace)!r} has {len(namespace)}"
        )


def namespace_to_cairn(namespace: tuple[str, ...]) -> dict[str, str]:
    """``(tenant,)``, ``(tenant, task)``, ``(tenant, task, role)`` → a Cairn namespace."""
    namespace = tuple(namespace)
    _check_depth(namespace, "namespace")
    if not namespace:
        raise InvalidNamespaceError("a Cairn namespace needs at least one label: the tenant")
    out = {"tenant": namespace[0]}
    if len(namespace) > 1:
        out["task"] = namespace[1]
    if len(namespace) > 2:
        out["role"] = namespace[2]
    return out


def namespace_from_cairn(ns: Mapping[str, Any] | _t.Namespace) -> tuple[str, ...] | None:
    """A Cairn namespace as a tuple; None for a role without a task (no tuple says that)."""
    tenant: str
    task: str | None
    role: str | None
    if isinstance(ns, _t.Namespace):
        tenant, task, role = ns.tenant, ns.task, ns.role
    else:
        tenant, task, role = str(ns["tenant"]), ns.get("task"), ns.get("role")
    if task is None:
        return None if role is not None else (tenant,)
    return (tenant, task) if role is None else (tenant, task, role)


def translate_filter(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """LangGraph's filter as Cairn's: nested plain objects become dotted paths.

    ``{"meta": {"owner": "bob"}}`` (LangGraph: ``meta`` is an object whose ``owner`` is
    ``"bob"``) → ``{"meta.owner": "bob"}``. Operator objects (``{"$gt": 3}``) and other values
    pass as they are; tuples become lists.
    """
    if not filter:
        return None
    out: dict[str, Any] = {}

    def walk(path: str, value: Any) -> None:
        if isinstance(value, Mapping) and value and not any(str(k).startswith("$") for k in value):
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        else:
            out[path] = _plain(value)

    for key, value in filter.items():
        walk(str(key), value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _value_as_dict(value: Any) -> dict[str, Any]:
    # LangGraph values are objects; a block's text (or any other JSON written by a non-LangGraph
    # client) is shown as {"value": ...}.
    return value if isinstance(value, dict) else {"value": value}


def _does_match(condition: MatchCondition, key: tuple[str, ...]) -> bool:
    """LangGraph's prefix/suffix match with "*" wildcards (as ``InMemoryStore`` does it)."""
    path = tuple(condition.path)
    if len(key) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(key, path)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(key), reversed(path))
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or k == p for k, p in pairs)


class CairnStore(BaseStore):
    """LangGraph's ``BaseStore`` on a Cairn server.

    ``CairnStore("cairn://host:7420", token=...)`` opens its own :class:`cairn.Client` (URL and
    token default to ``$CAIRN_URL`` / ``$CAIRN_TOKEN``); ``CairnStore(client=c)`` shares one.
    Synchronous and async methods both go through that client (its I/O thread), so the store
    may be used from any thread and any event loop.

    ``tenant``: the tenant that ``search(())`` and ``list_namespaces()`` without a tenant look
    in; default the token's tenant. ``agent``: recorded with every write (Cairn's audit trail
    shows who, when and — with ``reason`` — why).

    Beyond ``BaseStore``: items are :class:`CairnItem` / :class:`CairnSearchItem` with a
    ``version``; :meth:`put_if_version` is a compare-and-set put; :meth:`watch` /
    :meth:`awatch` stream the changes under a namespace prefix.
    """

    supports_ttl = False

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        client: Client | None = None,
        tenant: str | None = None,
        agent: str | None = None,
        reason: str | None = None,
        **client_options: Any,
    ) -> None:
        if client is not None and (url is not None or token is not None or client_options):
            raise ValueError("pass either client= or url=/token=/client options, not both")
        self._owns_client = client is None
        self._client = client if client is not None else Client(url, token=token, **client_options)
        self._tenant = tenant
        self.agent = agent
        self.reason = reason

    @property
    def client(self) -> Client:
        return self._client

    def close(self) -> None:
        """Closes the client if the store opened it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> CairnStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # BaseStore -----------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs the operations (pipelined); results in the order of ``ops``.

        As in ``InMemoryStore``: every read sees the store as it was before the batch's
        writes, and of several writes to one key only the last is applied.
        """
        return self._client._run(self._abatch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._client._arun(self._abatch(list(ops)))

    async def _abatch(self, ops: list[Op]) -> list[Result]:
        aclient = self._client.aclient
        results: list[Result] = [None] * len(ops)
        reads: list[tuple[int, GetOp | SearchOp | ListNamespacesOp]] = []
        writes: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for i, op in enumerate(ops):  # check everything before sending anything
            if isinstance(op, GetOp):
                namespace_to_cairn(op.namespace)
                reads.append((i, op))
            elif isinstance(op, SearchOp):
                _check_depth(tuple(op.namespace_prefix), "namespace prefix")
                if op.limit < 0 or op.offset < 0:
                    raise ValueError("search limit and offset must not be negative")
                reads.append((i, op))
            elif isinstance(op, ListNamespacesOp):
                for condition in op.match_conditions or ():
                    _check_depth(tuple(condition.path), f"{condition.match_type} pattern")
                if op.limit < 0 or op.offset < 0:
                    raise ValueError("list_namespaces limit and offset must not be negative")
                reads.append((i, op))
            elif isinstance(op, PutOp):
                namespace_to_cairn(op.namespace)
                writes[(tuple(op.namespace), op.key)] = op
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        if reads:
            await aclient._connected()
            outcomes = await asyncio.gather(*(self._read(aclient, op) for _, op in reads), return_exceptions=True)
            for (i, _), outcome in zip(reads, outcomes):
                if isinstance(outcome, BaseException):
                    raise outcome
                results[i] = outcome
        if writes:
            await aclient._connected()
            outcomes = await asyncio.gather(*(self._write(aclient, op) for op in writes.values()), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        return results

    async def _read(self, aclient: AsyncClient, op: GetOp | SearchOp | ListNamespacesOp) -> Result:
        if isinstance(op, GetOp):
            raw = await aclient.call("get", {"ns": namespace_to_cairn(op.namespace), "key": op.key})
            return None if raw is None else _item(raw)
        if isinstance(op, SearchOp):
            return await self._search(aclient, op)
        return await self._list_namespaces(aclient, op)

    async def _write(self, aclient: AsyncClient, op: PutOp) -> None:
        params: dict[str, Any] = {"ns": namespace_to_cairn(op.namespace), "key": op.key}
        if self.agent is not None:
            params["agent"] = self.agent
        if self.reason is not None:
            params["reason"] = self.reason
        if op.value is None:
            await aclient.call("delete", params)
        else:
            params["value"] = dict(op.value)
            await aclient.call("put", params)

    # Scopes --------------------------------------------------------------------------------

    def _default_tenant(self) -> str:
        if self._tenant is not None:
            return self._tenant
        identity = self._client.identity
        if identity is not None and identity.tenant is not None:
            return identity.tenant
        raise InvalidNamespaceError(
            "this store has no tenant to look in: give the namespace's first label (the tenant), "
            "or CairnStore(..., tenant=...) — a server-wide admin token belongs to no tenant"
        )

    def _scope(self, tenant: str, task: str | None | AnyType = ANY, role: str | None | AnyType = ANY) -> dict[str, Any]:
        """A scope, narrowed to the token's task/role where the caller left them open."""
        identity = self._client.identity
        if identity is not None and identity.tenant == tenant:
            if task is ANY and identity.task is not None:
                task = identity.task
            if role is ANY and identity.role is not None:
                role = identity.role
        return _t.Scope(tenant, task, role).to_json()

    def _prefix_scope(self, prefix: tuple[str, ...]) -> dict[str, Any]:
        tenant = prefix[0] if prefix else self._default_tenant()
        return self._scope(
            tenant,
            prefix[1] if len(prefix) > 1 else ANY,
            prefix[2] if len(prefix) > 2 else ANY,
        )

    async def _has_role_without_task(self, aclient: AsyncClient, scope: dict[str, Any]) -> bool:
        """Whether the scope holds a namespace with a role and no task (no tuple names it)."""
        if "task" in scope:
            return False
        probe = dict(scope, task=None)
        r = await aclient.call("list_namespaces", {"scope": probe, "limit": 2})
        return any(ns.get("role") is not None for ns in r.get("namespaces") or [])

    # Search --------------------------------------------------------------------------------

    async def _search(self, aclient: AsyncClient, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        if op.limit == 0:
            return []
        scope = self._prefix_scope(prefix)
        params: dict[str, Any] = {"scope": scope}
        cairn_filter = translate_filter(op.filter)
        if cairn_filter:
            params["filter"] = cairn_filter
        if op.query and op.query.strip():
            params["query"] = op.query
        wanted_end = op.offset + op.limit
        found: list[SearchItem] = []
        if not await self._has_role_without_task(aclient, scope):
            # Every item in scope has a tuple: page on the server.
            offset = op.offset
            while len(found) < op.limit:
                size = min(PAGE, op.limit - len(found))
                r = await aclient.call("search", dict(params, limit=size, offset=offset))
                page = r.get("items") or []
                found.extend(_search_item(raw) for raw in page)
                if len(page) < size:
                    break
                offset += size
            return found
        # Some namespaces cannot be shown as tuples: skip them, counting offset client side.
        kept = 0
        offset = 0
        while kept < wanted_end:
            r = await aclient.call("search", dict(params, limit=PAGE, offset=offset))
            page = r.get("items") or []
            for raw in page:
                if namespace_from_cairn(raw["ns"]) is None:
                    continue
                if kept >= op.offset and kept < wanted_end:
                    found.append(_search_item(raw))
                kept += 1
            if len(page) < PAGE:
                break
            offset += PAGE
        return found

    # List namespaces -----------------------------------------------------------------------

    async def _list_namespaces(self, aclient: AsyncClient, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = tuple(op.match_conditions or ())
        # Narrow the server's scope with what every prefix pattern fixes (no "*").
        fixed: list[str | None] = [None, None, None]
        for condition in conditions:
            if condition.match_type != "prefix":
                continue
            for i, label in enumerate(tuple(condition.path)[:MAX_DEPTH]):
                if label != "*":
                    fixed[i] = label
        tenant = fixed[0] if fixed[0] is not None else self._default_tenant()
        scope = self._scope(tenant, fixed[1] if fixed[1] is not None else ANY, fixed[2] if fixed[2] is not None else ANY)
        namespaces: list[tuple[str, ...]] = []
        offset = 0
        while True:
            r = await aclient.call("list_namespaces", {"scope": scope, "limit": PAGE, "offset": offset})
            page = r.get("namespaces") or []
            for raw in page:
                ns = namespace_from_cairn(raw)
                if ns is not None and all(_does_match(c, ns) for c in conditions):
                    namespaces.append(ns)
            if len(page) < PAGE:
                break
            offset += PAGE
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset : op.offset + op.limit]

    # Beyond BaseStore ----------------------------------------------------------------------

    def put_if_version(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any] | None,
        *,
        if_version: int,
        reason: str | None = None,
    ) -> int:
        """Compare-and-set: writes (or, with ``value=None``, deletes) only if the item is at
        ``if_version`` (0: only if absent); answers the new version, or raises
        :class:`cairn.VersionConflict` (``current_version``) and writes nothing."""
        return self._client._run(self._put_if_version(namespace, key, value, if_version, reason))

    async def aput_if_version(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any] | None,
        *,
        if_version: int,
        reason: str | None = None,
    ) -> int:
        return await self._client._arun(self._put_if_version(namespace, key, value, if_version, reason))

    async def _put_if_version(
        self, namespace: tuple[str, ...], key: str, value: Mapping[str, Any] | None, if_version: int, reason: str | None
    ) -> int:
        params: dict[str, Any] = {"ns": namespace_to_cairn(tuple(namespace)), "key": str(key), "if_version": if_version}
        if self.agent is not None:
            params["agent"] = self.agent
        if (reason or self.reason) is not None:
            params["reason"] = reason or self.reason
        aclient = self._client.aclient
        if value is None:
            r = await aclient.call("delete", params)
        else:
            params["value"] = dict(value)
            r = await aclient.call("put", params)
        return int(r["version"])

    def watch(
        self,
        namespace_prefix: tuple[str, ...] = (),
        *,
        from_cursor: str | None = None,
        include_values: bool = True,
    ) -> StoreWatch:
        """Every change under ``namespace_prefix`` from now on (or after ``from_cursor``), made
        by any process: ``for change in store.watch(("acme",)): ...``. Yields
        :class:`StoreEvent` and, when events may have been missed, :class:`cairn.Resync`."""
        prefix = tuple(namespace_prefix)
        _check_depth(prefix, "namespace prefix")
        sub = self._client.subscribe(self._prefix_scope(prefix), from_cursor=from_cursor, include_values=include_values)
        return StoreWatch(sub, prefix)

    async def awatch(
        self,
        namespace_prefix: tuple[str, ...] = (),
        *,
        from_cursor: str | None = None,
        include_values: bool = True,
    ) -> AsyncStoreWatch:
        """The async twin of :meth:`watch`: ``async for change in await store.awatch(...)``."""
        prefix = tuple(namespace_prefix)
        _check_depth(prefix, "namespace prefix")
        scope = self._prefix_scope(prefix)
        aclient = self._client.aclient
        asub = await self._client._arun(
            aclient.subscribe(scope, from_cursor=from_cursor, include_values=include_values)
        )
        return AsyncStoreWatch(self._client, asub, prefix)


def _item(raw: dict[str, Any]) -> CairnItem:
    namespace = namespace_from_cairn(raw["ns"])
    return CairnItem(
        value=_value_as_dict(raw.get("value")),
        key=raw["key"],
        namespace=namespace if namespace is not None else (raw["ns"]["tenant"],),
        created_at=_t.parse_time(raw["created_at"]),
        updated_at=_t.parse_time(raw["updated_at"]),
        version=raw["version"],
        kind=raw.get("kind", "item"),
        updated_by=raw.get("updated_by", ""),
        agent=raw.get("agent"),
    )


def _search_item(raw: dict[str, Any]) -> CairnSearchItem:
    namespace = namespace_from_cairn(raw["ns"])
    assert namespace is not None
    score = raw.get("score")
    return CairnSearchItem(
        namespace,
        raw["key"],
        _value_as_dict(raw.get("value")),
        _t.parse_time(raw["created_at"]),
        _t.parse_time(raw["updated_at"]),
        float(score) if score is not None else None,
        version=raw["version"],
        kind=raw.get("kind", "item"),
        updated_by=raw.get("updated_by", ""),
        agent=raw.get("agent"),
    )


def _store_event(event: _t.Event, prefix: tuple[str, ...]) -> StoreEvent | None:
    namespace = namespace_from_cairn(event.ns)
    if namespace is None or namespace[: len(prefix)] != prefix:
        return None
    deleted = event.type == "delete"
    return StoreEvent(
        namespace=namespace,
        key=event.key,
        op="delete" if deleted else "put",
        version=event.version,
        value=None if deleted or not event.has_value else _value_as_dict(event.value),
        at=event.at,
        by=event.by,
        agent=event.agent,
        reason=event.reason,
        kind=event.kind,
        cairn_op=event.op,
        cursor=event.cursor,
    )


class StoreWatch:
    """The changes under a namespace prefix (see :meth:`CairnStore.watch`)."""

    def __init__(self, subscription: Subscription, prefix: tuple[str, ...]) -> None:
        self._sub = subscription
        self._prefix = prefix

    @property
    def cursor(self) -> str | None:
        """Where to resume (``watch(..., from_cursor=w.cursor)``) after the last change read."""
        return self._sub.cursor

    def get(self, timeout: float | None = None) -> StoreEvent | Resync | None:
        """The next change; :class:`cairn.Timeout` after ``timeout`` s; None once closed."""
        while True:
            message = self._sub.get(timeout)
            if message is None or isinstance(message, Resync):
                return message
            change = _store_event(message, self._prefix)
            if change is not None:
                return change

    def __iter__(self) -> Iterator[StoreEvent | Resync]:
        return self

    def __next__(self) -> StoreEvent | Resync:
        message = self.get()
        if message is None:
            raise StopIteration
        return message

    def close(self) -> None:
        self._sub.close()

    def __enter__(self) -> StoreWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStoreWatch:
    """The async twin of :class:`StoreWatch`."""

    def __init__(self, client: Client, subscription: AsyncSubscription, prefix: tuple[str, ...]) -> None:
        self._client = client
        self._sub = subscription
        self._prefix = prefix

    @property
    def cursor(self) -> str | None:
        return self._sub.cursor

    async def get(self, timeout: float | None = None) -> StoreEvent | Resync | None:
        while True:
            message = await self._client._arun(self._sub.get(timeout))
            if message is None or isinstance(message, Resync):
                return message
            change = _store_event(message, self._prefix)
            if change is not None:
                return change

    def __aiter__(self) -> AsyncIterator[StoreEvent | Resync]:
        return self

    async def __anext__(self) -> StoreEvent | Resync:
        message = await self.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def aclose(self) -> None:
        await self._client._arun(self._sub.close())

    async def __aenter__(self) -> AsyncStoreWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
