"""Every error reason of the protocol maps to its exception class, with its data."""

from __future__ import annotations

import pytest

import cairn
from cairn import Namespace
from cairn.errors import error_from_wire

# PROTOCOL.md's error table: (code, reason, class).
TABLE = [
    (-32700, "parse_error", cairn.ParseError),
    (-32600, "invalid_request", cairn.InvalidRequest),
    (-32600, "line_too_long", cairn.LineTooLong),
    (-32601, "method_not_found", cairn.MethodNotFound),
    (-32602, "invalid_params", cairn.InvalidParams),
    (-32602, "invalid_namespace", cairn.InvalidNamespace),
    (-32602, "invalid_key", cairn.InvalidKey),
    (-32602, "invalid_value", cairn.InvalidValue),
    (-32602, "value_too_large", cairn.ValueTooLarge),
    (-32602, "invalid_filter", cairn.InvalidFilter),
    (-32602, "invalid_line", cairn.InvalidLine),
    (-32603, "internal_error", cairn.InternalError),
    (4001, "unauthenticated", cairn.Unauthenticated),
    (4003, "forbidden", cairn.Forbidden),
    (4004, "not_found", cairn.NotFound),
    (4009, "version_conflict", cairn.VersionConflict),
    (4009, "label_taken", cairn.LabelTaken),
    (4010, "read_only", cairn.ReadOnly),
    (4011, "limit_exceeded", cairn.LimitExceeded),
    (4012, "no_match", cairn.NoMatch),
    (4013, "ambiguous_match", cairn.AmbiguousMatch),
    (4014, "wrong_kind", cairn.WrongKind),
    (4015, "version_unavailable", cairn.VersionUnavailable),
    (4029, "too_many", cairn.TooMany),
    (5003, "unavailable", cairn.Unavailable),
]


@pytest.mark.parametrize(("code", "reason", "cls"), TABLE)
def test_every_reason_has_its_class(code: int, reason: str, cls: type) -> None:
    error = error_from_wire({"code": code, "message": "words", "data": {"reason": reason, "field": "f", "x": 1}})
    assert type(error) is cls
    assert (error.reason, error.code, error.message, error.field, error.data) == (reason, code, "words", "f", {"field": "f", "x": 1})
    assert cls.reason == reason and cls.code == code
    assert isinstance(error, cairn.CairnError)


def test_reason_specific_fields_and_unknown_reasons() -> None:
    assert error_from_wire({"code": 4009, "message": "m", "data": {"reason": "version_conflict", "current_version": 7}}).current_version == 7
    e = error_from_wire({"code": 4011, "message": "m", "data": {"reason": "limit_exceeded", "limit": 5, "requested": 9}})
    assert (e.limit, e.requested) == (5, 9)
    assert error_from_wire({"code": 5003, "message": "m", "data": {"reason": "unavailable", "retry_after_ms": 100}}).retry_after_ms == 100
    assert error_from_wire({"code": 4013, "message": "m", "data": {"reason": "ambiguous_match", "lines": [2, 4]}}).lines == [2, 4]
    newer = error_from_wire({"code": 4999, "message": "m", "data": {"reason": "brand_new"}})
    assert type(newer) is cairn.CairnError and newer.reason == "brand_new" and newer.code == 4999
    assert isinstance(cairn.InvalidKey("x"), ValueError) and isinstance(cairn.NotFound("x"), LookupError)
    assert isinstance(cairn.ConnectionLost("x"), ConnectionError) and isinstance(cairn.Timeout("x"), TimeoutError)


def test_server_answers_raise_their_classes(client, tenant) -> None:
    ns = Namespace(tenant)
    cases = [
        (cairn.InvalidNamespace, "ns.tenant", lambda: client.get({"tenant": ""}, "k")),
        (cairn.InvalidNamespace, "ns.task", lambda: client.get({"tenant": tenant, "task": "a\x01"}, "k")),
        (cairn.InvalidKey, "key", lambda: client.get(ns, "")),
        (cairn.InvalidKey, "key", lambda: client.put(ns, "x" * 513, 1)),
        (cairn.InvalidValue, "value", lambda: client.put(ns, "k", None)),
        (cairn.ValueTooLarge, None, lambda: client.put(ns, "k", "x" * 300_000)),
        (cairn.InvalidFilter, "filter", lambda: client.search(tenant, filter={"a": {"$regex": "x"}})),
        (cairn.InvalidParams, "limit", lambda: client.call("search", {"scope": {"tenant": tenant}, "limit": "ten"})),
        (cairn.InvalidParams, "query", lambda: client.search(tenant, query="!!!")),
        (cairn.MethodNotFound, None, lambda: client.call("no.such.method")),
        (cairn.NotFound, None, lambda: client.call("unsubscribe", {"subscription": "s999"})),
    ]
    for cls, field, call in cases:
        with pytest.raises(cls) as e:
            call()
        assert type(e.value) is cls, (cls, e.value)
        if field is not None:
            assert e.value.field == field
    assert client.ping()  # none of those hurt the connection


def test_version_unavailable_past_kept_history(server, tmp_path, tenant) -> None:
    from conftest import start_cairnd

    small = start_cairnd(tmp_path, "--history-limit", "3")
    try:
        with cairn.Client(small.url, token=small.admin_token) as c:
            ns = Namespace(tenant)
            p = c.pipeline()
            for i in range(6):
                p.put(ns, "k", {"i": i})
            assert [r.version for r in p.execute()] == [1, 2, 3, 4, 5, 6]
            assert c.get(ns, "k", version=4).value == {"i": 3}
            with pytest.raises(cairn.VersionUnavailable) as e:
                c.get(ns, "k", version=1)
            assert e.value.code == 4015
    finally:
        small.stop()


def test_line_too_long_is_refused_before_sending(client, tenant) -> None:
    limit = client.hello["max_line_bytes"]
    with pytest.raises(cairn.LineTooLong) as e:
        client.put(Namespace(tenant), "big", "x" * (limit + 10))
    assert e.value.data["limit"] == limit
    assert client.ping()  # the connection was not closed: nothing was sent
    assert client.get(Namespace(tenant), "big") is None


def test_too_many_subscriptions_on_one_connection(client, tenant) -> None:
    opened = []
    with pytest.raises(cairn.TooMany) as e:
        for _ in range(1000):
            opened.append(client.subscribe(tenant))
    assert e.value.limit == len(opened) and e.value.code == 4029
    opened.pop().close()
    opened.append(client.subscribe(tenant))  # room again after one unsubscribed


def test_unavailable_when_redis_is_down(tmp_path) -> None:
    from conftest import refusing_port, start_cairnd

    with refusing_port() as redis_port:
        dead = start_cairnd(tmp_path, redis_url=f"redis://127.0.0.1:{redis_port}")
        try:
            with cairn.Client(dead.url, token=dead.admin_token, retry_timeout=1) as c:
                with pytest.raises(cairn.Unavailable) as e:
                    c.put(Namespace("acme"), "k", 1)
                assert e.value.code == 5003 and (e.value.retry_after_ms or 0) > 0
        finally:
            dead.stop()


def test_overlong_line_from_the_server_closes_only_that_connection(server, token, tenant) -> None:
    with cairn.Client(server.url, token=token, max_line_bytes=2048) as c:
        c.put(Namespace(tenant), "big", "x" * 4000)  # the request may be long; answers are short
        with pytest.raises(cairn.LineTooLong) as e:
            c.get(Namespace(tenant), "big")  # this answer is longer than the client accepts
        assert e.value.data["limit"] == 2048
        assert c.get(Namespace(tenant), "missing") is None  # a new connection serves the next call
        assert c.aclient.connections_opened == 2
