"""The README's examples, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cairn
from cairn import Namespace

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


PYTHON_DIR = EXAMPLES.parent


def run_two_agents(server_url: str, token: str, *, researcher_first: bool = False) -> tuple[str, str]:
    """Runs the two processes as the README does, from clients/python:

        python examples/two_agents.py writer &
        python examples/two_agents.py researcher

    (with `researcher_first`, the researcher has finished before the writer starts, as when
    the background writer is slow to start). Returns both outputs; fails, instead of hanging,
    if either still runs after its deadline."""
    env = dict(os.environ, CAIRN_URL=server_url, CAIRN_TOKEN=token)
    command = [sys.executable, "examples/two_agents.py"]

    def researcher() -> str:
        done = subprocess.run([*command, "researcher"], cwd=PYTHON_DIR, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = researcher() if researcher_first else None
    writer = subprocess.Popen([*command, "writer"], cwd=PYTHON_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        second = first if first is not None else researcher()
        try:
            out, err = writer.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            writer.kill()
            out, err = writer.communicate()
            pytest.fail(f"the writer still waited 30 s after the researcher finished (it missed DONE); its output:\n{out}{err}")
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, err
    return out, second


def test_two_agents_in_two_processes_share_a_block(server, token, client, tenant) -> None:
    out, _ = run_two_agents(server.url, token)
    assert "drafted 3 points" in out
    assert '<block label="findings"' in out and "tea has less caffeine" in out
    draft = client.get(Namespace(tenant, "task-42"), "draft")
    assert draft is not None and draft.value["points"][1] == "tea has less caffeine" and draft.agent == "writer"
    block = client.block_get(Namespace(tenant, "task-42"), "findings")
    assert block.version == 5 and sorted(client.block_agents(Namespace(tenant, "task-42"), "findings")) == ["researcher", "writer"]
    assert [h.agent for h in client.history(Namespace(tenant, "task-42"), "findings")][:4] == ["researcher"] * 4


def test_two_agents_writer_finishes_when_the_researcher_was_first(server, mint) -> None:
    # The order that used to hang: every finding (and DONE) written before the writer subscribed.
    out, _ = run_two_agents(server.url, mint(tenant=f"t-{os.urandom(6).hex()}").token, researcher_first=True)
    assert "drafted 3 points" in out


def test_two_agents_as_documented_several_times(server, mint) -> None:
    # Started together, whichever gets going first: the race the README's two lines leave open.
    for _ in range(5):
        out, _ = run_two_agents(server.url, mint(tenant=f"t-{os.urandom(6).hex()}").token)
        assert "drafted 3 points" in out


def test_the_langgraph_extra_installs_what_the_example_imports() -> None:
    # README: pip install "./clients/python[langgraph]", then run examples/langgraph_memory.py.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extra = tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text())["project"]["optional-dependencies"]["langgraph"]
    names = {requirement.split(">")[0].split("=")[0].split("[")[0].strip() for requirement in extra}
    source = (EXAMPLES / "langgraph_memory.py").read_text()
    assert "from langgraph.graph import" in source and "from langgraph.store.base import" in source
    assert {"langgraph", "langgraph-checkpoint"} <= names, extra


def test_langgraph_graph_with_cairn_store(server, token, tenant, monkeypatch) -> None:
    # No skip: the test dependencies install langgraph, as the langgraph extra does.
    import langgraph.graph  # noqa: F401
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
