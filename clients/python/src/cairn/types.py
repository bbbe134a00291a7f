"""Plain values of the protocol: namespaces, scopes, items, blocks, history, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Union

__all__ = [
    "ANY",
    "AnyType",
    "Namespace",
    "Scope",
    "NamespaceLike",
    "ScopeLike",
    "Item",
    "Block",
    "PutResult",
    "DeleteResult",
    "EditResult",
    "HistoryEntry",
    "LogEntry",
    "Event",
    "Resync",
    "AuthInfo",
    "CreatedToken",
    "TokenInfo",
    "AgentContext",
    "parse_time",
    "format_time",
]


class AnyType:
    """The type of :data:`ANY`: in a scope, "this component may be anything, or absent"."""

    _instance: AnyType | None = None

    def __new__(cls) -> AnyType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __reduce__(self) -> str:
        return "ANY"


ANY = AnyType()
"""In a :class:`Scope`: match any value of the component, or its absence."""


@dataclass(frozen=True)
class Namespace:
    """Where an item lives: ``tenant`` (required), optional ``task`` and ``role``."""

    tenant: str
    task: str | None = None
    role: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"tenant": self.tenant}
        if self.task is not None:
            out["task"] = self.task
        if self.role is not None:
            out["role"] = self.role
        return out

    @classmethod
    def from_json(cls, value: Any) -> Namespace:
        if not isinstance(value, dict):
            raise ValueError(f"not a namespace: {value!r}")
        return cls(value["tenant"], value.get("task"), value.get("role"))


@dataclass(frozen=True)
class Scope:
    """What ``search``, ``list_namespaces``, ``log``, ``block.list`` and ``subscribe`` look at.

    ``task``/``role``: :data:`ANY` (the default) matches any value or absence, ``None`` matches
    absence only, a string matches exactly. ``tenant`` is always exact.
    """

    tenant: str
    task: str | None | AnyType = ANY
    role: str | None | AnyType = ANY

    def to_json(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {"tenant": self.tenant}
        for name, value in (("task", self.task), ("role", self.role)):
            if value is ANY:
                continue
            out[name] = value  # type: ignore[assignment]
        return out


NamespaceLike = Union[Namespace, Mapping[str, Any]]
"""A :class:`Namespace` or a mapping ``{"tenant": ..., "task"?: ..., "role"?: ...}``."""

ScopeLike = Union[Scope, Namespace, Mapping[str, Any], str]
"""A :class:`Scope`, a mapping as on the wire, a :class:`Namespace` (its absent components
mean "any") or a bare tenant name."""


def ns_json(ns: NamespaceLike) -> dict[str, Any]:
    if isinstance(ns, Namespace):
        return ns.to_json()
    if isinstance(ns, Mapping):
        return dict(ns)
    raise TypeError(f"a namespace must be a cairn.Namespace or a mapping, not {type(ns).__name__}")


def scope_json(scope: ScopeLike) -> dict[str, Any]:
    if isinstance(scope, (Scope, Namespace)):
        return scope.to_json()
    if isinstance(scope, str):
        return {"tenant": scope}
    if isinstance(scope, Mapping):
        return dict(scope)
    raise TypeError(f"a scope must be a cairn.Scope, a mapping or a tenant name, not {type(scope).__name__}")


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp (``2026-11-22T10:00:00.123Z``) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    parsed = datetime.fromisoformat(text)  # Python 3.10 does not take "Z" itself
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_time(value: datetime | str) -> str:
    """A datetime as the protocol writes it: RFC 3339, UTC, milliseconds (naive means UTC)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _opt_time(value: Any) -> datetime | None:
    return parse_time(value) if value is not None else None


@dataclass(frozen=True)
class Item:
    """A stored item (``kind`` is ``"item"``; blocks are :class:`Block`)."""

    ns: Namespace
    key: str
    value: Any
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str = ""
    kind: str = "item"
    agent: str | None = None
    score: float | None = None
    """Relevance, only when the search had a ``query``."""

    @staticmethod
    def from_json(value: Any) -> Item:
        if not isinstance(value, dict):
            raise ValueError(f"not an item: {value!r}")
        common: dict[str, Any] = dict(
            ns=Namespace.from_json(value["ns"]),
            key=value["key"],
            value=value.get("value"),
            version=value["version"],
            created_at=parse_time(value["created_at"]),
            updated_at=parse_time(value["updated_at"]),
            updated_by=value.get("updated_by", ""),
            kind=value.get("kind", "item"),
            agent=value.get("agent"),
            score=value.get("score"),
        )
        if common["kind"] == "block":
            return Block(
                **common,
                label=str(value.get("label") or value["key"]),
                description=value.get("description"),
                limit=value.get("limit", 0),
                read_only=bool(value.get("read_only", False)),
                metadata=value.get("metadata"),
                chars=value.get("chars", len(value.get("value") or "")),
            )
        return Item(**common)


@dataclass(frozen=True)
class Block(Item):
    """A shared memory block: text ``value`` with its properties."""

    label: str = ""
    description: str | None = None
    limit: int = 0
    read_only: bool = False
    metadata: Any = None
    chars: int = 0
    """Length of ``value`` in Unicode code points (what ``limit`` counts)."""


@dataclass(frozen=True)
class PutResult:
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeleteResult:
    version: int
    existed: bool


@dataclass(frozen=True)
class EditResult:
    """The answer of ``block.insert`` and ``block.replace``: the new version and text."""

    version: int
    value: str


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    op: str
    at: datetime
    by: str
    agent: str | None
    reason: str | None
    value: Any

    @staticmethod
    def from_json(v: dict[str, Any]) -> HistoryEntry:
        return HistoryEntry(
            version=v["version"], op=v["op"], at=parse_time(v["at"]), by=v.get("by", ""),
            agent=v.get("agent"), reason=v.get("reason"), value=v.get("value"),
        )


@dataclass(frozen=True)
class LogEntry:
    """One entry of the audit trail (``log``); ``cursor`` can be passed as ``after``."""

    cursor: str
    ns: Namespace
    key: str
    kind: str
    version: int
    op: str
    type: str
    at: datetime
    by: str
    agent: str | None
    reason: str | None

    @staticmethod
    def from_json(v: dict[str, Any]) -> LogEntry:
        return LogEntry(
            cursor=v.get("cursor", ""), ns=Namespace.from_json(v["ns"]), key=v["key"], kind=v.get("kind", "item"),
            version=v["version"], op=v["op"], type=v.get("type", "write"), at=parse_time(v["at"]),
            by=v.get("by", ""), agent=v.get("agent"), reason=v.get("reason"),
        )


_MISSING = object()


@dataclass(frozen=True)
class Event:
    """A committed write in a subscription's scope.

    ``type`` is ``"write"`` or ``"delete"``; ``op`` the method that caused it. ``value`` is
    set only when the subscription has ``include_values`` (``has_value``); for a delete it is
    ``None``.
    """

    cursor: str
    type: str
    op: str
    ns: Namespace
    key: str
    kind: str
    version: int
    at: datetime
    by: str
    agent: str | None = None
    reason: str | None = None
    value: Any = None
    has_value: bool = False
    subscription: str = ""

    @staticmethod
    def from_json(v: dict[str, Any]) -> Event:
        value = v.get("value", _MISSING)
        return Event(
            cursor=v.get("cursor", ""), type=v.get("type", "write"), op=v.get("op", ""),
            ns=Namespace.from_json(v["ns"]), key=v["key"], kind=v.get("kind", "item"), version=v["version"],
            at=parse_time(v["at"]), by=v.get("by", ""), agent=v.get("agent"), reason=v.get("reason"),
            value=None if value is _MISSING else value, has_value=value is not _MISSING,
            subscription=v.get("subscription", ""),
        )


@dataclass(frozen=True)
class Resync:
    """Events may have been missed: re-read what you need.

    ``reason``: ``"trimmed"`` (history was trimmed past the cursor; events go on),
    ``"too_slow"`` (the server dropped the subscription; the client resubscribes from
    ``cursor`` by itself), ``"token_revoked"`` (the subscription ended; the next read raises
    :class:`~cairn.errors.Unauthenticated`).
    """

    reason: str
    message: str
    cursor: str
    scope: dict[str, Any] = field(default_factory=dict)
    subscription: str = ""

    @staticmethod
    def from_json(v: dict[str, Any]) -> Resync:
        return Resync(
            reason=v.get("reason", ""), message=v.get("message", ""), cursor=v.get("cursor", ""),
            scope=dict(v.get("ns") or {}), subscription=v.get("subscription", ""),
        )


@dataclass(frozen=True)
class AuthInfo:
    """Who the connection acts as: ``tenant`` is None for server-wide admin tokens."""

    principal: str
    tenant: str | None
    grants: tuple[str, ...]
    task: str | None = None
    role: str | None = None

    @staticmethod
    def from_json(v: dict[str, Any]) -> AuthInfo:
        scope = v.get("scope") or {}
        return AuthInfo(
            principal=v.get("principal", ""), tenant=v.get("tenant"), grants=tuple(v.get("grants") or ()),
            task=scope.get("task"), role=scope.get("role"),
        )


@dataclass(frozen=True)
class CreatedToken:
    """A freshly minted token: ``token`` is the secret, shown this once."""

    token: str
    token_id: str


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    tenant: str
    principal: str
    grants: tuple[str, ...]
    task: str | None
    role: str | None
    created_at: datetime | None

    @staticmethod
    def from_json(v: dict[str, Any]) -> TokenInfo:
        scope = v.get("scope") or {}
        return TokenInfo(
            token_id=v.get("token_id", ""), tenant=v.get("tenant", ""), principal=v.get("principal", ""),
            grants=tuple(v.get("grants") or ()), task=scope.get("task"), role=scope.get("role"),
            created_at=_opt_time(v.get("created_at")),
        )


@dataclass(frozen=True)
class AgentContext:
    """An agent's attached blocks read at one snapshot, and their prompt-ready rendering.

    ``omitted`` counts attached blocks outside what the token may read.
    """

    blocks: list[Block]
    rendered: str
    omitted: int = 0
