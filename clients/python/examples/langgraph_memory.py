"""A LangGraph graph whose long-term memory lives in Cairn.

    export CAIRN_URL=cairn://127.0.0.1:7420 CAIRN_TOKEN=cairn_tk_... CAIRN_TENANT=acme
    python examples/langgraph_memory.py "prefers tea"
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import TypedDict

from langgraph.graph import START, StateGraph
from langgraph.store.base import BaseStore

from cairn.langgraph import CairnStore

TENANT = os.environ.get("CAIRN_TENANT", "acme")  # the first label of every namespace


class State(TypedDict):
    user: str
    message: str
    memories: list[str]


def remember(state: State, *, store: BaseStore) -> dict:
    namespace = (TENANT, state["user"])  # (tenant, task): one user's memories
    store.put(namespace, str(uuid.uuid4()), {"text": state["message"]})
    return {"memories": sorted(item.value["text"] for item in store.search(namespace, limit=100))}


def build(store: BaseStore):
    builder = StateGraph(State)
    builder.add_node(remember)
    builder.add_edge(START, "remember")
    return builder.compile(store=store)  # the one line that changes: store=InMemoryStore() before


if __name__ == "__main__":
    with CairnStore() as store:  # CAIRN_URL and CAIRN_TOKEN from the environment
        graph = build(store)
        result = graph.invoke({"user": "user-1", "message": " ".join(sys.argv[1:]) or "hello", "memories": []})
        print(result["memories"])
