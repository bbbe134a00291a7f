"""Opening MCP sessions to Cairn with the official MCP Python SDK, over stdio or HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

TRANSPORTS = ["stdio", "http"]


def stdio_parameters(cairn_binary: str, url: str, tenant: str, agent: str, token: str, *extra: str) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "CAIRN_TOKEN": token}
    return StdioServerParameters(
        command=cairn_binary, args=["mcp", "--url", url, "--tenant", tenant, "--agent", agent, *extra], env=env)


def http_url(mcp_url: str, tenant: str, agent: str) -> str:
    return f"{mcp_url}?{urllib.parse.urlencode({'tenant': tenant, 'agent': agent})}"


@contextlib.asynccontextmanager
async def open_session(
    transport: str, cairnd: Any, cairn_binary: str, tenant: str, agent: str, token: str,
    on_updated: Callable[[str], None] | None = None,
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session of `agent`; `on_updated(uri)` hears resources/updated."""

    async def handler(message: Any) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(message.root, types.ResourceUpdatedNotification):
            if on_updated:
                on_updated(str(message.root.params.uri))

    if transport == "stdio":
        streams = stdio_client(stdio_parameters(cairn_binary, cairnd.url, tenant, agent, token))
    else:
        streams = streamablehttp_client(http_url(cairnd.mcp_url, tenant, agent), headers={"Authorization": f"Bearer {token}"})
    async with streams as opened:
        read, write = opened[0], opened[1]
        async with ClientSession(read, write, message_handler=handler) as session:
            await session.initialize()
            yield session


def result_json(result: types.CallToolResult) -> dict[str, Any]:
    """The tool result's structured content, checked to equal its JSON text."""
    text = result.content[0].text
    assert result.structuredContent is not None
    assert json.loads(text) == result.structuredContent or result.isError
    return result.structuredContent


async def call_ok(session: ClientSession, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.isError, result.content[0].text
    return result_json(result)


async def call_error(session: ClientSession, tool: str, arguments: dict[str, Any]) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.isError, f"{tool} should have failed: {result.content}"
    return result.content[0].text


async def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    with anyio.move_on_after(seconds):
        while not predicate():
            await anyio.sleep(0.01)  # polling a condition, with a deadline
        return True
    return predicate()
