"""`satchel mcp` through the MCP SDK's own stdio client, against a real vault owned by `satchel serve`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import pytest
from satchel.daemon.client import VaultClient

pytest.importorskip("mcp")
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

HOST_DIR = str(Path(__file__).resolve().parents[2] / "host")


def params(home: Path) -> StdioServerParameters:
    env = {**os.environ, "SATCHEL_HOME": str(home),
           "PYTHONPATH": os.pathsep.join(p for p in (HOST_DIR, os.environ.get("PYTHONPATH")) if p)}
    return StdioServerParameters(command=sys.executable, args=["-m", "satchel", "mcp"], env=env)


async def with_session(home: Path, steps) -> None:
    async with stdio_client(params(home)) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await steps(session)


def field(obj, snake: str, camel: str):
    """mcp 2.x spells result fields in snake_case, 1.x in camelCase."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def is_error(result) -> bool:
    return bool(field(result, "is_error", "isError"))


def data(result) -> object:
    assert not is_error(result), result.content
    structured = field(result, "structured_content", "structuredContent")
    if structured is not None:
        # A tool returning a plain string is wrapped as {"result": ...}.
        return structured["result"] if set(structured) == {"result"} else structured
    return result.content[0].text if result.content else ""


@pytest.fixture
def seeded(satchel_home, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (HOST_DIR, os.environ.get("PYTHONPATH")) if p))
    with VaultClient(satchel_home) as client:
        client.call("capture", {
            "conversation": {"provider": "claude", "id": "garden-1", "title": "Garlic"},
            "messages": [
                {"id": "u1", "role": "user", "text": "How deep should I plant garlic cloves?"},
                {"id": "a1", "role": "assistant", "text": "Plant garlic cloves about 5 cm deep, pointy end up."},
            ],
        })
        client.call("capture", {
            "conversation": {"provider": "chatgpt", "id": "trip-1", "title": "Lisbon"},
            "messages": [
                {"id": "u1", "role": "user", "text": "Which tram goes through Alfama?"},
                {"id": "a1", "role": "assistant", "text": "Tram 28 winds through Alfama."},
            ],
        })
    return satchel_home


def test_every_tool_is_listed_with_a_description(seeded):
    async def steps(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"search", "get_context", "list_conversations", "read_conversation", "remember",
                              "list_memories", "forget"}
        assert all(t.description for t in tools.values())
        assert "query" in field(tools["search"], "input_schema", "inputSchema")["properties"]

    anyio.run(with_session, seeded, steps)


def test_search_list_and_read_through_a_real_client(seeded):
    async def steps(session):
        hits = data(await session.call_tool("search", {"query": "plant garlic cloves", "k": 3}))["hits"]
        assert hits[0]["conversation_id"] == "garden-1" and "5 cm" in " ".join(h["text"] for h in hits)
        listed = data(await session.call_tool("list_conversations", {"limit": 10}))
        assert {c["id"] for c in listed["conversations"]} == {"garden-1", "trip-1"}
        read = data(await session.call_tool("read_conversation", {"provider": "chatgpt", "id": "trip-1"}))
        assert [m["role"] for m in read["messages"]] == ["user", "assistant"]
        assert read["messages"][1]["text"] == "Tram 28 winds through Alfama."
        missing = await session.call_tool("read_conversation", {"provider": "chatgpt", "id": "nope"})
        assert is_error(missing)

    anyio.run(with_session, seeded, steps)


def test_get_context_is_relevant_and_empty_when_nothing_is(seeded):
    async def steps(session):
        block = data(await session.call_tool("get_context", {"prompt": "how deep do I plant garlic?"}))
        assert "5 cm" in block
        nothing = data(await session.call_tool("get_context", {"prompt": "quantum chromodynamics lattice"}))
        assert nothing == "" or "garlic" not in nothing.lower()

    anyio.run(with_session, seeded, steps)


def test_remember_then_recall_then_forget(seeded):
    async def steps(session):
        stored = data(await session.call_tool("remember", {"text": "My bike is a green Brompton.", "kind": "fact"}))
        assert stored["stored_as"] == "memory" and isinstance(stored["memory_id"], int)
        again = data(await session.call_tool("remember", {"text": "My bike is a green  Brompton."}))
        assert again["memory_id"] == stored["memory_id"]
        listed = data(await session.call_tool("list_memories", {}))
        assert [m["text"] for m in listed["memories"]] == ["My bike is a green Brompton."]
        block = data(await session.call_tool("get_context", {"prompt": "Which Brompton bike should I service?"}))
        assert "green Brompton" in block
        data(await session.call_tool("forget", {"memory_id": stored["memory_id"]}))
        assert data(await session.call_tool("list_memories", {}))["memories"] == []
        block = data(await session.call_tool("get_context", {"prompt": "Which Brompton bike should I service?"}))
        assert "green Brompton" not in block

    anyio.run(with_session, seeded, steps)


def test_forget_a_message_and_a_conversation(seeded):
    async def steps(session):
        gone = data(await session.call_tool("forget", {"provider": "chatgpt", "conversation_id": "trip-1",
                                                        "message_id": "a1"}))
        assert gone["removed"]["messages"] == 1
        hits = data(await session.call_tool("search", {"query": "tram Alfama"}))["hits"]
        assert not any("Tram 28" in h["text"] for h in hits)
        data(await session.call_tool("forget", {"provider": "claude", "conversation_id": "garden-1"}))
        listed = data(await session.call_tool("list_conversations", {}))
        assert {c["id"] for c in listed["conversations"]} == {"trip-1"}
        refused = await session.call_tool("forget", {"provider": "claude"})
        assert is_error(refused)

    anyio.run(with_session, seeded, steps)


def test_mcp_server_shares_the_vault_with_other_clients(seeded):
    async def steps(session):
        # A capture from another client while the MCP server is connected is visible to it at once.
        with VaultClient(seeded) as other:
            other.call("capture", {"conversation": {"provider": "gemini", "id": "g-1", "title": "Bread"},
                                   "messages": [{"id": "m", "role": "user", "text": "sourdough hydration 78%"}]})
        hits = data(await session.call_tool("search", {"query": "sourdough hydration"}))["hits"]
        assert hits and hits[0]["provider"] == "gemini"

    anyio.run(with_session, seeded, steps)


def test_stdout_carries_only_mcp_frames(seeded):
    """Anything else on stdout would corrupt the client's stream; the SDK would fail to parse it."""

    async def steps(session):
        result = await session.call_tool("search", {"query": "tram"})
        assert json.dumps(data(result))

    anyio.run(with_session, seeded, steps)
