"""The asyncio client: :class:`AsyncClient`, :class:`AsyncSubscription`, :class:`AsyncPipeline`.

One TCP connection per client, NDJSON JSON-RPC 2.0 on it. Every call writes its request line
at once and waits for its own answer, so calls made concurrently (``asyncio.gather``, or an
:class:`AsyncPipeline`) are pipelined on the connection; answers are matched by id.

What the client buffers is bounded: a line from the server longer than ``max_line_bytes``
closes the connection (the request it answered fails with :class:`~cairn.errors.LineTooLong`),
and each subscription holds at most ``max_queued_events`` events / ``max_queued_bytes`` bytes.
When a consumer falls that far behind, the client stops the subscription on the server, drops
what arrives meanwhile and, once the consumer has read half of the queue, subscribes again from
the cursor of the last event it queued: the consumer sees every event, in order, only later
(unless the server trimmed its history meanwhile, which it then announces with a
:class:`~cairn.types.Resync`). A slow consumer therefore never blocks the connection's other
requests nor grows memory without bound.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import ssl as _ssl
import time
import uuid
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from .errors import (
    CairnError,
    ConnectionFailed,
    ConnectionLost,
    LineTooLong,
    OutcomeUnknown,
    Timeout,
    Unauthenticated,
    Unavailable,
    error_from_wire,
)
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
    format_time,
    ns_json,
    parse_time,
    scope_json,
)

__all__ = ["AsyncClient", "AsyncSubscription", "AsyncPipeline", "parse_url", "DEFAULT_PORT"]

DEFAULT_PORT = 7420
DEFAULT_URL = f"cairn://127.0.0.1:{DEFAULT_PORT}"

# Methods that change nothing: safe to send again on a new connection when the old one broke
# before their answer came.
IDEMPOTENT_METHODS = frozenset(
    {
        "ping",
        "get",
        "search",
        "list_namespaces",
        "history",
        "log",
        "block.get",
        "block.list",
        "block.agents",
        "agent.blocks",
        "agent.context",
        "token.list",
    }
)


# Methods that write: each request gets a ``request_id`` (a fresh UUID unless the caller gave
# one), so that sending it again after 5003, 5004 or a lost connection applies it once.
WRITE_METHODS = frozenset(
    {
        "put",
        "delete",
        "block.create",
        "block.update",
        "block.insert",
        "block.replace",
        "block.rethink",
        "block.delete",
        "block.attach",
        "block.detach",
    }
)


def parse_url(url: str) -> tuple[str, int, bool]:
    """``cairn://host:port`` (or ``cairns://`` for TLS) as ``(host, port, tls)``."""
    parts = urlsplit(url)
    if parts.scheme not in ("cairn", "cairns"):
        raise ValueError(f"a Cairn URL looks like cairn://host:7420, not {url!r}")
    if parts.username or parts.password:
        raise ValueError("do not put a token in the URL: pass token= or set CAIRN_TOKEN")
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as e:
        raise ValueError(f"bad port in {url!r}") from e
    return host, port, parts.scheme == "cairns"


def tls_context(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> _ssl.SSLContext:
    """The TLS context of a ``cairns://`` connection: TLS 1.2 or newer, the server's certificate
    verified against ``ca_file`` (PEM; default the system's CAs) and the host name, and a client
    certificate (``cert_file`` with ``key_file``) for a server that requires mutual TLS."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("a client certificate needs both tls_cert and tls_key")
    try:
        context = _ssl.create_default_context(cafile=ca_file)
    except (OSError, _ssl.SSLError) as e:
        raise ValueError(f"cannot read the TLS CA file {ca_file}: {e}") from e
    context.minimum_version = _ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, _ssl.SSLError) as e:
            raise ValueError(f"cannot use the client certificate {cert_file} with key {key_file}: {e}") from e
    return context


def _tls_failure(address: str, error: BaseException) -> str:
    """Words a person can act on for a failed TLS connection."""
    if isinstance(error, _ssl.SSLCertVerificationError):
        why = (error.verify_message or str(error)).lower()
        if "hostname" in why or "ip address mismatch" in why:
            return f"TLS to {address} failed: wrong host: the server's certificate is not for this host name or address ({error.verify_message})"
        if "expired" in why or "not yet valid" in why:
            return f"TLS to {address} failed: the server's certificate is expired or not yet valid ({error.verify_message})"
        return (
            f"TLS to {address} failed: the server's certificate is signed by an unknown CA; pass the CA that "
            f"signed it with tls_ca= or CAIRN_TLS_CA ({error.verify_message})"
        )
    text = str(error)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "packet length too long" in text:
        return f"{address} speaks plaintext, not TLS: connect with cairn:// (or start cairnd with --tls-cert and --tls-key)"
    if "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
        return f"TLS to {address} failed: the server requires a client certificate (tls_cert= and tls_key=) ({text})"
    return f"TLS to {address} failed: {text}"


def _dumps(message: Any) -> bytes:
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def _drop_none(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class _Pending:
    __slots__ = ("future", "method", "on_result")

    def __init__(self, future: asyncio.Future[Any], method: str, on_result: Callable[[Any], None] | None) -> None:
        self.future = future
        self.method = method
        self.on_result = on_result


class _Connection:
    """One TCP connection: writes request lines, reads lines and dispatches them."""

    def __init__(self, client: AsyncClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.client = client
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.pending: collections.OrderedDict[int, _Pending] = collections.OrderedDict()
        self.subscriptions: dict[str, AsyncSubscription] = {}
        self.next_id = 0
        self.closed = False
        self.close_error: CairnError | None = None
        self.hello: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.hello.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "unretrieved"
        self.max_request_bytes = 1_048_576
        self.drain_lock: asyncio.Lock | None = None
        self.task = self.loop.create_task(self._read_loop())

    # Sending -------------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None, on_result: Callable[[Any], None] | None = None
    ) -> asyncio.Future[Any]:
        """Writes one request and answers the future its response resolves.

        Raises before anything is sent: :class:`ConnectionFailed` when the connection is
        closed, :class:`LineTooLong` when the line would be longer than the server accepts.
        """
        if self.closed:
            raise ConnectionFailed("the connection to the server is closed")
        self.next_id += 1
        request_id = self.next_id
        line = _dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        if len(line) - 1 > self.max_request_bytes:
            raise LineTooLong(
                f"the {method} request is {len(line) - 1} bytes, more than the server's "
                f"max_line_bytes ({self.max_request_bytes}); nothing was sent",
                data={"limit": self.max_request_bytes, "requested": len(line) - 1},
            )
        future: asyncio.Future[Any] = self.loop.create_future()
        self.pending[request_id] = _Pending(future, method, on_result)
        try:
            self.writer.write(line)
        except Exception as e:  # the transport is closing
            self.pending.pop(request_id, None)
            self._close(ConnectionFailed(f"cannot write to the server: {e}"))
            raise ConnectionFailed(f"cannot write to the server: {e}") from e
        return future

    def forget(self, future: asyncio.Future[Any]) -> None:
        for request_id, pending in list(self.pending.items()):
            if pending.future is future:
                del self.pending[request_id]
                return

    def send_and_forget(self, method: str, params: dict[str, Any]) -> None:
        """Sends a request whose answer nobody waits for (errors are ignored)."""
        try:
            future = self.send(method, params)
        except CairnError:
            return
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def drain(self) -> None:
        if self.drain_lock is None:
            self.drain_lock = asyncio.Lock()
        try:
            async with self.drain_lock:  # concurrent drain() is not safe on every Python version
                await self.writer.drain()
        except Exception as e:
            self._close(ConnectionFailed(f"cannot write to the server: {e}"))

    # Reading -------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        error: CairnError = ConnectionLost("the server closed the connection")
        try:
            while True:
                try:
                    line = await self.reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as e:
                    if e.partial.strip():
                        self._dispatch_line(e.partial)
                    break
                except asyncio.LimitOverrunError:
                    limit = self.client.max_line_bytes
                    too_long = LineTooLong(
                        f"the server sent a line longer than this client's max_line_bytes ({limit}); "
                        "the connection is closed. Ask for smaller pages or raise max_line_bytes.",
                        data={"limit": limit},
                    )
                    # Answers come in request order: the line was most likely the oldest one's.
                    if self.pending:
                        _, oldest = self.pending.popitem(last=False)
                        if not oldest.future.done():
                            oldest.future.set_exception(too_long)
                    error = ConnectionLost("the connection was closed after an overlong line from the server")
                    break
                if line.strip():
                    self._dispatch_line(line)
        except asyncio.CancelledError:
            error = ConnectionFailed("the client was closed")
            raise
        except _ssl.SSLError as e:
            # e.g. the server refused this client's certificate (mutual TLS, TLS 1.3).
            error = ConnectionLost(_tls_failure(f"{self.client.host}:{self.client.port}", e))
        except (ConnectionError, OSError) as e:
            error = ConnectionLost(f"the connection to the server broke: {e}")
        except Exception as e:  # a bug in dispatching must not leave callers hanging
            error = ConnectionLost(f"the connection was closed after an unexpected error: {e!r}")
        finally:
            self._close(error)

    def _dispatch_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return  # not JSON: nothing to match it with
        for one in message if isinstance(message, list) else [message]:
            if isinstance(one, dict):
                self._dispatch(one, len(line))

    def _dispatch(self, message: dict[str, Any], size: int) -> None:
        if "result" in message or "error" in message:
            request_id = message.get("id")
            if request_id is None:
                # A connection-level error (overlong line, too many connections, parse error).
                error = error_from_wire(message.get("error"))
                if not self.hello.done():
                    self.hello.set_exception(error)
                elif self.pending:
                    _, oldest = self.pending.popitem(last=False)
                    if not oldest.future.done():
                        oldest.future.set_exception(error)
                return
            pending = self.pending.pop(request_id, None) if isinstance(request_id, int) else None
            if pending is None:
                return  # its caller gave up (timeout)
            if "error" in message:
                if not pending.future.done():
                    pending.future.set_exception(error_from_wire(message["error"]))
                return
            result = message.get("result")
            if pending.on_result is not None:
                # Runs before the next line is read: a subscription is routed before its events.
                try:
                    pending.on_result(result)
                except Exception as e:  # pragma: no cover - a bug in a hook
                    if not pending.future.done():
                        pending.future.set_exception(e)
                    return
            if not pending.future.done():
                pending.future.set_result(result)
            return
        method = message.get("method")
        params = message.get("params")
        if not isinstance(params, dict):
            params = {}
        if method == "hello":
            if not self.hello.done():
                self.hello.set_result(params)
        elif method == "event":
            self._route(params, Event.from_json, size)
        elif method == "events":
            events = [e for e in params.get("events") or [] if isinstance(e, dict)]
            for one in events:
                one.setdefault("subscription", params.get("subscription"))
                self._route(one, Event.from_json, size // max(1, len(events)))
        elif method == "resync":
            self._route(params, Resync.from_json, 0)

    def _route(self, params: dict[str, Any], decode: Callable[[dict[str, Any]], Event | Resync], size: int) -> None:
        subscription = self.subscriptions.get(params.get("subscription", ""))
        if subscription is None:
            return
        try:
            message = decode(params)
        except (KeyError, TypeError, ValueError):
            return  # a malformed notification must not take the connection down
        subscription._deliver(self, message, size)

    # Closing -------------------------------------------------------------------------------

    def _close(self, error: CairnError) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_error = error
        try:
            self.writer.close()
        except Exception:  # pragma: no cover
            pass
        if not self.hello.done():
            self.hello.set_exception(ConnectionFailed(f"no hello from the server: {error.message}"))
        pending = list(self.pending.values())
        self.pending.clear()
        for p in pending:
            if not p.future.done():
                p.future.set_exception(ConnectionLost(error.message))
        subscriptions = list(self.subscriptions.values())
        self.subscriptions.clear()
        for s in subscriptions:
            s._detached(self)
        self.client._connection_closed(self)

    async def aclose(self) -> None:
        if not self.closed:
            self._close(ConnectionFailed("the client was closed"))
        if self.task is not asyncio.current_task():
            self.task.cancel()
            try:
                await self.task
            except BaseException:
                pass
        try:
            await self.writer.wait_closed()
        except Exception:
            pass


def new_request_id() -> str:
    """A fresh request id: a random UUID (36 bytes of ASCII)."""
    return str(uuid.uuid4())


def retry_delay(attempt: int, retry_after_ms: int | None, deadline: float) -> float:
    """Full-jitter exponential back-off (50 ms doubling, capped at 2 s), at least the server's
    ``retry_after_ms``, never past ``deadline``."""
    delay = random.uniform(0, min(2.0, 0.05 * 2 ** (attempt - 1)))
    if retry_after_ms is not None:
        delay = max(delay, retry_after_ms / 1000)
    return max(0.0, min(delay, deadline - time.monotonic()))


class AsyncClient:
    """An asyncio client of ``cairnd``.

    ``url`` is ``cairn://host:port`` (default ``$CAIRN_URL`` or ``cairn://127.0.0.1:7420``);
    ``token`` defaults to ``$CAIRN_TOKEN`` (``token=""`` connects without authenticating).
    Use it as ``async with AsyncClient(...) as c:`` or call :meth:`open` / :meth:`close`.

    Reconnects: when the connection breaks, the next call opens a new one (authenticating with
    the same token, resubscribing every open subscription from its cursor). A read that was in
    flight is sent again (``get``, ``search``, ``list_namespaces``, ``history``, ``log``,
    ``block.get``, ``block.list``, ``block.agents``, ``agent.blocks``, ``agent.context``,
    ``token.list``, ``ping``), for at most ``retry_timeout`` seconds.

    Writes carry a ``request_id`` (a fresh UUID unless the call gives ``request_id=``): after a
    lost connection, :class:`~cairn.errors.Unavailable` (5003) or
    :class:`~cairn.errors.OutcomeUnknown` (5004) the write is sent again with the same id, so it
    takes effect exactly once (the server answers a replay with the first result). Reads retry
    after 5003 too. At most ``max_attempts`` sends in all, within ``retry_timeout`` seconds,
    with jittered exponential back-off (at least the server's ``retry_after_ms``); then the
    last error is raised. ``max_attempts=1`` turns retrying off.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        connect_timeout: float = 10.0,
        retry_timeout: float = 30.0,
        max_attempts: int = 6,
        reconnect: bool = True,
        max_line_bytes: int = 64 * 1024 * 1024,
        max_queued_events: int = 10_000,
        max_queued_bytes: int = 64 * 1024 * 1024,
        ssl: _ssl.SSLContext | bool | None = None,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.url = url or os.environ.get("CAIRN_URL") or DEFAULT_URL
        self.host, self.port, tls = parse_url(self.url)
        self._token = token if token is not None else os.environ.get("CAIRN_TOKEN") or None
        if self._token == "":
            self._token = None
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry_timeout = retry_timeout
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.reconnect = reconnect
        if max_line_bytes < 1024:
            raise ValueError("max_line_bytes must be at least 1024")
        self.max_line_bytes = max_line_bytes
        self.max_queued_events = max(2, max_queued_events)
        self.max_queued_bytes = max(1024, max_queued_bytes)
        self._ssl: _ssl.SSLContext | bool | None = ssl
        if ssl is None and tls:
            self._ssl = tls_context(
                tls_ca or os.environ.get("CAIRN_TLS_CA") or None,
                tls_cert or os.environ.get("CAIRN_TLS_CERT") or None,
                tls_key or os.environ.get("CAIRN_TLS_KEY") or None,
            )
        self._conn: _Connection | None = None
        self._ever_connected = False
        self._connect_lock: asyncio.Lock | None = None
        self._closed = False
        self._subscriptions: set[AsyncSubscription] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self.hello: dict[str, Any] = {}
        """The server's ``hello`` notification of the current connection."""
        self.identity: AuthInfo | None = None
        """Who the connection acts as (the answer of ``auth``), None without a token."""
        self.connections_opened = 0
        """How many connections this client opened (1 + reconnects)."""

    # Lifecycle -----------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: str | None = None, **options: Any) -> AsyncClient:
        """Creates a client and opens its connection."""
        client = cls(url, **options)
        await client.open()
        return client

    async def open(self) -> AsyncClient:
        await self._connected()
        return self

    async def __aenter__(self) -> AsyncClient:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now (the next call reconnects when not)."""
        return self._conn is not None and not self._conn.closed

    async def close(self) -> None:
        """Ends every subscription and closes the connection."""
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription._end(None)
        self._subscriptions.clear()
        for task in list(self._background):
            task.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.aclose()

    async def _connected(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self._closed:
            raise ConnectionFailed("the client is closed")
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            conn = self._conn
            if conn is not None and not conn.closed:
                return conn
            if self._closed:
                raise ConnectionFailed("the client is closed")
            if self._ever_connected and not self.reconnect:
                raise ConnectionFailed("the connection to the server is gone and reconnect is off")
            retrying = self._ever_connected
            deadline = time.monotonic() + self.retry_timeout
            attempt = 0
            while True:
                try:
                    conn = await self._open_connection()
                    break
                except (ConnectionFailed, OSError, asyncio.TimeoutError) as e:
                    attempt += 1
                    if not retrying or time.monotonic() >= deadline or self._closed:
                        if isinstance(e, ConnectionFailed):
                            raise
                        raise ConnectionFailed(f"cannot connect to {self.host}:{self.port}: {e!r}") from e
                    await asyncio.sleep(min(1.0, 0.05 * 2 ** min(attempt, 5)) * (0.5 + random.random() / 2))
            self._conn = conn
            self._ever_connected = True
            return conn

    async def _open_connection(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=self.max_line_bytes + 2, ssl=self._ssl or None),
                self.connect_timeout,
            )
        except asyncio.TimeoutError as e:
            raise ConnectionFailed(f"cannot connect to {self.host}:{self.port} within {self.connect_timeout} s") from e
        except _ssl.SSLError as e:
            raise ConnectionFailed(_tls_failure(f"{self.host}:{self.port}", e)) from e
        except OSError as e:
            raise ConnectionFailed(f"cannot connect to {self.host}:{self.port}: {e}") from e
        conn = _Connection(self, reader, writer)
        try:
            try:
                hello = await asyncio.wait_for(asyncio.shield(conn.hello), self.connect_timeout)
            except asyncio.TimeoutError as e:
                # A TLS listener says nothing until the client's TLS handshake: a plain client waits.
                hint = "" if self._ssl else " (if the server listens with TLS, connect with cairns://)"
                raise ConnectionFailed(f"{self.host}:{self.port} sent no hello within {self.connect_timeout} s{hint}") from e
            except ConnectionFailed as e:
                if self._ssl:
                    raise
                # A TLS listener closes a plaintext client before its hello.
                raise ConnectionFailed(f"{e.message} (if the server listens with TLS, connect with cairns://)") from e
            if hello.get("server") != "cairn":
                raise ConnectionFailed(f"{self.host}:{self.port} is not a Cairn server (hello {hello!r})")
            max_line = hello.get("max_line_bytes")
            if isinstance(max_line, int) and max_line > 0:
                conn.max_request_bytes = max_line
            self.hello = hello
            if self._token is not None:
                result = await self._await(conn, conn.send("auth", {"token": self._token}))
                self.identity = AuthInfo.from_json(result)
            # Resubscribe (pipelined) every subscription that was live on the old connection.
            wanted = [s for s in list(self._subscriptions) if s._wants_server()]
            outcomes = await asyncio.gather(*(s._resubscribe_on(conn) for s in wanted), return_exceptions=True)
            for subscription, outcome in zip(wanted, outcomes):
                if isinstance(outcome, ConnectionFailed):
                    raise outcome
                if isinstance(outcome, CairnError):
                    subscription._end(outcome)
                elif isinstance(outcome, BaseException):
                    raise outcome
        except BaseException:
            await conn.aclose()
            raise
        self.connections_opened += 1
        return conn

    def _connection_closed(self, conn: _Connection) -> None:
        """Called by a connection when it closes: keeps subscriptions alive by reconnecting."""
        if self._closed or not self.reconnect or self._conn is not conn:
            return
        if any(s._wants_server() for s in self._subscriptions):
            self._spawn(self._reconnect_for_subscriptions())

    async def _reconnect_for_subscriptions(self) -> None:
        try:
            await self._connected()
        except CairnError as e:
            for subscription in list(self._subscriptions):
                subscription._end(e)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # Calling -------------------------------------------------------------------------------

    async def _await(self, conn: _Connection, future: asyncio.Future[Any]) -> Any:
        await conn.drain()
        if self.timeout is None:
            return await future
        try:
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            conn.forget(future)
            raise Timeout(f"no answer from the server within {self.timeout} s") from None

    async def call(self, method: str, params: dict[str, Any] | None = None, *, idempotent: bool | None = None) -> Any:
        """Sends any method with any params and answers its ``result`` (or raises its error).

        ``idempotent`` (default: whether ``method`` is a known read, or a write, which gets a
        ``request_id``) allows the request to be sent again (see the class's notes on retries).
        """
        if method in WRITE_METHODS:
            params = dict(params or {})
            if params.get("request_id") is None:
                params["request_id"] = new_request_id()
        retry = (method in IDEMPOTENT_METHODS or method in WRITE_METHODS) if idempotent is None else idempotent
        deadline = time.monotonic() + self.retry_timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                conn = await self._connected()
                future = conn.send(method, params)
                return await self._await(conn, future)
            except (ConnectionLost, Unavailable, OutcomeUnknown) as error:
                # A lost connection reconnects (if allowed) on the next round.
                lost = isinstance(error, ConnectionLost)
                if (
                    not retry
                    or (lost and not self.reconnect)
                    or self._closed
                    or attempt >= self.max_attempts
                    or time.monotonic() >= deadline
                ):
                    raise
                await asyncio.sleep(retry_delay(attempt, getattr(error, "retry_after_ms", None), deadline))

    def pipeline(self) -> AsyncPipeline:
        """Queues calls and sends them together: ``results = await p.get(...).put(...).execute()``."""
        return AsyncPipeline(self)

    # Session -------------------------------------------------------------------------------

    async def ping(self) -> bool:
        result = await self.call("ping")
        return bool(isinstance(result, dict) and result.get("pong"))

    async def auth(self, token: str) -> AuthInfo:
        """Authenticates the connection; the token is also used on every reconnect."""
        info = AuthInfo.from_json(await self.call("auth", {"token": token}))
        self._token = token
        self.identity = info
        return info

    async def token_create(
        self,
        tenant: str,
        principal: str,
        grants: Sequence[str],
        *,
        task: str | None = None,
        role: str | None = None,
    ) -> CreatedToken:
        """Mints a token for ``tenant`` (needs ``admin``); the secret is shown once."""
        params: dict[str, Any] = {"tenant": tenant, "principal": principal, "grants": list(grants)}
        scope = _drop_none(task=task, role=role)
        if scope:
            params["scope"] = scope
        result = await self.call("token.create", params)
        return CreatedToken(token=result["token"], token_id=result["token_id"])

    async def token_revoke(self, token_id: str) -> None:
        await self.call("token.revoke", {"token_id": token_id})

    async def token_list(self, tenant: str) -> list[TokenInfo]:
        result = await self.call("token.list", {"tenant": tenant})
        return [TokenInfo.from_json(t) for t in result.get("tokens") or []]

    # Items ---------------------------------------------------------------------------------

    async def put(
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
        """Writes ``value`` (any JSON but None). ``if_version``: 0 = only if absent, n = only if at n."""
        params = _drop_none(
            request_id=request_id,
            ns=ns_json(ns),
            key=key,
            if_version=if_version,
            reason=reason,
            agent=agent,
        )
        params["value"] = value
        r = await self.call("put", params)
        return PutResult(version=r["version"], created_at=parse_time(r["created_at"]), updated_at=parse_time(r["updated_at"]))

    async def get(self, ns: NamespaceLike, key: str, *, version: int | None = None) -> Item | None:
        """The item (a :class:`~cairn.types.Block` for blocks), a kept old ``version``, or None."""
        r = await self.call("get", _drop_none(ns=ns_json(ns), key=key, version=version))
        return None if r is None else Item.from_json(r)

    async def delete(
        self,
        ns: NamespaceLike,
        key: str,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        agent: str | None = None,
        request_id: str | None = None,
    ) -> DeleteResult:
        r = await self.call(
            "delete",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                key=key,
                if_version=if_version,
                reason=reason,
                agent=agent,
            ),
        )
        return DeleteResult(version=r["version"], existed=bool(r["existed"]))

    async def search(
        self,
        scope: ScopeLike,
        *,
        filter: dict[str, Any] | None = None,
        query: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Item]:
        """Items in ``scope`` matching ``filter`` and ``query``; by score with a query, else newest first."""
        r = await self.call(
            "search", _drop_none(scope=scope_json(scope), filter=filter, query=query, limit=limit, offset=offset)
        )
        return [Item.from_json(i) for i in r.get("items") or []]

    async def list_namespaces(
        self, scope: ScopeLike, *, limit: int | None = None, offset: int | None = None
    ) -> list[Namespace]:
        """Namespaces in ``scope`` that hold live items, sorted."""
        r = await self.call("list_namespaces", _drop_none(scope=scope_json(scope), limit=limit, offset=offset))
        return [Namespace.from_json(n) for n in r.get("namespaces") or []]

    async def history(
        self, ns: NamespaceLike, key: str, *, limit: int | None = None, before_version: int | None = None
    ) -> list[HistoryEntry]:
        """An item's versions, newest first."""
        r = await self.call("history", _drop_none(ns=ns_json(ns), key=key, limit=limit, before_version=before_version))
        return [HistoryEntry.from_json(e) for e in r.get("entries") or []]

    async def log(
        self,
        scope: ScopeLike,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        by: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The audit trail of ``scope``, oldest first; ``after`` = a cursor of an earlier entry."""
        r = await self.call(
            "log",
            _drop_none(
                scope=scope_json(scope),
                since=format_time(since) if since is not None else None,
                until=format_time(until) if until is not None else None,
                by=by,
                after=after,
                limit=limit,
            ),
        )
        return [LogEntry.from_json(e) for e in r.get("entries") or []]

    # Blocks --------------------------------------------------------------------------------

    async def block_create(
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
        r = await self.call(
            "block.create",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                value=value,
                description=description,
                limit=limit,
                read_only=read_only,
                metadata=metadata,
                agents=list(agents) if agents is not None else None,
                reason=reason,
                agent=agent,
            ),
        )
        return _block(r)

    async def block_get(self, ns: NamespaceLike, label: str, *, version: int | None = None) -> Block:
        """The block (raises :class:`~cairn.errors.NotFound` when there is none)."""
        return _block(await self.call("block.get", _drop_none(ns=ns_json(ns), label=label, version=version)))

    async def block_update(
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
        """Changes the text and/or properties in one version; answers the (new) version."""
        r = await self.call(
            "block.update",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                value=value,
                description=description,
                limit=limit,
                read_only=read_only,
                metadata=metadata,
                if_version=if_version,
                reason=reason,
                agent=agent,
            ),
        )
        return int(r["version"])

    async def block_insert(
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
        """Inserts ``text`` as new line(s) after 1-based ``line`` (0 = top, -1 = end, the default)."""
        r = await self.call(
            "block.insert",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                text=text,
                line=line,
                reason=reason,
                agent=agent,
            ),
        )
        return EditResult(version=r["version"], value=r["value"])

    async def block_replace(
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
        """Replaces the one occurrence of ``old`` (``NoMatch`` / ``AmbiguousMatch`` otherwise)."""
        r = await self.call(
            "block.replace",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                old=old,
                new=new,
                reason=reason,
                agent=agent,
            ),
        )
        return EditResult(version=r["version"], value=r["value"])

    async def block_rethink(
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
        """Rewrites the whole text (last writer wins unless ``if_version``); answers the version."""
        r = await self.call(
            "block.rethink",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                value=value,
                if_version=if_version,
                reason=reason,
                agent=agent,
            ),
        )
        return int(r["version"])

    async def block_delete(
        self,
        ns: NamespaceLike,
        label: str,
        *,
        if_version: int | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> DeleteResult:
        r = await self.call(
            "block.delete",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                if_version=if_version,
                reason=reason,
            ),
        )
        return DeleteResult(version=r["version"], existed=bool(r["existed"]))

    async def block_list(
        self,
        scope: ScopeLike,
        *,
        label_search: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Block]:
        r = await self.call(
            "block.list", _drop_none(scope=scope_json(scope), label_search=label_search, limit=limit, offset=offset)
        )
        return [_block(b) for b in r.get("blocks") or []]

    async def block_attach(
        self,
        ns: NamespaceLike,
        label: str,
        agent: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        await self.call(
            "block.attach",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                agent=agent,
                reason=reason,
            ),
        )

    async def block_detach(
        self,
        ns: NamespaceLike,
        label: str,
        agent: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        await self.call(
            "block.detach",
            _drop_none(
                request_id=request_id,
                ns=ns_json(ns),
                label=label,
                agent=agent,
                reason=reason,
            ),
        )

    async def block_agents(self, ns: NamespaceLike, label: str) -> list[str]:
        r = await self.call("block.agents", {"ns": ns_json(ns), "label": label})
        return [str(a) for a in r.get("agents") or []]

    async def agent_blocks(self, tenant: str, agent: str) -> list[Block]:
        r = await self.call("agent.blocks", {"tenant": tenant, "agent": agent})
        return [_block(b) for b in r.get("blocks") or []]

    async def agent_context(self, tenant: str, agent: str) -> AgentContext:
        """Every block attached to ``agent``, read at one snapshot, and their rendering."""
        r = await self.call("agent.context", {"tenant": tenant, "agent": agent})
        return AgentContext(
            blocks=[_block(b) for b in r.get("blocks") or []],
            rendered=r.get("rendered", ""),
            omitted=int(r.get("omitted", 0)),
        )

    # Events --------------------------------------------------------------------------------

    async def subscribe(
        self,
        scope: ScopeLike,
        *,
        from_cursor: str | None = None,
        include_values: bool = False,
        coalesce_ms: int = 0,
    ) -> AsyncSubscription:
        """Every write in ``scope`` from now on (or after ``from_cursor``), as an async iterator.

        ``async for message in subscription:`` yields :class:`~cairn.types.Event` (batches of
        ``coalesce_ms`` are flattened) and, rarely, :class:`~cairn.types.Resync`. The
        subscription survives reconnects: it resumes after the last event it received.
        """
        subscription = AsyncSubscription(self, scope_json(scope), from_cursor, include_values, coalesce_ms)
        self._subscriptions.add(subscription)
        deadline = time.monotonic() + self.retry_timeout
        try:
            # A reconnect in between resubscribes it by itself (it is registered already).
            while subscription.name is None:
                conn = await self._connected()
                if subscription.name is not None:
                    break
                try:
                    await subscription._resubscribe_on(conn)
                except ConnectionLost:
                    if not self.reconnect or time.monotonic() >= deadline:
                        raise
                    await asyncio.sleep(0.05)
        except BaseException:
            subscription._end(None)
            raise
        return subscription

    async def _subscribe_on(self, conn: _Connection, subscription: AsyncSubscription) -> None:
        params: dict[str, Any] = {"scope": subscription.scope}
        if subscription._resume_cursor is not None:
            params["from"] = subscription._resume_cursor
        if subscription.include_values:
            params["include_values"] = True
        if subscription.coalesce_ms:
            params["coalesce_ms"] = subscription.coalesce_ms
        await self._await(conn, conn.send("subscribe", params, lambda r: subscription._attach(conn, r)))


def _block(value: Any) -> Block:
    item = Item.from_json(value)
    if not isinstance(item, Block):
        raise CairnError(f"expected a block, the server sent a {item.kind}", reason="internal_error")
    return item


class AsyncSubscription:
    """An open subscription: an async iterator of :class:`Event` and :class:`Resync`.

    ``cursor`` is the cursor of the last message handed out (or where the subscription
    started): pass it as ``from_cursor`` to ``subscribe`` to resume in another process with no
    gap. ``close()`` (or leaving ``async with``) unsubscribes.
    """

    def __init__(
        self,
        client: AsyncClient,
        scope: dict[str, Any],
        from_cursor: str | None,
        include_values: bool,
        coalesce_ms: int,
    ) -> None:
        self._client = client
        self.scope = scope
        self.include_values = include_values
        self.coalesce_ms = coalesce_ms
        self.cursor: str | None = from_cursor
        self._resume_cursor: str | None = from_cursor
        self.name: str | None = None
        """The server's name of the subscription on the current connection."""
        self._conn: _Connection | None = None
        self._queue: collections.deque[tuple[Event | Resync, int]] = collections.deque()
        self._queued_bytes = 0
        self._paused = False
        self._resuming = False
        self._ended = False
        self._error: BaseException | None = None
        self._ready = asyncio.Event()
        self.pauses = 0
        """How often the consumer fell behind and the subscription was paused and resumed."""

    # Server side ---------------------------------------------------------------------------

    def _wants_server(self) -> bool:
        return not self._ended and not self._paused

    async def _resubscribe_on(self, conn: _Connection) -> None:
        await self._client._subscribe_on(conn, self)

    def _attach(self, conn: _Connection, result: Any) -> None:
        """The ``subscribe`` answer, handled before any later line of that connection."""
        name = result["subscription"]
        if self._ended:
            conn.send_and_forget("unsubscribe", {"subscription": name})
            return
        self.name = name
        self._conn = conn
        conn.subscriptions[name] = self
        if self.cursor is None:
            self.cursor = result.get("cursor")
        if self._resume_cursor is None:
            self._resume_cursor = result.get("cursor")

    def _detached(self, conn: _Connection) -> None:
        if self._conn is conn:
            self._conn = None
            self.name = None

    def _unsubscribe(self) -> None:
        conn, name = self._conn, self.name
        self._conn = None
        self.name = None
        if conn is not None and name is not None:
            conn.subscriptions.pop(name, None)
            conn.send_and_forget("unsubscribe", {"subscription": name})

    def _deliver(self, conn: _Connection, message: Event | Resync, size: int) -> None:
        if self._ended or conn is not self._conn:
            return
        if isinstance(message, Event):
            if self._paused:
                return
            if len(self._queue) >= self._client.max_queued_events or self._queued_bytes + size > self._client.max_queued_bytes:
                # The consumer is too slow: stop the subscription, resume later from the cursor.
                self._paused = True
                self.pauses += 1
                self._unsubscribe()
                return
            self._resume_cursor = message.cursor
        else:
            if message.cursor and message.reason in ("trimmed", "too_slow"):
                self._resume_cursor = message.cursor
            if message.reason == "token_revoked":
                self._unsubscribe()
                self._push(message, size)
                self._end(Unauthenticated("the token was revoked; the subscription ended"))
                return
            if message.reason == "too_slow":
                # The server dropped it; the client subscribes again from the cursor.
                self._conn = None
                self.name = None
                conn.subscriptions.pop(message.subscription, None)
                self._push(message, size)
                self._paused = True
                self._maybe_resume()
                return
        self._push(message, size)

    def _push(self, message: Event | Resync, size: int) -> None:
        self._queue.append((message, size))
        self._queued_bytes += size
        self._ready.set()

    def _maybe_resume(self) -> None:
        if not self._paused or self._resuming or self._ended:
            return
        if len(self._queue) > self._client.max_queued_events // 2 or self._queued_bytes > self._client.max_queued_bytes // 2:
            return
        self._resuming = True
        self._client._spawn(self._resume())

    async def _resume(self) -> None:
        deadline = time.monotonic() + self._client.retry_timeout
        try:
            self._paused = False  # from now on a reconnect resubscribes it too
            while not self._ended and self.name is None:
                conn = await self._client._connected()
                if self._ended or self.name is not None:
                    break
                try:
                    await self._resubscribe_on(conn)
                except ConnectionLost:
                    if time.monotonic() >= deadline:
                        raise
                    await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            raise
        except CairnError as e:
            self._end(e)
        finally:
            self._resuming = False

    def _end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = error
        self._client._subscriptions.discard(self)
        self._ready.set()

    # Consumer side -------------------------------------------------------------------------

    async def get(self, timeout: float | None = None) -> Event | Resync | None:
        """The next message; None once the subscription is closed.

        Raises :class:`~cairn.errors.Timeout` after ``timeout`` seconds without one, and the
        error that ended the subscription (a revoked token, a failed reconnect).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._queue:
                message, size = self._queue.popleft()
                self._queued_bytes -= size
                if message.cursor and (isinstance(message, Event) or message.reason in ("trimmed", "too_slow")):
                    # (The server's token_revoked resync carries the subscription's start
                    # cursor: it must not move the cursor back.)
                    self.cursor = message.cursor
                self._maybe_resume()
                return message
            if self._ended:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                return None
            self._ready.clear()
            if deadline is None:
                await self._ready.wait()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout(f"no event within {timeout} s")
                try:
                    await asyncio.wait_for(self._ready.wait(), remaining)
                except asyncio.TimeoutError:
                    raise Timeout(f"no event within {timeout} s") from None

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Event | Resync:
        message = await self.get()
        if message is None:
            raise StopAsyncIteration
        return message

    @property
    def closed(self) -> bool:
        return self._ended

    @property
    def queued(self) -> int:
        """Messages received and not yet read."""
        return len(self._queue)

    async def close(self) -> None:
        """Unsubscribes; messages already queued can still be read, then iteration ends."""
        if self._ended:
            return
        conn, name = self._conn, self.name
        self._end(None)
        self._conn = None
        self.name = None
        if conn is not None and name is not None and not conn.closed:
            conn.subscriptions.pop(name, None)
            try:
                await self._client._await(conn, conn.send("unsubscribe", {"subscription": name}))
            except CairnError:
                pass

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_NOT_PIPELINED = frozenset({"subscribe", "pipeline", "open", "close", "connect"})


class AsyncPipeline:
    """Calls queued now and sent together, answers in order.

    Any :class:`AsyncClient` method but ``subscribe`` can be queued; each returns the pipeline,
    so calls chain. ``execute()`` sends them all without waiting in between and answers the
    list of results in order; with ``return_exceptions=True`` a failed call's exception takes
    its place, else the first one is raised after all have finished. Not a transaction: each
    call succeeds or fails on its own.
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._calls: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., AsyncPipeline]:
        method = getattr(AsyncClient, name, None)
        if name.startswith("_") or name in _NOT_PIPELINED or not callable(method):
            raise AttributeError(f"{name!r} cannot be pipelined")

        def queue(*args: Any, **kwargs: Any) -> AsyncPipeline:
            self._calls.append((method, args, kwargs))
            return self

        return queue

    def __len__(self) -> int:
        return len(self._calls)

    async def execute(self, *, return_exceptions: bool = False) -> list[Any]:
        calls, self._calls = self._calls, []
        if not calls:
            return []
        await self._client._connected()
        # gather starts the calls in order; each writes its request before waiting.
        results = await asyncio.gather(
            *(method(self._client, *args, **kwargs) for method, args, kwargs in calls), return_exceptions=True
        )
        if not return_exceptions:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        return list(results)
