"""The README's examples, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cairn
from cairn import Namespace

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_two_agents_in_two_processes_share_a_block(server, token, client, tenant) -> None:
    env = dict(os.environ, CAIRN_URL=server.url, CAIRN_TOKEN=token)
    script = str(EXAMPLES / "two_agents.py")
    writer = subprocess.Popen([sys.executable, script, "writer"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"  # subscribed: the researcher may start
        researcher = subprocess.run([sys.executable, script, "researcher"], env=env, capture_output=True, text=True, timeout=60)
        assert researcher.returncode == 0, researcher.stderr
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert "drafted 3 points" in out
    assert '<block label="findings"' in out and "tea has less caffeine" in out
    draft = client.get(Namespace(tenant, "task-42"), "draft")
    assert draft is not None and draft.value["points"][1] == "tea has less caffeine" and draft.agent == "writer"
    block = client.block_get(Namespace(tenant, "task-42"), "findings")
    assert block.version == 5 and sorted(client.block_agents(Namespace(tenant, "task-42"), "findings")) == ["researcher", "writer"]
    assert [h.agent for h in client.history(Namespace(tenant, "task-42"), "findings")][:4] == ["researcher"] * 4


def test_langgraph_graph_with_cairn_store(server, token, tenant, monkeypatch) -> None:
    pytest.importorskip("langgraph.graph")
    monkeypatch.setenv("CAIRN_TENANT", tenant)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import importlib

    example = importlib.reload(importlib.import_module("langgraph_memory"))
    from cairn.langgraph import CairnStore

    # Two graphs with two stores (two processes, in effect) share the user's memories.
    with CairnStore(server.url, token=token) as first, CairnStore(server.url, token=token) as second:
        one = example.build(first).invoke({"user": "u-1", "message": "prefers tea", "memories": []})
        assert one["memories"] == ["prefers tea"]
        two = example.build(second).invoke({"user": "u-1", "message": "dislikes rain", "memories": []})
        assert two["memories"] == ["dislikes rain", "prefers tea"]
        other = example.build(second).invoke({"user": "u-2", "message": "hi", "memories": []})
        assert other["memories"] == ["hi"]
        assert first.list_namespaces() == [(tenant, "u-1"), (tenant, "u-2")]

        async def run_async() -> dict:
            return await example.build(first).ainvoke({"user": "u-1", "message": "async works", "memories": []})

        import asyncio

        assert asyncio.run(run_async())["memories"] == ["async works", "dislikes rain", "prefers tea"]

    # And the script itself, as the README runs it.
    env = dict(os.environ, CAIRN_URL=server.url, CAIRN_TOKEN=token, CAIRN_TENANT=tenant)
    outputs = []
    for words in (["likes", "jazz"], ["likes", "blues"]):  # two processes, one after the other
        done = subprocess.run([sys.executable, str(EXAMPLES / "langgraph_memory.py"), *words], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs == ["['likes jazz']", "['likes blues', 'likes jazz']"]
