"""Satchel's own portable format, version 1 (shared-schema/portable/satchel-export-1.schema.json).

Two spellings of the same document:
* JSON  — one object `{"format", "version", "exported_at", …, "conversations": [...], "memories": [...]}`.
* JSONL — a header line `{"type": "header", "format", "version", …}` then one `{"type": "conversation", …}`
  or `{"type": "memory", …}` object per line: a reader never holds more than one conversation.
Both can sit in a zip bundle as `export.json` or `export.jsonl`, beside an optional `embeddings.jsonl`.

This module reads both and turns their records into the objects importers yield; `export.py` writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ijson
from ijson.common import ObjectBuilder

from satchel.errors import ImportFailed
from satchel.portable.model import (
    ROLES,
    Attachment,
    ConversationRecord,
    MessageRecord,
    MessageVersion,
    content_hash,
    iso_utc,
)
from satchel.portable.source import Source, json_error

KIND = "satchel"
FORMAT = "satchel-export"
VERSION = 1
# Readers accept any document whose major version they know; unknown fields are ignored.
SUPPORTED_VERSIONS = {1}


def parse(source: Source) -> Iterator[ConversationRecord]:
    for kind, obj in iter_records(source):
        if kind == "conversation":
            yield conversation_from_dict(obj, source.label)


def iter_records(source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
    """("header"|"conversation"|"memory", object) in file order, for either spelling."""
    with source.open() as reader:
        head = reader.read(1 << 12)
    first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    if b'"type"' in first_line and b'"header"' in first_line:
        yield from _iter_jsonl(source)
    else:
        yield from _iter_json(source)


def _check_header(header: dict[str, Any], label: str) -> None:
    if header.get("format") != FORMAT:
        raise ImportFailed(f"{label}: not a Satchel export (format is {header.get('format')!r})")
    version = header.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise ImportFailed(
            f"{label}: Satchel export version {version!r}; this Satchel reads version(s) "
            f"{', '.join(map(str, sorted(SUPPORTED_VERSIONS)))} — upgrade Satchel to import it"
        )


def _iter_jsonl(source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
    import json

    with source.open() as reader:
        header_seen = False
        for number, raw in enumerate(_lines(reader), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise ImportFailed(f"{source.label}: line {number} is not valid JSON ({exc})") from exc
            if not isinstance(obj, dict):
                raise ImportFailed(f"{source.label}: line {number} is not a JSON object")
            kind = obj.get("type")
            if not header_seen:
                if kind != "header":
                    raise ImportFailed(f"{source.label}: the first line must be the header")
                _check_header(obj, source.label)
                header_seen = True
                yield "header", obj
            elif kind in ("conversation", "memory"):
                yield kind, obj
            # Other line types are from a newer minor revision: skipped, as documented.
        if not header_seen:
            raise ImportFailed(f"{source.label}: no header line")


def _lines(reader: Any) -> Iterator[bytes]:
    buffered = b""
    while True:
        chunk = reader.read(1 << 20)
        if not chunk:
            break
        buffered += chunk
        *complete, buffered = buffered.split(b"\n")
        yield from complete
    if buffered.strip():
        yield buffered


def _iter_json(source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
    header: dict[str, Any] = {}
    checked = False
    builder: ObjectBuilder | None = None
    building = ""
    with source.open() as reader:
        try:
            for prefix, event, value in ijson.parse(reader, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if prefix == building and event == "end_map":
                        if not checked:
                            _check_header(header, source.label)
                            checked = True
                            yield "header", header
                        yield ("conversation" if building == "conversations.item" else "memory"), builder.value
                        builder = None
                    continue
                if event == "start_map" and prefix in ("conversations.item", "memories.item"):
                    builder, building = ObjectBuilder(), prefix
                    builder.event(event, value)
                elif "." not in prefix and prefix and event in ("string", "number", "boolean", "null"):
                    header[prefix] = value
                elif prefix == "" and event == "start_array":
                    raise ImportFailed(f"{source.label}: a JSON list, not a Satchel export")
        except ijson.JSONError as exc:
            raise ImportFailed(f"{source.label}: the JSON is damaged or truncated ({json_error(exc)})") from exc
    if not checked:
        _check_header(header, source.label)
        yield "header", header


def conversation_from_dict(obj: dict[str, Any], label: str = "") -> ConversationRecord:
    where = f"{label}: conversation {obj.get('provider')!r}/{obj.get('id')!r}"
    provider, conv_id = obj.get("provider"), obj.get("id")
    if not isinstance(provider, str) or not provider or not isinstance(conv_id, str) or not conv_id:
        raise ImportFailed(f"{where}: provider and id must be non-empty strings")
    raw_messages = obj.get("messages")
    if not isinstance(raw_messages, list):
        raise ImportFailed(f"{where}: messages must be a list")
    messages: list[MessageRecord] = []
    for n, m in enumerate(raw_messages):
        if not isinstance(m, dict):
            raise ImportFailed(f"{where}: message {n} is not an object")
        if m.get("role") not in ROLES or not isinstance(m.get("text"), str) or not isinstance(m.get("id"), str):
            raise ImportFailed(f"{where}: message {n} needs id, role ({'/'.join(ROLES)}) and text")
        declared = m.get("content_hash")
        if declared is not None and declared != content_hash(m["text"]):
            raise ImportFailed(f"{where}: message {m['id']!r} does not match its content_hash (damaged?)")
        versions = [
            MessageVersion(text=v["text"], captured_at=v.get("captured_at"))
            for v in m.get("versions") or []
            if isinstance(v, dict) and isinstance(v.get("text"), str)
        ]
        messages.append(
            MessageRecord(
                id=m["id"],
                role=m["role"],
                text=m["text"],
                parent_id=m.get("parent_id") if isinstance(m.get("parent_id"), str) else None,
                created_at=_time(m.get("created_at"), f"{where}: message {m['id']!r} created_at"),
                model=m.get("model") if isinstance(m.get("model"), str) else None,
                on_thread=m.get("on_thread", True) is not False,
                attachments=[Attachment.from_dict(a) for a in m.get("attachments") or [] if isinstance(a, dict)],
                versions=versions,
                meta=dict(m.get("meta") or {}),
            )
        )
    return ConversationRecord(
        provider=provider,
        id=conv_id,
        title=obj.get("title") if isinstance(obj.get("title"), str) else None,
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        model=obj.get("model") if isinstance(obj.get("model"), str) else None,
        created_at=_time(obj.get("created_at"), f"{where}: created_at"),
        updated_at=_time(obj.get("updated_at"), f"{where}: updated_at"),
        messages=messages,
        meta=dict(obj.get("meta") or {}),
        source=obj["source"] if isinstance(obj.get("source"), str) else None,
    )


def _time(value: Any, where: str) -> str | None:
    if value is None:
        return None
    normalised = iso_utc(value) if isinstance(value, str) else None
    if normalised is None:
        raise ImportFailed(f"{where} is not an ISO-8601 time: {str(value)[:40]!r}")
    return normalised
