"""Shared memory blocks through the client: every block method and its errors."""

from __future__ import annotations

import pytest

import cairn
from cairn import Namespace


def test_block_lifecycle(client, tenant) -> None:
    ns = Namespace(tenant, "t")
    block = client.block_create(ns, "plan", "step 1", description="the plan", limit=100, metadata={"owner": "a"}, agents=["a1"])
    assert isinstance(block, cairn.Block)
    assert (block.label, block.key, block.kind, block.value, block.version) == ("plan", "plan", "block", "step 1", 1)
    assert (block.description, block.limit, block.read_only, block.metadata, block.chars) == ("the plan", 100, False, {"owner": "a"}, 6)

    inserted = client.block_insert(ns, "plan", "step 2", reason="more", agent="a1")
    assert inserted == cairn.EditResult(version=2, value="step 1\nstep 2")
    assert client.block_insert(ns, "plan", "step 0", line=0).value == "step 0\nstep 1\nstep 2"
    assert client.block_insert(ns, "plan", "step 1.5", line=2).value == "step 0\nstep 1\nstep 1.5\nstep 2"
    replaced = client.block_replace(ns, "plan", "step 1.5\n", "")
    assert replaced.version == 5 and replaced.value == "step 0\nstep 1\nstep 2"
    assert client.block_rethink(ns, "plan", "rewritten") == 6
    assert client.block_update(ns, "plan", description="new words", metadata={"owner": "b"}) == 7
    assert client.block_update(ns, "plan") == 7  # nothing changed: no write
    with pytest.raises(cairn.VersionConflict) as e:
        client.block_rethink(ns, "plan", "stale", if_version=5)
    assert e.value.current_version == 7

    got = client.block_get(ns, "plan")
    assert (got.value, got.version, got.description, got.metadata, got.chars) == ("rewritten", 7, "new words", {"owner": "b"}, 9)
    assert client.block_get(ns, "plan", version=2).value == "step 1\nstep 2"
    generic = client.get(ns, "plan")  # generic reads see blocks too
    assert isinstance(generic, cairn.Block) and generic.value == "rewritten"
    assert [h.op for h in client.history(ns, "plan", limit=3)] == ["update", "rethink", "replace"]

    client.block_create(ns, "notes")
    assert [b.label for b in client.block_list(tenant)] == ["notes", "plan"]  # by namespace, then label
    assert [b.label for b in client.block_list(tenant, limit=1, offset=1)] == ["plan"]
    assert [b.label for b in client.block_list(tenant, label_search="PLA")] == ["plan"]

    deleted = client.block_delete(ns, "plan", reason="done")
    assert deleted == cairn.DeleteResult(version=8, existed=True)
    with pytest.raises(cairn.NotFound):
        client.block_get(ns, "plan")
    assert client.block_delete(ns, "plan").existed is False


def test_attach_detach_agents_and_context(client, tenant, mint, connect) -> None:
    shared = Namespace(tenant)
    private = Namespace(tenant, "secret-task")
    client.block_create(shared, "persona", "I am careful.", description="who I am", limit=50)
    client.block_create(private, "scratch", "hidden")
    client.block_attach(shared, "persona", "agent-1")
    client.block_attach(shared, "persona", "agent-1")  # twice is a no-op
    client.block_attach(private, "scratch", "agent-1")
    client.block_attach(shared, "persona", "agent-2")
    assert sorted(client.block_agents(shared, "persona")) == ["agent-1", "agent-2"]
    assert {b.label for b in client.agent_blocks(tenant, "agent-1")} == {"persona", "scratch"}

    context = client.agent_context(tenant, "agent-1")
    assert {b.label for b in context.blocks} == {"persona", "scratch"} and context.omitted == 0
    assert "I am careful." in context.rendered and "persona" in context.rendered

    # A token narrowed to another task reads the context without the blocks it may not see.
    narrowed = connect(mint(("read",), task="other-task").token)
    partial = narrowed.agent_context(tenant, "agent-1")
    assert partial.omitted == 2 and partial.blocks == []

    client.block_create(Namespace(tenant, "t2"), "persona")
    with pytest.raises(cairn.LabelTaken) as e:
        client.block_attach(Namespace(tenant, "t2"), "persona", "agent-1")
    assert e.value.code == 4009 and isinstance(e.value, cairn.Conflict)

    client.block_detach(shared, "persona", "agent-1")
    assert client.block_agents(shared, "persona") == ["agent-2"]
    assert {b.label for b in client.agent_blocks(tenant, "agent-1")} == {"scratch"}
    client.block_delete(private, "scratch")
    assert client.agent_blocks(tenant, "agent-1") == []


def test_block_errors(client, admin, tenant, mint, connect) -> None:
    ns = Namespace(tenant)
    client.block_create(ns, "list", "a\nb\na", limit=20)
    with pytest.raises(cairn.VersionConflict):
        client.block_create(ns, "list")  # exists already
    with pytest.raises(cairn.AmbiguousMatch) as ambiguous:
        client.block_replace(ns, "list", "a", "c")
    assert ambiguous.value.lines == [1, 3] and ambiguous.value.code == 4013
    with pytest.raises(cairn.NoMatch):
        client.block_replace(ns, "list", "zzz", "c")
    with pytest.raises(cairn.LimitExceeded) as limit:
        client.block_insert(ns, "list", "x" * 30)
    assert (limit.value.limit, limit.value.requested) == (20, 36)
    with pytest.raises(cairn.InvalidLine) as line:
        client.block_insert(ns, "list", "x", line=9)
    assert line.value.field == "line"
    with pytest.raises(cairn.InvalidParams):
        client.block_replace(ns, "list", "", "x")
    assert client.block_get(ns, "list").version == 1  # every refused edit wrote nothing

    with pytest.raises(cairn.WrongKind):
        client.put(ns, "list", {"v": 1})
    client.put(ns, "plain", {"v": 1})
    with pytest.raises(cairn.WrongKind):
        client.block_get(ns, "plain")

    admin.block_create(ns, "rules", "be nice", read_only=True)
    with pytest.raises(cairn.ReadOnly) as read_only:
        client.block_insert(ns, "rules", "and quick")
    assert read_only.value.code == 4010
    tenant_admin = connect(mint(("read", "write", "admin")).token)
    assert tenant_admin.block_insert(ns, "rules", "and quick").value == "be nice\nand quick"
    with pytest.raises(cairn.NotFound):
        client.block_insert(ns, "missing", "x")


def test_update_text_limits_and_delete_if_version(client, tenant, mint, connect) -> None:
    ns = Namespace(tenant)
    client.block_create(ns, "b", "old", limit=10)
    assert client.block_update(ns, "b", value="new text", if_version=1) == 2
    with pytest.raises(cairn.VersionConflict):
        client.block_update(ns, "b", value="x", if_version=1)
    with pytest.raises(cairn.LimitExceeded):
        client.block_update(ns, "b", value="far too long for ten")
    tenant_admin = connect(mint(("read", "write", "admin")).token)
    assert tenant_admin.block_update(ns, "b", limit=100, read_only=True) == 3
    block = client.block_get(ns, "b")
    assert (block.value, block.limit, block.read_only) == ("new text", 100, True)
    with pytest.raises(cairn.ReadOnly):
        client.block_rethink(ns, "b", "mine now")
    with pytest.raises(cairn.VersionConflict):
        client.block_delete(ns, "b", if_version=2)
    assert client.block_delete(ns, "b", if_version=3).existed is True
