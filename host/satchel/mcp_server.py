"""`satchel mcp`: the vault as an MCP server over stdio, for local models, agents and desktop clients.

It never opens the DuckDB file: every tool is a request to the vault owner through `VaultClient`
(one process owns the file; browsers, the CLI and any number of MCP servers share it). stdout
carries MCP frames only; logs go to stderr.

Tools: search, get_context, list_conversations, read_conversation, remember, list_memories, forget.
`forget` is deliberately narrow (one memory, message or conversation): an agent cannot wipe the vault.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from satchel.errors import SatchelError

log = logging.getLogger("satchel.mcp")

NOTES_PROVIDER = "satchel"
NOTES_CONVERSATION = "notes"
MAX_HIT_CHARS = 2000
INSTRUCTIONS = (
    "Satchel is the user's own memory of their past conversations with AI assistants (ChatGPT, Claude, "
    "Gemini, local models...). Call get_context with the user's request to recall relevant past context; "
    "use search for specific facts, read_conversation to read one conversation, remember to store a fact the "
    "user wants kept, list_memories to see what is remembered, forget to delete what the user asks to delete."
)

Caller = Callable[[str, dict[str, Any]], dict[str, Any]]


def _server_class() -> Any:
    try:  # mcp 2.x
        from mcp.server.mcpserver import MCPServer

        return MCPServer
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP

        return FastMCP


def _clip(text: str, limit: int = MAX_HIT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def note_id(text: str) -> str:
    """A remembered note's id is its content: remembering the same fact twice stores it once."""
    return "note:" + hashlib.sha256(" ".join(text.split()).casefold().encode()).hexdigest()[:16]


def build_server(call: Caller) -> Any:
    """The MCP server with its tools; `call(action, params) -> data` reaches the vault owner."""
    server = _server_class()(name="satchel", instructions=INSTRUCTIONS)

    async def request(action: str, params: dict[str, Any]) -> dict[str, Any]:
        # The client blocks on a socket: keep it off the event loop.
        return await anyio.to_thread.run_sync(call, action, {k: v for k, v in params.items() if v is not None})

    @server.tool()
    async def search(query: str, k: int = 8, provider: str | None = None, since: str | None = None,
                     until: str | None = None) -> dict[str, Any]:
        """Search the user's saved conversations by keywords and meaning.

        provider: only this provider (chatgpt, claude, gemini, openwebui, ...). since/until: ISO dates.
        Returns hits with provider, conversation id and title, message id, role, date, score and text.
        """
        data = await request("search", {"query": query, "k": max(1, min(k, 50)), "provider": provider,
                                        "since": since, "until": until})
        hits = [{**h, "text": _clip(h.get("text") or "")} for h in data.get("hits", [])]
        return {"hits": hits}

    @server.tool()
    async def get_context(prompt: str, budget_tokens: int = 800) -> str:
        """Relevant context from past conversations for a prompt, ready to read, with sources and dates.

        Returns an empty string when nothing in the vault is relevant.
        """
        data = await request("context", {"prompt": prompt, "budget_tokens": max(50, min(budget_tokens, 32_000))})
        return data.get("text") or ""

    @server.tool()
    async def list_conversations(limit: int = 20, offset: int = 0, provider: str | None = None) -> dict[str, Any]:
        """List saved conversations, most recently updated first (page with offset)."""
        return await request("conversations.list", {"limit": max(1, min(limit, 200)), "offset": max(0, offset),
                                                    "provider": provider})

    @server.tool()
    async def read_conversation(provider: str, id: str, offset: int = 0, limit: int = 50,
                                include_branches: bool = False) -> dict[str, Any]:
        """Read one conversation's messages in order (page with offset; next_offset is null at the end).

        include_branches: also return edited-away prompts and regenerated answers (on_thread = false).
        """
        data = await request("conversation.get", {"provider": provider, "id": id, "offset": max(0, offset),
                                                  "limit": max(1, min(limit, 200))})
        messages = []
        for m in data.get("messages", []):
            if not include_branches and m.get("on_thread") is False:
                continue
            messages.append({"id": m["id"], "role": m["role"], "created_at": m.get("created_at"),
                             "model": m.get("model"), "on_thread": m.get("on_thread", True),
                             "parent_id": m.get("parent_id"), "text": _clip(m["text"], 20_000)})
        return {"conversation": data.get("conversation"), "messages": messages,
                "next_offset": data.get("next_offset")}

    @server.tool()
    async def remember(text: str, kind: str = "fact") -> dict[str, Any]:
        """Store a fact the user wants kept (a preference, a project, an instruction). Used in get_context at once.

        kind: preference, fact, project, instruction or note. Remembering the same text twice stores it once;
        a newer fact about the same thing supersedes the older one.
        """
        text = text.strip()
        if not text:
            raise ValueError("nothing to remember: text is empty")
        try:
            data = await request("memory.add", {"text": text, "kind": kind})
            memory = data.get("memory") or {}
            return {"stored_as": "memory", "memory_id": memory.get("id"), "kind": memory.get("kind"),
                    "text": memory.get("text")}
        except SatchelError as exc:
            if exc.code != "unknown_action":
                raise
        # A vault without structured memory: keep it as a note message, searchable like any turn.
        mid = note_id(text)
        counts = await request("capture", {
            "conversation": {"provider": NOTES_PROVIDER, "id": NOTES_CONVERSATION, "title": "Remembered notes"},
            "messages": [{"id": mid, "role": "user", "text": text}],
        })
        return {"stored_as": "note", "provider": NOTES_PROVIDER, "conversation_id": NOTES_CONVERSATION,
                "message_id": mid, "new": counts.get("added", 0) > 0}

    @server.tool()
    async def list_memories(limit: int = 50, offset: int = 0, kind: str | None = None) -> dict[str, Any]:
        """The facts Satchel remembers about the user (active ones, pinned first), with the turns they came from."""
        return await request("memories.list", {"limit": max(1, min(limit, 200)), "offset": max(0, offset),
                                               "kind": kind})

    @server.tool()
    async def forget(provider: str | None = None, conversation_id: str | None = None, message_id: str | None = None,
                     memory_id: int | None = None) -> dict[str, Any]:
        """Delete, for good, one remembered fact (memory_id), one message (provider, conversation_id, message_id)
        or one whole conversation (provider, conversation_id). Nothing broader: an agent cannot wipe the vault.
        """
        if memory_id is not None:
            return await request("memory.delete", {"id": memory_id})
        if not provider or not conversation_id:
            raise ValueError("give memory_id, or provider and conversation_id (and message_id for one message)")
        params = {"scope": "message" if message_id else "conversation", "provider": provider,
                  "id": conversation_id, "message_id": message_id}
        return await request("forget", params)

    return server


def vault_caller(home: Path | None = None) -> Caller:
    from satchel.daemon.client import VaultClient

    client = VaultClient(home, client="mcp")
    return client.call


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server = build_server(vault_caller())
    server.run("stdio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
