"""Open WebUI chat export ("Export All Chats" or one chat's JSON download).

A row is `{id, title, created_at, updated_at, chat: {models, history: {messages: {id: msg}, currentId}}}`;
a message has `parentId`, `childrenIds`, `role`, `content`, `timestamp`, `model` and `files`. The
visible thread runs from `history.currentId` up through parents; other branches are kept with
`on_thread = False`. File and image metadata is kept; inline data URLs are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from satchel.portable.model import Attachment, ConversationRecord, MessageRecord, iso_utc
from satchel.portable.source import Source, first_array_item, iter_array
from satchel.portable.tree import Node, visible_thread, walk

KIND = "openwebui"
PROVIDER = "openwebui"


def looks_like(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    chat = item.get("chat")
    return isinstance(chat, dict) and ("history" in chat or "messages" in chat)


def parse(source: Source) -> Iterator[ConversationRecord]:
    shape, _ = first_array_item(source)
    with source.open() as reader:
        items = iter_array(reader, source.label, "item" if shape == "array" else "")
        for item in items:
            record = convert(item)
            if record is not None:
                yield record


def convert(item: Any) -> ConversationRecord | None:
    if not looks_like(item):
        return None
    chat = item["chat"]
    conv_id = _s(item.get("id")) or _s(chat.get("id"))
    if conv_id is None:
        return None
    history = chat.get("history") if isinstance(chat.get("history"), dict) else {}
    raw_messages = history.get("messages") if isinstance(history.get("messages"), dict) else {}
    if not raw_messages and isinstance(chat.get("messages"), list):  # very old exports: a flat list
        previous = None
        for m in chat["messages"]:
            if isinstance(m, dict) and _s(m.get("id")):
                raw_messages[m["id"]] = {**m, "parentId": m.get("parentId", previous)}
                previous = m["id"]
    nodes: dict[str, Node] = {}
    for key, raw in raw_messages.items():
        if isinstance(raw, dict):
            node_id = _s(raw.get("id")) or str(key)
            children = [str(c) for c in raw.get("childrenIds") or [] if c is not None]
            nodes[node_id] = Node(node_id, _s(raw.get("parentId")), children, raw)
    # Children lists are sometimes missing in older exports; rebuild them from parent links.
    for node in nodes.values():
        parent = nodes.get(node.parent) if node.parent else None
        if parent is not None and node.id not in parent.children:
            parent.children.append(node.id)
    thread = visible_thread(nodes, _s(history.get("currentId")))

    converted: dict[str, MessageRecord | None] = {}

    def keep(node: Node) -> bool:
        converted[node.id] = _message(node)
        return converted[node.id] is not None

    messages: list[MessageRecord] = []
    for node, parent in walk(nodes, keep):
        message = converted[node.id]
        assert message is not None
        message.parent_id = parent
        message.on_thread = node.id in thread
        messages.append(message)

    models = [m for m in chat.get("models") or [] if isinstance(m, str)]
    meta: dict[str, Any] = {}
    tags = [t.get("name") if isinstance(t, dict) else t for t in chat.get("tags") or []]
    if [t for t in tags if isinstance(t, str)]:
        meta["tags"] = [t for t in tags if isinstance(t, str)]
    if item.get("folder_id"):
        meta["folder_id"] = item["folder_id"]
    return ConversationRecord(
        provider=PROVIDER,
        id=conv_id,
        title=_s(item.get("title")) or _s(chat.get("title")),
        model=models[0] if models else None,
        created_at=iso_utc(item.get("created_at") or chat.get("timestamp")),
        updated_at=iso_utc(item.get("updated_at")),
        messages=messages,
        meta=meta,
    )


def _message(node: Node) -> MessageRecord | None:
    raw = node.payload
    role = raw.get("role")
    if role not in ("user", "assistant", "system", "tool"):
        return None
    content = raw.get("content")
    if isinstance(content, list):  # OpenAI-style content parts
        content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    attachments: list[Attachment] = []
    for f in raw.get("files") or []:
        if not isinstance(f, dict):
            continue
        inner = f.get("file") if isinstance(f.get("file"), dict) else {}
        inner_meta = inner.get("meta") if isinstance(inner.get("meta"), dict) else {}
        url = f.get("url") if isinstance(f.get("url"), str) else None
        extra = {"url": url} if url and not url.startswith("data:") else {}
        attachments.append(
            Attachment(
                id=_s(f.get("id")) or _s(inner.get("id")),
                kind=_s(f.get("type")) or "file",
                name=_s(f.get("name")) or _s(inner.get("filename")) or _s(inner_meta.get("name")),
                mime_type=_s(inner_meta.get("content_type")),
                size=_int(f.get("size")) or _int(inner_meta.get("size")),
                extra=extra,
            )
        )
    if not text.strip() and not attachments:
        return None
    return MessageRecord(
        id=node.id,
        role=role,
        text=text,
        created_at=iso_utc(raw.get("timestamp")),
        model=_s(raw.get("model")),
        attachments=attachments,
        meta={"model_name": raw["modelName"]} if _s(raw.get("modelName")) else {},
    )


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
