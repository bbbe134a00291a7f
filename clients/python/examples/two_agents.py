"""Two agents in two processes sharing one memory block.

    export CAIRN_URL=cairn://127.0.0.1:7420 CAIRN_TOKEN=cairn_tk_...   # read+write on a tenant
    python examples/two_agents.py writer &      # waits for findings, then drafts from them
    python examples/two_agents.py researcher    # appends findings to the shared block
"""

from __future__ import annotations

import sys

import cairn

TASK = "task-42"


def researcher(c: cairn.Client, ns: cairn.Namespace) -> None:
    try:
        c.block_create(ns, "findings", description="what the researcher found", limit=2000, agents=["researcher", "writer"])
    except cairn.VersionConflict:
        pass  # the other agent created it first
    for finding in ["tea is older than coffee", "tea has less caffeine", "green and black tea: one plant"]:
        c.block_insert(ns, "findings", f"- {finding}", agent="researcher", reason="new finding")
    c.block_insert(ns, "findings", "DONE", agent="researcher")


def writer(c: cairn.Client, ns: cairn.Namespace) -> None:
    # Subscribe first, then read: nothing written in between can be missed.
    with c.subscribe(cairn.Scope(ns.tenant, task=TASK), include_values=True) as changes:
        print("ready", flush=True)
        try:
            text = c.block_get(ns, "findings").value
        except cairn.NotFound:
            text = ""
        # The researcher may have finished before we subscribed: then no event is coming.
        if not text.endswith("DONE"):
            for change in changes:
                if isinstance(change, cairn.Event) and change.key == "findings":
                    text = change.value or ""
                if text.endswith("DONE"):
                    break
    context = c.agent_context(ns.tenant, "writer")  # every attached block, at one snapshot
    print(context.rendered)
    findings = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    c.put(ns, "draft", {"title": "On tea", "points": findings}, agent="writer", reason="drafted from findings")
    print(f"drafted {len(findings)} points")


def main() -> None:
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role not in ("researcher", "writer"):
        sys.exit("usage: two_agents.py researcher|writer")
    with cairn.Client() as c:  # CAIRN_URL and CAIRN_TOKEN from the environment
        assert c.identity is not None and c.identity.tenant, "use a tenant token"
        ns = cairn.Namespace(c.identity.tenant, TASK)
        researcher(c, ns) if role == "researcher" else writer(c, ns)


if __name__ == "__main__":
    main()
