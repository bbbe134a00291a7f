"""Exceptions mirroring the protocol's error reasons (PROTOCOL.md, "Errors").

Every error the server answers becomes an instance of the class registered for its
``error.data.reason``; the fields of ``error.data`` are on ``.data`` and, for the reasons that
carry them, on named attributes (``VersionConflict.current_version``, ``LimitExceeded.limit``,
``Unavailable.retry_after_ms``, ...). An unknown reason (a newer server) becomes a plain
:class:`CairnError` with that ``reason``.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "CairnError",
    "ProtocolError",
    "ParseError",
    "InvalidRequest",
    "LineTooLong",
    "MethodNotFound",
    "InvalidParams",
    "InvalidNamespace",
    "InvalidKey",
    "InvalidValue",
    "ValueTooLarge",
    "InvalidFilter",
    "InvalidLine",
    "InternalError",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "VersionConflict",
    "LabelTaken",
    "ReadOnly",
    "LimitExceeded",
    "NoMatch",
    "AmbiguousMatch",
    "WrongKind",
    "VersionUnavailable",
    "TooMany",
    "Unavailable",
    "ConnectionFailed",
    "ConnectionLost",
    "Timeout",
    "error_from_wire",
]


class CairnError(Exception):
    """Base class of every error this package raises for the server or the connection.

    ``reason`` is the protocol's stable, machine-readable name, ``code`` the JSON-RPC code,
    ``message`` the server's explanation for people, ``data`` the rest of ``error.data``.
    """

    reason: str = "error"
    code: int = 0

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        code: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code
        self.data: dict[str, Any] = dict(data or {})

    @property
    def field(self) -> str | None:
        """``data.field``: the parameter that broke a rule, when the server named one."""
        value = self.data.get("field")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r}, data={self.data!r})"


# Protocol faults (-326xx) ---------------------------------------------------------------


class ProtocolError(CairnError):
    """A JSON-RPC level fault: the request was malformed or named no known method."""


class ParseError(ProtocolError):
    reason = "parse_error"
    code = -32700


class InvalidRequest(ProtocolError):
    reason = "invalid_request"
    code = -32600


class LineTooLong(InvalidRequest):
    """A line was longer than allowed.

    Raised before sending when a request would exceed the server's ``max_line_bytes`` (nothing
    is sent, the connection stays usable), and when a line from the server exceeds the client's
    own ``max_line_bytes`` (that connection is closed).
    """

    reason = "line_too_long"
    code = -32600


class MethodNotFound(ProtocolError):
    reason = "method_not_found"
    code = -32601


class InvalidParams(CairnError, ValueError):
    """A parameter is missing, of the wrong type, or breaks a rule (``field`` names it)."""

    reason = "invalid_params"
    code = -32602


class InvalidNamespace(InvalidParams):
    reason = "invalid_namespace"


class InvalidKey(InvalidParams):
    reason = "invalid_key"


class InvalidValue(InvalidParams):
    reason = "invalid_value"


class ValueTooLarge(InvalidParams):
    reason = "value_too_large"


class InvalidFilter(InvalidParams):
    reason = "invalid_filter"


class InvalidLine(InvalidParams):
    reason = "invalid_line"


class InternalError(CairnError):
    reason = "internal_error"
    code = -32603


# Application errors ---------------------------------------------------------------------


class Unauthenticated(CairnError):
    """No ``auth`` yet, or a bad or revoked token."""

    reason = "unauthenticated"
    code = 4001


class Forbidden(CairnError):
    """The token may not touch this tenant / task / role, or lacks the grant."""

    reason = "forbidden"
    code = 4003


class NotFound(CairnError, LookupError):
    """The item, block, agent or subscription does not exist."""

    reason = "not_found"
    code = 4004


class Conflict(CairnError):
    """Code 4009: the write conflicts with what is stored."""

    code = 4009


class VersionConflict(Conflict):
    """``if_version`` did not match; ``current_version`` is the stored version (0 if absent)."""

    reason = "version_conflict"

    @property
    def current_version(self) -> int | None:
        value = self.data.get("current_version")
        return value if isinstance(value, int) else None


class LabelTaken(Conflict):
    """A block with that label is already attached to that agent (or already exists)."""

    reason = "label_taken"


class ReadOnly(CairnError):
    reason = "read_only"
    code = 4010


class LimitExceeded(CairnError):
    """A block edit would pass the block's character limit."""

    reason = "limit_exceeded"
    code = 4011

    @property
    def limit(self) -> int | None:
        value = self.data.get("limit")
        return value if isinstance(value, int) else None

    @property
    def requested(self) -> int | None:
        value = self.data.get("requested")
        return value if isinstance(value, int) else None


class NoMatch(CairnError):
    """``block.replace``: the old text does not occur in the current value."""

    reason = "no_match"
    code = 4012


class AmbiguousMatch(CairnError):
    """``block.replace``: the old text occurs more than once (``lines``, 1-based)."""

    reason = "ambiguous_match"
    code = 4013

    @property
    def lines(self) -> list[int]:
        value = self.data.get("lines")
        return [v for v in value if isinstance(v, int)] if isinstance(value, list) else []


class WrongKind(CairnError):
    """A plain ``put`` on a block, or a block method on a plain item."""

    reason = "wrong_kind"
    code = 4014


class VersionUnavailable(CairnError):
    """The asked-for version is older than the history kept."""

    reason = "version_unavailable"
    code = 4015


class TooMany(CairnError):
    """A per-connection or server limit (subscriptions, connections, pending bytes)."""

    reason = "too_many"
    code = 4029

    @property
    def limit(self) -> int | None:
        value = self.data.get("limit")
        return value if isinstance(value, int) else None


class Unavailable(CairnError):
    """The backing Redis is unreachable; nothing was written; retry after ``retry_after_ms``."""

    reason = "unavailable"
    code = 5003

    @property
    def retry_after_ms(self) -> int | None:
        value = self.data.get("retry_after_ms")
        return value if isinstance(value, int) else None


class OutcomeUnknown(CairnError):
    """The write reached Redis but no answer came back: it **may or may not** have been applied.

    Re-read before writing again, or send the same write again with the same ``request_id``
    (the clients do that by themselves): a replay answers the first result and writes nothing.
    """

    reason = "outcome_unknown"
    code = 5004

    @property
    def retry_after_ms(self) -> int | None:
        value = self.data.get("retry_after_ms")
        return value if isinstance(value, int) else None


# Client side only -----------------------------------------------------------------------


class ConnectionFailed(CairnError, ConnectionError):
    """The connection to the server could not be made, or is gone and could not be re-made.

    Nothing of the request that raised it was sent.
    """

    reason = "connection_failed"
    code = -32000


class ConnectionLost(ConnectionFailed):
    """The connection broke after the request was sent and before its answer came.

    For a write this means it **may or may not** have been applied: read the item (its version
    tells) before retrying a write without ``if_version``. Idempotent reads are retried on a new
    connection by the client and do not raise this unless reconnecting fails.
    """


class Timeout(CairnError, TimeoutError):
    """No answer (or no event) within the time allowed. For a write: it may have been applied."""

    reason = "timeout"
    code = -32001


_BY_REASON: dict[str, type[CairnError]] = {
    cls.reason: cls
    for cls in (
        ParseError,
        InvalidRequest,
        LineTooLong,
        MethodNotFound,
        InvalidParams,
        InvalidNamespace,
        InvalidKey,
        InvalidValue,
        ValueTooLarge,
        InvalidFilter,
        InvalidLine,
        InternalError,
        Unauthenticated,
        Forbidden,
        NotFound,
        VersionConflict,
        LabelTaken,
        ReadOnly,
        LimitExceeded,
        NoMatch,
        AmbiguousMatch,
        WrongKind,
        VersionUnavailable,
        TooMany,
        Unavailable,
        OutcomeUnknown,
    )
}


def error_from_wire(error: Any) -> CairnError:
    """The exception for a JSON-RPC ``error`` object."""
    if not isinstance(error, dict):
        return InternalError(f"the server sent a malformed error: {error!r}")
    raw = error.get("data")
    data: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    reason = data.pop("reason", None)
    message = error.get("message")
    if not isinstance(message, str):
        message = str(message)
    code = error.get("code")
    code = code if isinstance(code, int) else None
    cls = _BY_REASON.get(reason) if isinstance(reason, str) else None
    if cls is not None:
        return cls(message, code=code, data=data)
    return CairnError(message, reason=reason if isinstance(reason, str) else "error", code=code, data=data)
