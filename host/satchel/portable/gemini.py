"""Google Takeout "Gemini Apps" activity: `My Activity/Gemini Apps/MyActivity.json` (alone or in the zip).

The file is a list of activity entries, newest first, with no conversation id:
`{"header": "Gemini Apps", "title": "Prompted <prompt>", "time": ISO, "safeHtmlItem": [{"html": answer}]}`.

Grouping: entries are taken in file order (Takeout writes them sorted by time) and a new
conversation starts wherever two consecutive entries are more than GAP_MINUTES apart. A
conversation's id is derived from its earliest entry, so importing a later Takeout that adds turns
to the same session extends that conversation rather than duplicating it. Entries that are not a
prompt (feedback, settings changes) are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from satchel.portable.htmltext import html_to_text
from satchel.portable.model import Attachment, ConversationRecord, MessageRecord, iso_utc
from satchel.portable.source import Source, iter_array

KIND = "gemini"
PROVIDER = "gemini"
GAP_MINUTES = 30
_HEADERS = {"Gemini Apps", "Gemini", "Bard"}
_PROMPT_PREFIX = "Prompted "


def looks_like(item: Any) -> bool:
    if not isinstance(item, dict) or "time" not in item or "title" not in item:
        return False
    products = item.get("products") or []
    return item.get("header") in _HEADERS or any(p in _HEADERS for p in products if isinstance(p, str))


def parse(source: Source) -> Iterator[ConversationRecord]:
    with source.open() as reader:
        group: list[tuple[datetime, dict[str, Any]]] = []
        for item in iter_array(reader, source.label):
            turn = _turn(item)
            if turn is None:
                continue
            if group and abs((turn[0] - group[-1][0]).total_seconds()) > GAP_MINUTES * 60:
                yield _conversation(group)
                group = []
            group.append(turn)
        if group:
            yield _conversation(group)


def _turn(item: Any) -> tuple[datetime, dict[str, Any]] | None:
    if not looks_like(item):
        return None
    when = iso_utc(item.get("time"))
    title = item.get("title")
    if when is None or not isinstance(title, str):
        return None
    answers = [h.get("html") for h in item.get("safeHtmlItem") or [] if isinstance(h, dict)]
    answer = "\n\n".join(html_to_text(h) for h in answers if isinstance(h, str) and h)
    if title.startswith(_PROMPT_PREFIX):
        prompt = title[len(_PROMPT_PREFIX):]
    elif answer:
        prompt = title
    else:
        return None
    attachments: list[Attachment] = []
    for key, kind in (("attachedFiles", "file"), ("imageFile", "image"), ("imageFiles", "image")):
        value = item.get(key)
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str) and name:
                attachments.append(Attachment(name=name, kind=kind))
    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return moment, {"time": when, "prompt": prompt, "answer": answer, "attachments": attachments}


def _conversation(group: list[tuple[datetime, dict[str, Any]]]) -> ConversationRecord:
    group = sorted(group, key=lambda t: t[0])
    first = group[0][1]
    conv_id = "activity-" + hashlib.sha256(f"{first['time']}\n{first['prompt']}".encode()).hexdigest()[:20]
    messages: list[MessageRecord] = []
    parent: str | None = None
    for _, turn in group:
        key = turn["time"] + "#" + hashlib.sha256(turn["prompt"].encode()).hexdigest()[:8]
        if turn["prompt"].strip() or turn["attachments"]:
            messages.append(MessageRecord(id=f"{key}:prompt", role="user", text=turn["prompt"],
                                          parent_id=parent, created_at=turn["time"],
                                          attachments=turn["attachments"]))
            parent = messages[-1].id
        if turn["answer"].strip():
            messages.append(MessageRecord(id=f"{key}:answer", role="assistant", text=turn["answer"],
                                          parent_id=parent, created_at=turn["time"]))
            parent = messages[-1].id
    title = first["prompt"].strip().splitlines()[0][:80] if first["prompt"].strip() else None
    return ConversationRecord(
        provider=PROVIDER,
        id=conv_id,
        title=title,
        created_at=group[0][1]["time"],
        updated_at=group[-1][1]["time"],
        messages=messages,
        meta={"grouped_by": f"activity time gap > {GAP_MINUTES} min"},
    )
