"""The blocking and the async client offer the same methods with the same parameters."""

from __future__ import annotations

import inspect

import cairn
from cairn.types import Scope, format_time, parse_time


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_") and name not in {"connect", "open", "close", "pipeline"}
    }


def test_client_mirrors_async_client() -> None:
    sync, asynchronous = public_methods(cairn.Client), public_methods(cairn.AsyncClient)
    assert set(sync) == set(asynchronous)
    for name, signature in asynchronous.items():
        assert list(sync[name].parameters) == list(signature.parameters), name
        for p, q in zip(sync[name].parameters.values(), signature.parameters.values()):
            assert (p.kind, p.default) == (q.kind, q.default), (name, p.name)
    # Every method of the protocol has its client method.
    protocol = {
        "put", "get", "delete", "search", "list_namespaces", "history", "log", "block.create", "block.get",
        "block.update", "block.insert", "block.replace", "block.rethink", "block.delete", "block.list",
        "block.attach", "block.detach", "block.agents", "agent.blocks", "agent.context", "subscribe", "auth",
        "ping", "token.create", "token.revoke", "token.list",
    }
    assert {m.replace(".", "_") for m in protocol} <= set(sync)


def test_time_round_trip() -> None:
    t = parse_time("2026-11-22T10:00:00.123Z")
    assert (t.year, t.microsecond, t.utcoffset().total_seconds()) == (2026, 123000, 0)
    assert format_time(t) == "2026-11-22T10:00:00.123Z"
    assert Scope("acme", role="r").to_json() == {"tenant": "acme", "role": "r"}
