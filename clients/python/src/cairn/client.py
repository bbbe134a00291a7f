"""The blocking client: :class:`Client`, :class:`Subscription`, :class:`Pipeline`.

A :class:`Client` runs an :class:`~cairn.aio.AsyncClient` on a private event loop in a
daemon thread ("cairn-client"), so it is safe to use from any number of threads at once
(calls from several threads are pipelined on the one connection), and subscriptions keep
receiving while the caller does something else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from datetime import datetime
from typing import Any, Callable, Coroutine, Iterator, Sequence, TypeVar

from .aio import AsyncClient, AsyncSubscription
from .errors import ConnectionFailed
from .types import (
    AgentContext,
    AuthInfo,
    Block,
    CreatedToken,
    DeleteResult,
    EditResult,
    Event,
    HistoryEntry,
    Item,
    LogEntry,
    Namespace,
    NamespaceLike,
    PutResult,
    Resync,
    ScopeLike,
    TokenInfo,
)

__all__ = ["Client", "Subscription", "Pipeline"]

T = TypeVar("T")


class Client:
    """A blocking client of ``cairnd``; the same methods as :class:`~cairn.aio.AsyncClient`.

    ``Client("cairn://host:7420", token=...)`` connects at once (token default
    ``$CAIRN_TOKEN``, URL default ``$CAIRN_URL``). Use it as a context manager or call
    :meth:`close`. All options are those of :class:`~cairn.aio.AsyncClient`.
    """

    def __init__(self, url: str | None = None, *, token: str | None = None, **options: Any) -> None:
        self._aclient = AsyncClient(url, token=token, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="cairn-client", daemon=True)
        self._thread.start()
        self._closed = False
        try:
            self._run(self._aclient.open())
        except BaseException:
            self._stop_loop()
            raise

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a blocking cairn.Client method was called from the client's own I/O thread")
        if self._loop.is_closed():
            coro.close()
            raise ConnectionFailed("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = self._submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def _arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Awaits ``coro`` on the client's loop from another event loop."""
        return await asyncio.wrap_future(self._submit(coro))

    @property
    def aclient(self) -> AsyncClient:
        """The underlying async client (only to be used on the client's own loop)."""
        return self._aclient

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the client's I/O thread."""
        return self._loop

    @property
    def identity(self) -> AuthInfo | None:
        return self._aclient.identity

    @property
    def hello(self) -> dict[str, Any]:
        return self._aclient.hello

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now (the next call reconnects when not)."""
        return self._aclient.connected

    def close(self) -> None:
        """Ends every subscription, closes the connection and stops the I/O thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._aclient.close())
        finally:
            self._stop_loop()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: dict[str, Any] | None = None, *, idempotent: bool | None = None) -> Any:
        """Any method with any params; answers the ``result``. See :meth:`AsyncClient.call`."""
        return self._run(self._aclient.call(method, params, idempotent=idempotent))

    def pipeline(self) -> Pipeline:
        """Queues calls and sends them together: ``p = c.pipeline(); p.get(...); p.put(...); p.execute()``."""
        return Pipeline(self)

    # Session -------------------------------------------------------------------------------

    def ping(self) -> bool:
        return self._run(self._aclient.ping())

    def auth(self, token: str) -> AuthInfo:
        return self._run(self._aclient.auth(token))

    def token_create(
        self, tenant: str, principal: str, grants: Sequence[str], *, task: str | None = None, role: str | None = None
    ) -> CreatedToken:
        return self._run(self._aclient.token_create(tenant, principal, grants, task=task, role=role))

    def token_revoke(self, token_id: str) -> None:
        self._run(self._aclient.token_revoke(token_id))

    def token_list(self, tenant: str) -> list[TokenInfo]:
        return self._run(self._aclient.token_list(tenant))

    # Items ---------------------------------------------------------------------------------

    def put(
        self,
        ns: NamespaceLike,
        key: str,
        value: Any,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> PutResult:
        return self._run(
            self._aclient.put(
                ns,
                key,
                value,
                if_version=if_version,
                reason=reason,
                agent=agent,
                request_id=request_id,
            )
        )

    def get(self, ns: NamespaceLike, key: str, *, version: int | None = None) -> Item | None:
        return self._run(self._aclient.get(ns, key, version=version))

    def delete(
        self,
        ns: NamespaceLike,
        key: str,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> DeleteResult:
        return self._run(
            self._aclient.delete(
                ns,
                key,
                if_version=if_version,
                reason=reason,
                agent=agent,
                request_id=request_id,
            )
        )

    def search(
        self,
        scope: ScopeLike,
        *,
        filter: dict[str, Any] | None = None,
        query: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Item]:
        return self._run(self._aclient.search(scope, filter=filter, query=query, limit=limit, offset=offset))

    def list_namespaces(self, scope: ScopeLike, *, limit: int | None = None, offset: int | None = None) -> list[Namespace]:
        return self._run(self._aclient.list_namespaces(scope, limit=limit, offset=offset))

    def history(
        self, ns: NamespaceLike, key: str, *, limit: int | None = None, before_version: int | None = None
    ) -> list[HistoryEntry]:
        return self._run(self._aclient.history(ns, key, limit=limit, before_version=before_version))

    def log(
        self,
        scope: ScopeLike,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        by: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        return self._run(self._aclient.log(scope, since=since, until=until, by=by, after=after, limit=limit))

    # Blocks --------------------------------------------------------------------------------

    def block_create(
        self,
        ns: NamespaceLike,
        label: str,
        value: str = "",
        *,
        description: str | None = None,
        limit: int | None = None,
        read_only: bool | None = None,
        metadata: Any = None,
        agents: Sequence[str] | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> Block:
        return self._run(
            self._aclient.block_create(
                ns, label, value, description=description, limit=limit, read_only=read_only, metadata=metadata,
                agents=agents, reason=reason, agent=agent, request_id=request_id,
            )
        )

    def block_get(self, ns: NamespaceLike, label: str, *, version: int | None = None) -> Block:
        return self._run(self._aclient.block_get(ns, label, version=version))

    def block_update(
        self,
        ns: NamespaceLike,
        label: str,
        *,
        value: str | None = None,
        description: str | None = None,
        limit: int | None = None,
        read_only: bool | None = None,
        metadata: Any = None,
        if_version: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> int:
        return self._run(
            self._aclient.block_update(
                ns, label, value=value, description=description, limit=limit, read_only=read_only, metadata=metadata,
                if_version=if_version, reason=reason, agent=agent, request_id=request_id,
            )
        )

    def block_insert(
        self,
        ns: NamespaceLike,
        label: str,
        text: str,
        *,
        line: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> EditResult:
        return self._run(
            self._aclient.block_insert(
                ns,
                label,
                text,
                line=line,
                reason=reason,
                agent=agent,
                request_id=request_id,
            )
        )

    def block_replace(
        self,
        ns: NamespaceLike,
        label: str,
        old: str,
        new: str,
        *,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> EditResult:
        return self._run(
            self._aclient.block_replace(
                ns,
                label,
                old,
                new,
                reason=reason,
                agent=agent,
                request_id=request_id,
            )
        )

    def block_rethink(
        self,
        ns: NamespaceLike,
        label: str,
        value: str,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> int:
        return self._run(
            self._aclient.block_rethink(
                ns,
                label,
                value,
                if_version=if_version,
                reason=reason,
                agent=agent,
                request_id=request_id,
            )
        )

    def block_delete(
        self,
        ns: NamespaceLike,
        label: str,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> DeleteResult:
        return self._run(
            self._aclient.block_delete(
                ns,
                label,
                if_version=if_version,
                reason=reason,
                request_id=request_id,
            )
        )

    def block_list(
        self, scope: ScopeLike, *, label_search: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> list[Block]:
        return self._run(self._aclient.block_list(scope, label_search=label_search, limit=limit, offset=offset))

    def block_attach(
        self,
        ns: NamespaceLike,
        label: str,
        agent: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self._run(self._aclient.block_attach(ns, label, agent, reason=reason, request_id=request_id))

    def block_detach(
        self,
        ns: NamespaceLike,
        label: str,
        agent: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self._run(self._aclient.block_detach(ns, label, agent, reason=reason, request_id=request_id))

    def block_agents(self, ns: NamespaceLike, label: str) -> list[str]:
        return self._run(self._aclient.block_agents(ns, label))

    def agent_blocks(self, tenant: str, agent: str) -> list[Block]:
        return self._run(self._aclient.agent_blocks(tenant, agent))

    def agent_context(self, tenant: str, agent: str) -> AgentContext:
        return self._run(self._aclient.agent_context(tenant, agent))

    # Events --------------------------------------------------------------------------------

    def subscribe(
        self, scope: ScopeLike, *, from_cursor: str | None = None, include_values: bool = False, coalesce_ms: int = 0
    ) -> Subscription:
        """Every write in ``scope`` from now on (or after ``from_cursor``); see :class:`Subscription`."""
        asub = self._run(
            self._aclient.subscribe(scope, from_cursor=from_cursor, include_values=include_values, coalesce_ms=coalesce_ms)
        )
        return Subscription(self, asub)


class Subscription:
    """An open subscription: iterate it (``for message in sub``) or call :meth:`get`.

    Yields :class:`~cairn.types.Event` and, rarely, :class:`~cairn.types.Resync`; events are
    received in the background and queued (bounded: see :mod:`cairn.aio`). ``cursor`` is the
    cursor of the last message handed out: ``subscribe(..., from_cursor=sub.cursor)`` resumes
    there with no gap, in this process or another.
    """

    def __init__(self, client: Client, asub: AsyncSubscription) -> None:
        self._client = client
        self._asub = asub

    @property
    def cursor(self) -> str | None:
        return self._asub.cursor

    @property
    def closed(self) -> bool:
        return self._asub.closed

    @property
    def queued(self) -> int:
        return self._asub.queued

    @property
    def pauses(self) -> int:
        return self._asub.pauses

    def get(self, timeout: float | None = None) -> Event | Resync | None:
        """The next message, waiting at most ``timeout`` seconds (:class:`~cairn.errors.Timeout`);
        None once the subscription is closed."""
        return self._client._run(self._asub.get(timeout))

    def __iter__(self) -> Iterator[Event | Resync]:
        return self

    def __next__(self) -> Event | Resync:
        message = self.get()
        if message is None:
            raise StopIteration
        return message

    def close(self) -> None:
        if not self._client._loop.is_closed():
            self._client._run(self._asub.close())

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pipeline:
    """Calls queued now and sent together; see :class:`~cairn.aio.AsyncPipeline`.

    ``p = client.pipeline(); p.put(ns, "a", 1); p.get(ns, "a"); results = p.execute()``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._apipe = client._aclient.pipeline()

    def __getattr__(self, name: str) -> Callable[..., Pipeline]:
        queue = getattr(self._apipe, name)

        def record(*args: Any, **kwargs: Any) -> Pipeline:
            queue(*args, **kwargs)
            return self

        return record

    def __len__(self) -> int:
        return len(self._apipe)

    def execute(self, *, return_exceptions: bool = False) -> list[Any]:
        return self._client._run(self._apipe.execute(return_exceptions=return_exceptions))

