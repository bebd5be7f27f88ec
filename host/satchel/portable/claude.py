"""Claude.ai data export: `conversations.json` (alone or inside the export zip).

A conversation is `{uuid, name, created_at, updated_at, chat_messages: [...]}`; a message has
`sender` ("human"/"assistant"), a flat `text` and, in newer exports, `content` blocks (text,
thinking, tool_use, tool_result). Text blocks make the message's text; each tool_use/tool_result
block becomes a `tool` message right after it, so tool traffic is kept and searchable. Files and
attachments keep their metadata (name, size, type), never their extracted content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from satchel.portable.model import Attachment, ConversationRecord, MessageRecord, iso_utc
from satchel.portable.source import Source, iter_array

KIND = "claude"
PROVIDER = "claude"
URL = "https://claude.ai/chat/{id}"
# Claude writes this all-zero uuid as the parent of a conversation's first message.
_ROOT_PARENT = "00000000-0000-4000-8000-000000000000"
_ROLES = {"human": "user", "user": "user", "assistant": "assistant"}


def looks_like(item: Any) -> bool:
    return isinstance(item, dict) and "uuid" in item and isinstance(item.get("chat_messages"), list)


def parse(source: Source) -> Iterator[ConversationRecord]:
    with source.open() as reader:
        for item in iter_array(reader, source.label):
            record = convert(item)
            if record is not None:
                yield record


def convert(item: Any) -> ConversationRecord | None:
    if not looks_like(item):
        return None
    conv_id = _s(item.get("uuid"))
    if conv_id is None:
        return None
    messages: list[MessageRecord] = []
    previous: str | None = None
    has_tree = any(isinstance(m, dict) and "parent_message_uuid" in m for m in item["chat_messages"])
    for raw in item["chat_messages"]:
        if not isinstance(raw, dict):
            continue
        role = _ROLES.get(raw.get("sender"))
        msg_id = _s(raw.get("uuid"))
        if role is None or msg_id is None:
            continue
        parent = _s(raw.get("parent_message_uuid")) if has_tree else previous
        if parent == _ROOT_PARENT:
            parent = None
        created = iso_utc(raw.get("created_at"))
        text, tools, meta = _blocks(raw)
        attachments = _attachments(raw)
        last_id: str | None = msg_id
        if text.strip() or attachments:
            messages.append(
                MessageRecord(
                    id=msg_id, role=role, text=text, parent_id=parent, created_at=created,
                    attachments=attachments, meta=meta,
                )
            )
        else:
            last_id = parent
        for n, (tool_text, tool_meta) in enumerate(tools):
            if not tool_text.strip():
                continue
            tool_id = f"{msg_id}#tool{n}"
            messages.append(
                MessageRecord(
                    id=tool_id, role="tool", text=tool_text, parent_id=last_id, created_at=created,
                    meta=tool_meta,
                )
            )
            last_id = tool_id
        previous = last_id
    # Only the shown branch is exported by Claude; with parent ids, keep the thread flag honest anyway.
    if has_tree:
        _mark_thread(messages)
    return ConversationRecord(
        provider=PROVIDER,
        id=conv_id,
        title=_s(item.get("name")),
        url=URL.format(id=conv_id),
        model=_s(item.get("model")),
        created_at=iso_utc(item.get("created_at")),
        updated_at=iso_utc(item.get("updated_at")),
        messages=messages,
        meta={"summary": item["summary"]} if _s(item.get("summary")) else {},
    )


def _blocks(raw: dict[str, Any]) -> tuple[str, list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    blocks = raw.get("content")
    if not isinstance(blocks, list) or not blocks:
        return (raw.get("text") or "") if isinstance(raw.get("text"), str) else "", [], {}
    texts: list[str] = []
    thinking: list[str] = []
    tools: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and _s(block.get("thinking")):
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            payload = block.get("input")
            body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, sort_keys=True)
            tools.append((body, {"tool": _s(block.get("name")) or "tool", "block": "tool_use"}))
        elif kind == "tool_result":
            tools.append((_flatten(block.get("content")), {"tool": _s(block.get("name")) or "tool",
                                                          "block": "tool_result"}))
    text = "\n\n".join(t for t in texts if t)
    if not text and isinstance(raw.get("text"), str):
        text = raw["text"]
    meta: dict[str, Any] = {"thinking": "\n\n".join(thinking)} if thinking else {}
    return text, tools, meta


def _flatten(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_flatten(c) for c in content if c)
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        return json.dumps(content, ensure_ascii=False, sort_keys=True)
    return "" if content is None else str(content)


def _attachments(raw: dict[str, Any]) -> list[Attachment]:
    out: list[Attachment] = []
    for att in raw.get("attachments") or []:
        if isinstance(att, dict):
            out.append(
                Attachment(
                    id=_s(att.get("id")),
                    kind="file",
                    name=_s(att.get("file_name")),
                    mime_type=_s(att.get("file_type")),
                    size=att["file_size"] if isinstance(att.get("file_size"), int) else None,
                )
            )
    for f in raw.get("files") or []:
        if isinstance(f, dict):
            out.append(Attachment(id=_s(f.get("file_uuid") or f.get("uuid")), kind="file",
                                  name=_s(f.get("file_name"))))
    return out


def _mark_thread(messages: list[MessageRecord]) -> None:
    """On a tree, the shown branch is the path up from the last message."""
    by_id = {m.id: m for m in messages}
    on: set[str] = set()
    cursor = messages[-1].id if messages else None
    while cursor is not None and cursor in by_id and cursor not in on:
        on.add(cursor)
        cursor = by_id[cursor].parent_id
    for m in messages:
        m.on_thread = m.id in on


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
