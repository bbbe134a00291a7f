"""Cairn's MCP tools loaded into LangChain/LangGraph with langchain-mcp-adapters and called
through LangChain's tool interface (no model involved)."""

from __future__ import annotations

import json
import os

import pytest
from langchain_mcp_adapters.client import MultiServerMCPClient

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def connections(cairnd, cairn_binary, tenant, token, agent):
    return {
        "cairn-stdio": {
            "transport": "stdio", "command": cairn_binary,
            "args": ["mcp", "--url", cairnd.url, "--tenant", tenant, "--agent", agent],
            "env": {"PATH": os.environ.get("PATH", ""), "CAIRN_TOKEN": token},
        },
        "cairn-http": {
            "transport": "streamable_http", "url": f"{cairnd.mcp_url}?tenant={tenant}&agent={agent}",
            "headers": {"Authorization": f"Bearer {token}"},
        },
    }


@pytest.mark.parametrize("server", ["cairn-stdio", "cairn-http"])
async def test_tools_through_langchain(server, cairnd, cairn_binary, tenant, token, wire) -> None:
    wire.call("block.create", {"ns": {"tenant": tenant}, "label": "notes", "value": "start", "agents": ["lc"]})
    client = MultiServerMCPClient({server: connections(cairnd, cairn_binary, tenant, token, "lc")[server]})
    tools = {t.name: t for t in await client.get_tools()}
    assert "memory_insert" in tools and "memory_context" in tools
    assert set(tools["memory_insert"].args) >= {"label", "text", "line"}
    await tools["memory_insert"].ainvoke({"label": "notes", "text": "from langchain"})
    context = await tools["memory_context"].ainvoke({})
    text = context if isinstance(context, str) else json.dumps(context)
    assert "from langchain" in text
    assert wire.call("block.get", {"ns": {"tenant": tenant}, "label": "notes"})["value"] == "start\nfrom langchain"
    # A Cairn error reaches LangChain as a tool error with the reason.
    try:
        out = await tools["memory_replace"].ainvoke({"label": "notes", "old": "absent text", "new": "x"})
        assert "no_match" in (out if isinstance(out, str) else json.dumps(out))
    except Exception as e:  # ToolException, depending on the adapter's error handling
        assert "no_match" in str(e)
