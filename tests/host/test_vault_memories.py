"""Distilled memories in the vault: linked to their turns, superseded with history, used in context."""

from __future__ import annotations

import pytest
from satchel.daemon.dispatch import handle
from satchel.vault.memories import list_memories, memories_for_message
from satchel.vault.store import Vault


@pytest.fixture
def vault(satchel_home):
    opened = Vault.open(satchel_home, background_embedding=False)
    yield opened
    opened.close()


def say(vault: Vault, conv: str, text: str, when: str) -> None:
    vault.capture({"provider": "chatgpt", "id": conv, "title": conv},
                  [{"role": "user", "text": text, "created_at": when},
                   {"role": "assistant", "text": "Noted.", "created_at": when}])
    vault.maintain()


def call(vault: Vault, action: str, **params):
    reply = handle(vault, {"id": "t", "type": action, "params": params}, client="browser")
    assert reply["ok"], reply
    return reply["data"]


def test_a_memory_links_to_the_turn_it_came_from(vault):
    say(vault, "move", "I live in Paris.", "2024-02-01T10:00:00Z")
    (memory,) = list_memories(vault)["memories"]
    assert "Paris" in memory["text"] and memory["sources"][0]["conversation_id"] == "move"
    message_pk = vault.db.execute("SELECT id FROM messages WHERE text = 'I live in Paris.'").fetchone()[0]
    assert memories_for_message(vault, message_pk) == [memory["id"]]


def test_a_newer_contradicting_memory_supersedes_and_keeps_history(vault):
    say(vault, "a", "I live in Paris.", "2024-02-01T10:00:00Z")
    say(vault, "b", "I live in Lyon now.", "2025-03-01T10:00:00Z")
    active = list_memories(vault)["memories"]
    assert [m["text"] for m in active if "Lyon" in m["text"]] and not [m for m in active if "Paris" in m["text"]]
    lyon = next(m for m in active if "Lyon" in m["text"])
    detail = call(vault, "memory.get", id=lyon["id"])["memory"]
    assert [h["text"] for h in detail["supersedes"]] and "Paris" in detail["supersedes"][0]["text"]
    assert list_memories(vault, status="superseded")["memories"][0]["valid_to"].startswith("2025-03-01")


def test_the_person_can_add_pin_edit_and_delete(vault):
    added = call(vault, "memory.add", text="Always answer in British English.")["memory"]
    assert added["origin"] == "user"
    pinned = call(vault, "memory.update", id=added["id"], pinned=True)["memory"]
    assert pinned["pinned"] is True
    edited = call(vault, "memory.update", id=added["id"], text="Always answer in British English, briefly.")
    assert edited["memory"]["text"].endswith("briefly.")
    call(vault, "memory.delete", id=added["id"])
    assert call(vault, "memories.list")["total"] == 0
    # a deleted memory is not brought back by re-extraction of the same statement
    say(vault, "c", "Always answer in British English, briefly.", "2025-04-01T10:00:00Z")
    assert all("British" not in m["text"] for m in call(vault, "memories.list")["memories"])


def test_context_includes_relevant_memories_and_pinned_ones(vault):
    say(vault, "diet", "I am vegetarian.", "2025-01-01T10:00:00Z")
    pinned = call(vault, "memory.add", text="Call me Sam.")["memory"]
    call(vault, "memory.update", id=pinned["id"], pinned=True)
    block = vault.context("suggest a vegetarian dinner recipe for tonight")
    assert "vegetarian" in block["text"].lower() and "Sam" in block["text"]
    assert block["sources"][0]["kind"] == "memories"


def test_forgetting_the_source_conversation_forgets_the_memory(vault):
    say(vault, "secret", "I work at Initech.", "2025-01-01T10:00:00Z")
    assert list_memories(vault)["total"] == 1
    vault.forget("conversation", provider="chatgpt", conversation_id="secret")
    assert list_memories(vault, status="all")["total"] == 0


def test_sessions_and_summaries_are_built_after_capture(vault):
    vault.capture({"provider": "claude", "id": "long"}, [
        {"role": "user", "text": "Planning a bike tour of Brittany in June.", "created_at": "2025-05-01T09:00:00Z"},
        {"role": "assistant", "text": "Brittany's coastal route is lovely in June.", "created_at": "2025-05-01T09:01:00Z"},
        {"role": "user", "text": "Back again: which ferry to Brittany?", "created_at": "2025-05-09T18:00:00Z"},
        {"role": "assistant", "text": "Portsmouth to St Malo.", "created_at": "2025-05-09T18:01:00Z"},
    ])
    vault.maintain()
    sessions = vault.db.execute("SELECT ordinal, summary FROM sessions ORDER BY ordinal").fetchall()
    assert len(sessions) == 2 and all(summary for _, summary in sessions)
    assert "Brittany" in vault.get_conversation("claude", "long")["conversation"]["summary"]


def test_settings_are_cli_only(vault):
    reply = handle(vault, {"id": "s", "type": "settings.set", "params": {"key": "llm.model", "value": "x"}},
                   client="browser")
    assert reply["error"]["code"] == "forbidden"
    ok = handle(vault, {"id": "s", "type": "settings.set", "params": {"key": "llm.model", "value": "qwen"}})
    assert ok["data"]["settings"]["llm.model"] == "qwen"
