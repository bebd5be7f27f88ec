"""ChatGPT data export: `conversations.json` (alone or inside the export zip).

Each conversation is a tree in `mapping`: node id -> {parent, children, message}. The visible
thread runs from `current_node` up through parents; every other branch (an edited prompt, a
regenerated answer) is kept too, with `on_thread = False`. Hidden nodes (the empty root, custom
instructions, visually hidden system prompts) are skipped and their children re-parented to the
nearest kept ancestor. Binary attachments are not in the JSON; their metadata is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from satchel.portable.model import Attachment, ConversationRecord, MessageRecord, iso_utc
from satchel.portable.source import Source, iter_array
from satchel.portable.tree import Node, visible_thread, walk

KIND = "chatgpt"
PROVIDER = "chatgpt"
URL = "https://chatgpt.com/c/{id}"

_HIDDEN_CONTENT = {"user_editable_context", "model_editable_context"}
_ASSET_KINDS = {
    "image_asset_pointer": "image",
    "audio_asset_pointer": "audio",
    "real_time_user_audio_video_asset_pointer": "audio",
    "video_container_asset_pointer": "video",
}


def looks_like(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("mapping"), dict)


def parse(source: Source) -> Iterator[ConversationRecord]:
    with source.open() as reader:
        for index, item in enumerate(iter_array(reader, source.label)):
            record = convert(item, index)
            if record is not None:
                yield record


def convert(item: Any, index: int = 0) -> ConversationRecord | None:
    if not looks_like(item):
        return None
    conv_id = _s(item.get("conversation_id")) or _s(item.get("id"))
    if conv_id is None:
        return None
    nodes: dict[str, Node] = {}
    for key, raw in item["mapping"].items():
        if not isinstance(raw, dict):
            continue
        node_id = _s(raw.get("id")) or str(key)
        children = [str(c) for c in raw.get("children") or [] if c is not None]
        nodes[node_id] = Node(node_id, _s(raw.get("parent")), children, raw.get("message"))
    thread = visible_thread(nodes, _s(item.get("current_node")))

    converted: dict[str, MessageRecord | None] = {}

    def keep(node: Node) -> bool:
        message = _message(node)
        converted[node.id] = message
        return message is not None

    messages: list[MessageRecord] = []
    for node, parent in walk(nodes, keep):
        message = converted[node.id]
        assert message is not None
        message.parent_id = parent
        message.on_thread = node.id in thread
        messages.append(message)

    meta: dict[str, Any] = {}
    for key in ("gizmo_id", "is_archived", "conversation_template_id"):
        if item.get(key):
            meta[key] = item[key]
    return ConversationRecord(
        provider=PROVIDER,
        id=conv_id,
        title=_s(item.get("title")),
        url=URL.format(id=conv_id),
        model=_s(item.get("default_model_slug")),
        created_at=iso_utc(item.get("create_time")),
        updated_at=iso_utc(item.get("update_time")),
        messages=messages,
        meta=meta,
    )


def _message(node: Node) -> MessageRecord | None:
    raw = node.payload
    if not isinstance(raw, dict):
        return None
    author = raw.get("author") or {}
    role = author.get("role")
    if role not in ("user", "assistant", "system", "tool"):
        return None
    metadata = raw.get("metadata") or {}
    content = raw.get("content") or {}
    content_type = content.get("content_type") or "text"
    if metadata.get("is_visually_hidden_from_conversation") or content_type in _HIDDEN_CONTENT:
        return None
    text, attachments = _content(content)
    for att in metadata.get("attachments") or []:
        if isinstance(att, dict):
            attachments.append(
                Attachment(
                    id=_s(att.get("id")),
                    name=_s(att.get("name")),
                    mime_type=_s(att.get("mime_type") or att.get("mimeType")),
                    size=_int(att.get("size")),
                    kind="file",
                )
            )
    if not text.strip() and not attachments:
        return None
    meta: dict[str, Any] = {}
    if content_type != "text":
        meta["content_type"] = content_type
    if _s(author.get("name")):
        meta["author_name"] = author["name"]
    recipient = raw.get("recipient")
    if isinstance(recipient, str) and recipient != "all":
        meta["recipient"] = recipient
    if content_type == "code" and _s(content.get("language")):
        meta["language"] = content["language"]
    return MessageRecord(
        id=node.id,
        role=role,
        text=text,
        created_at=iso_utc(raw.get("create_time")),
        model=_s(metadata.get("model_slug")),
        attachments=attachments,
        meta=meta,
    )


def _content(content: dict[str, Any]) -> tuple[str, list[Attachment]]:
    content_type = content.get("content_type")
    attachments: list[Attachment] = []
    pieces: list[str] = []
    parts = content.get("parts")
    if isinstance(parts, list):
        for part in parts:
            if isinstance(part, str):
                if part:
                    pieces.append(part)
            elif isinstance(part, dict):
                kind = part.get("content_type")
                if isinstance(part.get("text"), str) and part["text"]:  # audio transcription
                    pieces.append(part["text"])
                elif kind in _ASSET_KINDS:
                    meta = part.get("metadata") or {}
                    extra = {k: part[k] for k in ("width", "height") if isinstance(part.get(k), int)}
                    attachments.append(
                        Attachment(
                            id=_s(part.get("asset_pointer")),
                            kind=_ASSET_KINDS[kind],
                            size=_int(part.get("size_bytes")),
                            name=_s((meta.get("dalle") or {}).get("prompt")) if kind == "image_asset_pointer"
                            and isinstance(meta.get("dalle"), dict) else None,
                            extra=extra,
                        )
                    )
    elif content_type == "thoughts":
        for thought in content.get("thoughts") or []:
            if isinstance(thought, dict):
                piece = "\n".join(x for x in (thought.get("summary"), thought.get("content")) if _s(x))
                if piece:
                    pieces.append(piece)
    elif content_type == "tether_quote":
        pieces.extend(x for x in (content.get("title"), content.get("url"), content.get("text")) if _s(x))
    else:
        for key in ("text", "result", "content", "summary"):
            if _s(content.get(key)):
                pieces.append(content[key])
                break
    return "\n".join(pieces), attachments


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
