"""Structured memory in the vault: sessions and summaries per conversation, distilled memories linked to
the turns they came from. The pure logic lives in `satchel.memory`; this module reads and writes the tables.

Runs on the vault owner's background thread after captures, never on the capture path.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from satchel.errors import InvalidParams, NotFound
from satchel.memory.consolidate import Memory, consolidate
from satchel.memory.extract import Candidate, Message, extract, extract_from_text
from satchel.memory.sessions import split_sessions
from satchel.memory.summarize import summarize_conversation, summarize_session
from satchel.timeutil import iso, utcnow

if TYPE_CHECKING:
    from satchel.memory.llm_client import LLMClient
    from satchel.vault.store import Vault

log = logging.getLogger("satchel.memories")
KINDS = ("preference", "fact", "project", "instruction", "note")
# MiniLM cosine above which a memory is about the prompt (off-topic pairs peak around 0.3).
MEMORY_COSINE = 0.42
MAX_SUMMARY_TURNS = 400
_WORD = re.compile(r"\w{3,}", re.UNICODE)


def _llm(vault: Vault) -> LLMClient | None:
    """The person's local model, when they configured one (settings llm.base_url / llm.model)."""
    from satchel.memory.llm_client import LLMClient, LLMConfig, LLMError

    config = LLMConfig.from_settings(vault.settings())
    if config is None:
        return None
    try:
        return LLMClient(config)
    except LLMError as exc:  # e.g. a non-loopback endpoint: refused, and the rules take over
        log.warning("local model not used: %s", exc)
        return None


# ----------------------------------------------------------------- maintenance (background)
def maintain_conversation(vault: Vault, conv_id: int, new_message_ids: set[int]) -> None:
    """Refresh sessions and summaries of one conversation and distil memories from its new user turns."""
    llm = _llm(vault)
    with vault.lock:
        rows = vault.db.execute(
            "SELECT id, ordinal, coalesce(created_at, captured_at), role, text FROM messages"
            " WHERE conversation_id = ? AND on_thread ORDER BY ordinal, id", [conv_id]).fetchall()
        old = {r[0]: r[1] for r in vault.db.execute(
            "SELECT first_message_id, summary FROM sessions WHERE conversation_id = ?", [conv_id]).fetchall()}
    if not rows:
        return
    by_id = {r[0]: r for r in rows}
    sessions = split_sessions([(r[0], r[1], r[2]) for r in rows])
    session_rows = []
    for session in sessions:
        touched = bool(new_message_ids & set(session.message_ids)) or session.first_message_id not in old
        summary = (summarize_session([(by_id[m][3], by_id[m][4]) for m in session.message_ids], llm=llm)
                   if touched else old[session.first_message_id])
        session_rows.append([session.ordinal, session.started_at, session.ended_at, session.first_message_id,
                             session.last_message_id, summary])
    conversation_summary = summarize_conversation([(r[3], r[4]) for r in rows[-MAX_SUMMARY_TURNS:]], llm=llm)
    new_user_turns = [Message(r[0], r[3], r[4], r[2]) for r in rows if r[0] in new_message_ids and r[3] == "user"]
    candidates = extract(new_user_turns, llm=llm) if new_user_turns else []
    with vault.lock:
        if vault.db.execute("SELECT 1 FROM conversations WHERE id = ?", [conv_id]).fetchone() is None:
            return  # forgotten meanwhile
        vault.db.execute("BEGIN TRANSACTION")
        try:
            vault.db.execute("DELETE FROM sessions WHERE conversation_id = ?", [conv_id])
            first_id = vault.allocate("sessions", len(session_rows))
            vault.db.executemany(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[first_id + i, conv_id, *row] for i, row in enumerate(session_rows)])
            vault.db.execute("UPDATE conversations SET summary = ? WHERE id = ?", [conversation_summary, conv_id])
            if candidates:
                _apply(vault, consolidate(load_memories(vault), candidates, vault.embedder.embed, now=utcnow()))
            vault.db.execute("COMMIT")
        except BaseException:
            vault.db.execute("ROLLBACK")
            raise


def load_memories(vault: Vault) -> list[Memory]:
    sources: dict[int, list[int]] = {}
    for memory_id, message_id in vault.db.execute("SELECT memory_id, message_id FROM memory_sources").fetchall():
        sources.setdefault(memory_id, []).append(message_id)
    return [
        Memory(id=r[0], kind=r[1], key=r[2], text=r[3], status=r[4], pinned=r[5], valid_from=r[6], valid_to=r[7],
               superseded_by=r[8], origin=r[9], message_ids=tuple(sources.get(r[0], ())))
        for r in vault.db.execute(
            "SELECT id, kind, key, text, status, pinned, valid_from, valid_to, superseded_by, origin FROM memories"
            " ORDER BY id").fetchall()
    ]


def _apply(vault: Vault, plan: Any) -> list[int]:
    """Write a consolidation plan (the caller holds the lock and the transaction)."""
    now = utcnow()
    resolved = plan.resolve(vault.allocate("memories", len(plan.new))) if plan.new else plan
    created = []
    for memory in resolved.new:
        vault.db.execute(
            "INSERT INTO memories (id, kind, text, key, status, pinned, valid_from, valid_to, superseded_by,"
            " created_at, updated_at, origin) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?, ?, ?)",
            [memory.ref, memory.kind, memory.text, memory.key, memory.status, memory.valid_from, memory.valid_to,
             memory.superseded_by, now, now, memory.origin])
        if memory.message_ids:
            vault.db.executemany("INSERT INTO memory_sources VALUES (?, ?)",
                                 [[memory.ref, mid] for mid in memory.message_ids])
        created.append(memory.ref)
    if resolved.links:
        vault.db.executemany("INSERT INTO memory_sources VALUES (?, ?)", [list(link) for link in resolved.links])
    for old in resolved.superseded:
        vault.db.execute(
            "UPDATE memories SET status = 'superseded', superseded_by = ?, valid_to = ?, updated_at = ? WHERE id = ?",
            [old.new_id, old.valid_to, now, old.old_id])
    for memory_id, text in resolved.text_updates:
        vault.db.execute("UPDATE memories SET text = ?, updated_at = ? WHERE id = ?", [text, now, memory_id])
    vault.forget_memory_vectors()
    return created


# ----------------------------------------------------------------- reading, for people and for context
def _row_to_dict(vault: Vault, row: tuple[Any, ...], sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row[0], "kind": row[1], "key": row[2], "text": row[3], "status": row[4], "pinned": row[5],
            "valid_from": iso(row[6]), "valid_to": iso(row[7]), "superseded_by": row[8], "origin": row[9],
            "created_at": iso(row[10]), "updated_at": iso(row[11]), "sources": sources}


def list_memories(vault: Vault, *, status: str = "active", kind: str | None = None, limit: int = 100,
                  offset: int = 0) -> dict[str, Any]:
    with vault.lock:
        where, args = [], []
        if status != "all":
            where.append("status = ?")
            args.append(status)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        (total,) = vault.db.execute(f"SELECT count(*) FROM memories {clause}", args).fetchone()
        rows = vault.db.execute(
            "SELECT id, kind, key, text, status, pinned, valid_from, valid_to, superseded_by, origin, created_at,"
            f" updated_at FROM memories {clause} ORDER BY pinned DESC, coalesce(valid_from, created_at) DESC, id DESC"
            " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        sources = _sources(vault, [r[0] for r in rows])
    return {"total": total, "memories": [_row_to_dict(vault, r, sources.get(r[0], [])) for r in rows]}


def _sources(vault: Vault, memory_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not memory_ids:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for memory_id, provider, conv, message, title, created in vault.db.execute(
        "SELECT ms.memory_id, c.provider, c.external_id, m.external_id, c.title, coalesce(m.created_at, m.captured_at)"
        " FROM memory_sources ms JOIN messages m ON m.id = ms.message_id JOIN conversations c ON c.id = m.conversation_id"
        " WHERE ms.memory_id IN (SELECT unnest(?::BIGINT[])) ORDER BY 6", [memory_ids]).fetchall():
        found.setdefault(memory_id, []).append({"provider": provider, "conversation_id": conv, "message_id": message,
                                                "title": title, "created_at": iso(created)})
    return found


def memories_for_message(vault: Vault, message_pk: int) -> list[int]:
    """Cross-reference the other way: memories distilled from one turn."""
    return [r[0] for r in vault.db.execute(
        "SELECT memory_id FROM memory_sources WHERE message_id = ?", [message_pk]).fetchall()]


def relevant_memories(vault: Vault, prompt: str, query_vector: np.ndarray | None,
                      limit: int = 6) -> list[dict[str, Any]]:
    """Active memories about the prompt (by meaning, or sharing a rare-enough word), pinned ones first."""
    with vault.lock:
        rows = vault.db.execute(
            "SELECT id, kind, key, text, status, pinned, valid_from, valid_to, superseded_by, origin, created_at,"
            " updated_at FROM memories WHERE status = 'active' ORDER BY id").fetchall()
    if not rows:
        return []
    prompt_words = {w.lower() for w in _WORD.findall(prompt)}
    cosines = vault.memory_cosines([r[0] for r in rows], [r[3] for r in rows], query_vector)
    scored = []
    for row, cosine in zip(rows, cosines, strict=True):
        overlap = prompt_words & {w.lower() for w in _WORD.findall(row[3])}
        # Two shared words, or one long (so informative) one, mark a memory as about the prompt.
        if row[5] or cosine >= MEMORY_COSINE or len(overlap) >= 2 or any(len(w) >= 6 for w in overlap):
            scored.append((bool(row[5]), cosine + 0.1 * len(overlap), row))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    chosen = [s[2] for s in scored[:limit]]
    with vault.lock:
        sources = _sources(vault, [r[0] for r in chosen])
    return [_row_to_dict(vault, r, sources.get(r[0], [])) for r in chosen]


# ----------------------------------------------------------------- editing (the person's own hand)
def add_memory(vault: Vault, text: str, kind: str | None = None) -> dict[str, Any]:
    from satchel.redact import redact
    from satchel.vault.store import storable

    text = redact(" ".join(storable(text).split()))[0]
    if not text:
        raise InvalidParams("text must not be empty")
    recognised = extract_from_text(text)
    if recognised:
        found_kind, key, _, value, _ = recognised[0]
    else:
        found_kind, key, value = "note", "note:" + text.lower()[:60], text
    candidate = Candidate(kind=kind or found_kind, key=key, text=text, value=value, message_ids=(),
                          observed_at=utcnow(), origin="user")
    with vault.lock:
        vault.db.execute("BEGIN TRANSACTION")
        try:
            created = _apply(vault, consolidate(load_memories(vault), [candidate], vault.embedder.embed,
                                                now=utcnow()))
            vault.db.execute("COMMIT")
        except BaseException:
            vault.db.execute("ROLLBACK")
            raise
        memory_id = created[0] if created else vault.db.execute(
            "SELECT id FROM memories WHERE status = 'active' AND lower(text) = lower(?)", [text]).fetchone()
    if isinstance(memory_id, tuple):
        memory_id = memory_id[0]
    return get_memory(vault, int(memory_id)) if memory_id is not None else {}


def get_memory(vault: Vault, memory_id: int) -> dict[str, Any]:
    with vault.lock:
        row = vault.db.execute(
            "SELECT id, kind, key, text, status, pinned, valid_from, valid_to, superseded_by, origin, created_at,"
            " updated_at FROM memories WHERE id = ?", [memory_id]).fetchone()
        if row is None:
            raise NotFound(f"no memory {memory_id}")
        history = vault.db.execute(
            "SELECT id, text, valid_from, valid_to FROM memories WHERE superseded_by = ? ORDER BY valid_from",
            [memory_id]).fetchall()
        sources = _sources(vault, [memory_id])
    item = _row_to_dict(vault, row, sources.get(memory_id, []))
    item["supersedes"] = [{"id": h[0], "text": h[1], "valid_from": iso(h[2]), "valid_to": iso(h[3])} for h in history]
    return item


def update_memory(vault: Vault, memory_id: int, *, text: str | None = None, pinned: bool | None = None,
                  kind: str | None = None) -> dict[str, Any]:
    if kind is not None and kind not in KINDS:
        raise InvalidParams(f"kind must be one of {', '.join(KINDS)}")
    with vault.lock:
        if vault.db.execute("SELECT 1 FROM memories WHERE id = ?", [memory_id]).fetchone() is None:
            raise NotFound(f"no memory {memory_id}")
        vault.db.execute(
            "UPDATE memories SET text = coalesce(?, text), pinned = coalesce(?, pinned), kind = coalesce(?, kind),"
            " origin = CASE WHEN ? IS NULL THEN origin ELSE 'user' END, updated_at = ? WHERE id = ?",
            [_clean_text(text), pinned, kind, text, utcnow(), memory_id])
        vault.forget_memory_vectors()
    return get_memory(vault, memory_id)


def _clean_text(text: str | None) -> str | None:
    from satchel.redact import redact
    from satchel.vault.store import storable

    return redact(" ".join(storable(text).split()))[0] if text else None


def delete_memory(vault: Vault, memory_id: int) -> dict[str, Any]:
    """Marked deleted, not dropped: its text keeps re-extraction from bringing it back. `forget` erases."""
    with vault.lock:
        if vault.db.execute("SELECT 1 FROM memories WHERE id = ?", [memory_id]).fetchone() is None:
            raise NotFound(f"no memory {memory_id}")
        vault.db.execute("UPDATE memories SET status = 'deleted', pinned = FALSE, updated_at = ? WHERE id = ?",
                         [utcnow(), memory_id])
        vault.forget_memory_vectors()
    return {"deleted": memory_id}


def import_memories(vault: Vault, records: list[dict[str, Any]]) -> int:
    """Memories from a Satchel export, as they were (status, times, pins, links to their turns), in one
    transaction. A memory already in the vault (same text and status) is skipped, so importing twice adds
    nothing. Returns how many were added."""
    from satchel.timeutil import parse_time

    if not records:
        return 0
    with vault.lock:
        existing = {(t, s) for t, s in vault.db.execute("SELECT text, status FROM memories").fetchall()}
        fresh = [r for r in records if (r["text"], r["status"]) not in existing]
        if not fresh:
            return 0
        first = vault.allocate("memories", len(fresh))
        new_ids = {r["id"]: first + i for i, r in enumerate(fresh)}
        now = utcnow()
        vault.db.execute("BEGIN TRANSACTION")
        try:
            for record in fresh:
                recognised = extract_from_text(record["text"])
                key = recognised[0][1] if recognised else None
                vault.db.execute(
                    "INSERT INTO memories (id, kind, text, key, status, pinned, valid_from, valid_to, superseded_by,"
                    " created_at, updated_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [new_ids[record["id"]], record["kind"], record["text"], key, record["status"],
                     bool(record.get("pinned", False)), parse_time(record.get("valid_from"), "valid_from"),
                     parse_time(record.get("valid_to"), "valid_to"), new_ids.get(record.get("superseded_by")),
                     parse_time(record.get("created_at"), "created_at") or now,
                     parse_time(record.get("updated_at"), "updated_at") or now, record.get("origin", "extracted")])
                for source in record.get("sources", []):
                    row = vault.db.execute(
                        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                        " WHERE c.provider = ? AND c.external_id = ? AND m.external_id = ?",
                        [source["provider"], source["conversation_id"], source["message_id"]]).fetchone()
                    if row is not None:
                        vault.db.execute("INSERT INTO memory_sources VALUES (?, ?)", [new_ids[record["id"]], row[0]])
            vault.db.execute("COMMIT")
        except BaseException:
            vault.db.execute("ROLLBACK")
            raise
        vault.forget_memory_vectors()
    return len(fresh)
