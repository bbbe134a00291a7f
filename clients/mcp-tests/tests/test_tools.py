"""Cairn's MCP tools through the official MCP Python SDK, over stdio (`cairn mcp`) and
Streamable HTTP (`cairnd --mcp-listen`), against a real cairnd and redis-server."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import httpx
import pytest

from sessions import TRANSPORTS, call_error, call_ok, open_session, result_json, wait_until

pytestmark = pytest.mark.anyio

TOOLS = {
    "memory_context", "memory_insert", "memory_replace", "memory_rethink", "memory_create_block",
    "memory_put", "memory_get", "memory_search", "memory_history",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shared_block(wire: Any, tenant: str, label: str, agents: list[str], value: str = "", **extra: Any) -> dict[str, Any]:
    return wire.call("block.create", {"ns": {"tenant": tenant}, "label": label, "value": value, "agents": agents, **extra})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tool_list_and_schemas(transport: str, cairnd, cairn_binary, tenant, token) -> None:
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token) as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert tool.inputSchema["type"] == "object"
            assert tool.inputSchema.get("additionalProperties") is False
            assert len(tool.description or "") > 40
        assert set(tools["memory_insert"].inputSchema["required"]) == {"label", "text"}
        assert set(tools["memory_replace"].inputSchema["required"]) == {"label", "old", "new"}
        assert "if_version" in tools["memory_rethink"].inputSchema["properties"]
        assert "no_match" in tools["memory_replace"].description
        assert tools["memory_context"].annotations.readOnlyHint is True


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_concurrent_inserts_from_two_agents_all_land(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    shared_block(wire, tenant, "findings", ["a1", "a2"], limit=100_000)
    per_agent = 15

    async def agent(name: str) -> None:
        async with open_session(transport, cairnd, cairn_binary, tenant, name, token) as s:
            async with anyio.create_task_group() as tg:
                for i in range(per_agent):
                    tg.start_soon(call_ok, s, "memory_insert", {"label": "findings", "text": f"{name} finding {i}"})

    async with anyio.create_task_group() as tg:
        tg.start_soon(agent, "a1")
        tg.start_soon(agent, "a2")
    block = wire.call("block.get", {"ns": {"tenant": tenant}, "label": "findings"})
    lines = block["value"].split("\n")
    expected = {f"{a} finding {i}" for a in ("a1", "a2") for i in range(per_agent)}
    assert sorted(lines) == sorted(expected)
    assert block["version"] == 1 + 2 * per_agent
    history = wire.call("history", {"ns": {"tenant": tenant}, "key": "findings", "limit": 100})["entries"]
    assert {e.get("agent") for e in history if e["op"] == "insert"} == {"a1", "a2"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_replace_of_text_that_changed_fails_with_no_match(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    shared_block(wire, tenant, "plan", ["a1", "a2"], value="status: draft")
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token) as s:
        context = await call_ok(s, "memory_context", {})
        assert "status: draft" in context["rendered"]
        # Another agent changes the text the first one read.
        wire.call("block.replace", {"ns": {"tenant": tenant}, "label": "plan", "old": "draft", "new": "review", "agent": "a2"})
        text = await call_error(s, "memory_replace", {"label": "plan", "old": "status: draft", "new": "status: done"})
        assert text.startswith("no_match:")
        assert "read the block again" in text
        assert wire.call("block.get", {"ns": {"tenant": tenant}, "label": "plan"})["value"] == "status: review"
        ok = await call_ok(s, "memory_replace", {"label": "plan", "old": "status: review", "new": "status: done"})
        assert ok["value"] == "status: done"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_stale_if_version_rethink_fails_with_version_conflict(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    created = shared_block(wire, tenant, "summary", ["a1", "a2"], value="v1 text")
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token) as s:
        read_version = created["version"]
        wire.call("block.insert", {"ns": {"tenant": tenant}, "label": "summary", "text": "a2 adds this", "agent": "a2"})
        result = await s.call_tool("memory_rethink", {"label": "summary", "value": "rewritten", "if_version": read_version})
        assert result.isError
        assert result.content[0].text.startswith("version_conflict:")
        assert result.structuredContent["error"]["data"]["current_version"] == read_version + 1
        # Shared, so a rethink without if_version is refused rather than last-writer-wins.
        text = await call_error(s, "memory_rethink", {"label": "summary", "value": "rewritten"})
        assert text.startswith("invalid_params:") and "if_version" in text
        assert "a2 adds this" in wire.call("block.get", {"ns": {"tenant": tenant}, "label": "summary"})["value"]
        ok = await call_ok(s, "memory_rethink", {"label": "summary", "value": "rewritten", "if_version": read_version + 1})
        assert ok["version"] == read_version + 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_read_only_blocks_refuse_edits(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    shared_block(wire, tenant, "rules", ["a1"], value="be kind", read_only=True)
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token) as s:
        for tool, args in [
            ("memory_insert", {"label": "rules", "text": "be fast"}),
            ("memory_replace", {"label": "rules", "old": "kind", "new": "mean"}),
            ("memory_rethink", {"label": "rules", "value": "anything"}),
        ]:
            text = await call_error(s, tool, args)
            assert text.startswith("read_only:"), text
    assert wire.call("block.get", {"ns": {"tenant": tenant}, "label": "rules"})["value"] == "be kind"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_resource_update_arrives_within_a_second_of_a_wire_write(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    shared_block(wire, tenant, "notes", ["a1", "a2"], value="first")
    heard: list[tuple[str, float]] = []
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token,
                            on_updated=lambda uri: heard.append((uri, time.monotonic()))) as s:
        resources = (await s.list_resources()).resources
        uris = [str(r.uri) for r in resources]
        assert uris == [f"cairn://{tenant}///blocks/notes"]
        contents = (await s.read_resource(uris[0])).contents
        assert contents[0].text == "first"
        await s.subscribe_resource(uris[0])
        written = time.monotonic()
        wire.call("block.insert", {"ns": {"tenant": tenant}, "label": "notes", "text": "second", "agent": "a2"})
        assert await wait_until(lambda: len(heard) >= 1, 1.0), "no notifications/resources/updated within a second"
        assert heard[0][0] == uris[0]
        assert heard[0][1] - written < 1.0
        assert (await s.read_resource(uris[0])).contents[0].text == "first\nsecond"
        # A block the agent does not hold is not a resource of it, and cannot be subscribed.
        wire.call("block.create", {"ns": {"tenant": tenant}, "label": "other", "value": "x"})
        with pytest.raises(Exception) as e:
            await s.subscribe_resource(f"cairn://{tenant}///blocks/other")
        assert "not_found" in str(e.value)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_create_block_put_get_search_history(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token) as s:
        created = await call_ok(s, "memory_create_block", {"label": "scratch", "value": "one", "description": "my notes"})
        assert created["version"] == 1
        assert wire.call("agent.blocks", {"tenant": tenant, "agent": "a1"})["blocks"][0]["label"] == "scratch"
        assert (await call_error(s, "memory_create_block", {"label": "scratch"})).split(":")[0] in {"label_taken", "version_conflict"}
        put = await call_ok(s, "memory_put", {"key": "k", "value": {"status": "open", "n": 3}})
        assert put["version"] == 1
        assert (await call_error(s, "memory_put", {"key": "k", "value": 1, "if_version": 0})).startswith("version_conflict:")
        got = await call_ok(s, "memory_get", {"key": "k"})
        assert got["item"]["value"] == {"status": "open", "n": 3} and got["item"]["agent"] == "a1"
        assert (await call_ok(s, "memory_get", {"key": "absent"}))["item"] is None
        await call_ok(s, "memory_put", {"key": "k", "value": "elsewhere", "task": "t9"})
        assert wire.call("get", {"ns": {"tenant": tenant, "task": "t9"}, "key": "k"})["value"] == "elsewhere"
        found = await call_ok(s, "memory_search", {"filter": {"status": "open"}})
        assert [i["key"] for i in found["items"]] == ["k"]
        history = await call_ok(s, "memory_history", {"label": "scratch"})
        assert [e["op"] for e in history["entries"]] == ["create"]
        assert (await call_error(s, "memory_history", {"label": "scratch", "key": "k"})).startswith("invalid_params:")
        text = await call_error(s, "memory_insert", {"label": "scratch", "text": "x", "ifversion": 1})
        assert text.startswith("invalid_params:") and "ifversion" in text
        assert (await call_error(s, "memory_insert", {"label": "nope", "text": "x"})).startswith("not_found:")


async def test_bad_token_fails_clearly_over_stdio(cairnd, cairn_binary, tenant) -> None:
    process = await anyio.run_process(
        [cairn_binary, "mcp", "--url", cairnd.url, "--tenant", tenant, "--agent", "a1"],
        env={"CAIRN_TOKEN": "not-a-token"}, check=False)
    assert process.returncode == 6
    assert b"unauthenticated" in process.stderr


async def test_bad_token_fails_clearly_over_http(cairnd, tenant) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{cairnd.mcp_url}?agent=a1&tenant={tenant}", json=body, headers={**headers, "Authorization": "Bearer nope"})
        assert r.status_code == 401
        assert "unauthenticated" in r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = await http.post(f"{cairnd.mcp_url}?agent=a1", json=body, headers=headers)
        assert r.status_code == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_revoked_token_fails_clearly(transport, cairnd, cairn_binary, tenant, admin) -> None:
    created = admin.token_create(tenant, "doomed", ["read", "write"])
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", created.token) as s:
        await call_ok(s, "memory_put", {"key": "k", "value": 1})
        admin.token_revoke(created.token_id)
        text = await call_error(s, "memory_put", {"key": "k", "value": 2})
        assert text.startswith("unauthenticated:")
    if transport == "http":
        with pytest.raises(Exception):
            async with open_session(transport, cairnd, cairn_binary, tenant, "a1", created.token):
                pass


async def test_http_limits_body_size(cairnd, tenant, token) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(cairnd.mcp_url, content=b"x" * (2 << 20), headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        assert r.status_code == 413


async def test_notifications_resume_from_the_last_cursor_after_a_reconnect(cairnd, cairn_binary, tenant, token, wire) -> None:
    """A write made while the session's change feed is disconnected is still announced."""
    from breaker import Breaker

    shared_block(wire, tenant, "notes", ["a1", "a2"], value="first")
    breaker = Breaker(cairnd.port)
    heard: list[str] = []
    try:
        async with open_session("stdio", type("Via", (), {"url": breaker.url})(), cairn_binary, tenant, "a1", token,
                                on_updated=heard.append) as s:
            uri = f"cairn://{tenant}///blocks/notes"
            await s.subscribe_resource(uri)
            wire.call("block.insert", {"ns": {"tenant": tenant}, "label": "notes", "text": "before", "agent": "a2"})
            assert await wait_until(lambda: len(heard) == 1, 2.0)
            breaker.cut()
            # Written while the feed is away: only resuming from the cursor can announce it.
            wire.call("block.insert", {"ns": {"tenant": tenant}, "label": "notes", "text": "during", "agent": "a2"})
            await anyio.sleep(0.3)  # keep the feed away across at least one failed reconnect attempt
            assert len(heard) == 1
            accepted = breaker.accepted
            breaker.restore()
            assert await wait_until(lambda: len(heard) >= 2, 10.0), "the write during the outage was never announced"
            assert breaker.accepted > accepted
            assert heard[1] == uri
            # And the tools work again on a fresh connection.
            context = await call_ok(s, "memory_context", {})
            assert "during" in context["rendered"]
    finally:
        breaker.close()


async def test_cairn_mcp_listen_serves_http_in_front_of_any_cairnd(cairnd, cairn_binary, tenant, token, wire) -> None:
    """`cairn mcp --listen`: the listener's --tenant is the default; each session names its agent."""
    import subprocess

    from conftest import _http_listens, _stop, _wait, free_port
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    shared_block(wire, tenant, "notes", ["lst"], value="x")
    for _ in range(5):
        port = free_port()
        process = subprocess.Popen(
            [cairn_binary, "mcp", "--url", cairnd.url, "--tenant", tenant, "--listen", f"127.0.0.1:{port}", "--max-sessions", "2"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait(lambda: _http_listens(port), 20, process):
            break
        _stop(process)
    else:
        pytest.fail("cairn mcp --listen did not start")
    try:
        async with streamablehttp_client(f"http://127.0.0.1:{port}/mcp?agent=lst", headers={"Authorization": f"Bearer {token}"}) as (r, w, _):
            async with ClientSession(r, w) as s:
                await s.initialize()
                out = await call_ok(s, "memory_insert", {"label": "notes", "text": "over http"})
                assert out["value"] == "x\nover http"
        async with httpx.AsyncClient() as http:
            r = await http.post(f"http://127.0.0.1:{port}/elsewhere", content=b"{}")
            assert r.status_code == 404
    finally:
        _stop(process)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_blocks_in_several_namespaces_subscribed_at_once_are_all_announced(transport, cairnd, cairn_binary, tenant, token, wire) -> None:
    wire.call("block.create", {"ns": {"tenant": tenant}, "label": "team", "agents": ["a1"]})
    wire.call("block.create", {"ns": {"tenant": tenant, "task": "t/1", "role": "r é"}, "label": "mine", "agents": ["a1"]})
    heard: set[str] = set()
    async with open_session(transport, cairnd, cairn_binary, tenant, "a1", token, on_updated=heard.add) as s:
        uris = sorted(str(r.uri) for r in (await s.list_resources()).resources)
        assert uris == sorted([f"cairn://{tenant}///blocks/team", f"cairn://{tenant}/t%2F1/r%20%C3%A9/blocks/mine"])
        async with anyio.create_task_group() as tg:
            for uri in uris:
                tg.start_soon(s.subscribe_resource, uri)
        wire.call("block.insert", {"ns": {"tenant": tenant}, "label": "team", "text": "x"})
        wire.call("block.insert", {"ns": {"tenant": tenant, "task": "t/1", "role": "r é"}, "label": "mine", "text": "y"})
        assert await wait_until(lambda: heard == set(uris), 1.0), heard
