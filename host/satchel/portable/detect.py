"""Which importer reads a file: by zip members and the shape of the first JSON element, never by file name alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import ijson

from satchel.errors import ImportFailed
from satchel.portable import chatgpt, claude, gemini, openwebui
from satchel.portable.source import Source, first_array_item, json_error, zip_members

KINDS = ("chatgpt", "claude", "gemini", "openwebui", "satchel")
SATCHEL_FORMAT = "satchel-export"


def detect(path: Path | str) -> tuple[str, Source]:
    """(kind, source to read) for an export file or zip; ImportFailed with a reason when unknown."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if path.is_dir():
        raise ImportFailed(f"{path}: is a directory; give the export's zip or its JSON file")
    if path.stat().st_size == 0:
        raise ImportFailed(f"{path}: the file is empty")
    if zipfile.is_zipfile(path):
        return _detect_zip(path)
    with open(path, "rb") as fh:
        if fh.read(4) == b"PK\x03\x04":
            raise ImportFailed(f"{path}: a damaged or truncated zip file (was the download interrupted?)")
    return _detect_file(Source(path))


def _detect_zip(path: Path) -> tuple[str, Source]:
    members = zip_members(path)
    by_name: dict[str, list[str]] = {}
    for member in members:
        by_name.setdefault(member.rsplit("/", 1)[-1], []).append(member)
    for name in ("export.jsonl", "export.json"):
        if name in by_name:
            return _detect_file(Source(path, min(by_name[name], key=len)))
    if "conversations.json" in by_name:
        return _detect_file(Source(path, min(by_name["conversations.json"], key=len)))
    for member in members:
        if member.endswith("MyActivity.json") and "gemini" in member.lower():
            return _detect_file(Source(path, member))
    for member in members:
        if member.endswith("MyActivity.json") or member.endswith(".json"):
            try:
                return _detect_file(Source(path, member))
            except ImportFailed:
                continue
    raise ImportFailed(
        f"{path}: a zip without conversations.json, export.json(l) or a Gemini MyActivity.json; "
        "is this a ChatGPT, Claude, Google Takeout or Satchel export?"
    )


def _detect_file(source: Source) -> tuple[str, Source]:
    try:
        shape, head = first_array_item(source)
    except ImportFailed:
        raise
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise ImportFailed(f"{source.label}: not valid JSON ({json_error(exc)})") from exc
    if shape == "array":
        if head is None:
            raise ImportFailed(f"{source.label}: an empty list; nothing to import")
        for module in (chatgpt, claude, openwebui, gemini):
            if module.looks_like(head):
                return module.KIND, source
        raise ImportFailed(f"{source.label}: a JSON list of an unknown kind (first item keys: {_keys(head)})")
    if shape == "object":
        kind = _object_kind(source, head)
        if kind is not None:
            return kind, source
        raise ImportFailed(f"{source.label}: a JSON object of an unknown kind")
    if shape == "empty":
        raise ImportFailed(f"{source.label}: the file is empty")
    raise ImportFailed(f"{source.label}: not a JSON export (it does not start with [ or {{)")


def _object_kind(source: Source, head: bytes) -> str | None:
    # JSONL: the first line is a whole object (the Satchel header).
    first_line = head.split(b"\n", 1)[0].strip()
    if b"\n" in head:
        try:
            header = json.loads(first_line)
        except ValueError:
            header = None
        if isinstance(header, dict) and header.get("format") == SATCHEL_FORMAT:
            return "satchel"
    # One JSON object: look at its top-level keys in order, stopping early.
    with source.open() as reader:
        try:
            depth_keys = 0
            for prefix, event, value in ijson.parse(reader):
                if prefix == "format" and event == "string":
                    return "satchel" if value == SATCHEL_FORMAT else None
                if prefix == "" and event == "map_key":
                    depth_keys += 1
                    if value == "chat":
                        return "openwebui"
                    if depth_keys > 64:
                        return None
        except ijson.JSONError as exc:
            raise ImportFailed(f"{source.label}: the JSON is damaged or truncated ({json_error(exc)})") from exc
    return None


def _keys(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(sorted(map(str, item))[:12]) or "none"
    return type(item).__name__
