"""What every importer yields: provider-neutral conversation records, ready for `Vault.capture`."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ROLES = ("user", "assistant", "system", "tool")


def canonical_text(text: str) -> str:
    """The text a content hash is taken over: NFC, LF line ends, no trailing whitespace at the end."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).rstrip()


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(canonical_text(text).encode("utf-8")).hexdigest()


def iso_utc(value: Any) -> str | None:
    """Epoch seconds (int/float, or ms/µs/ns by magnitude) or an ISO-8601 string → `YYYY-MM-DDTHH:MM:SS.fffZ`.

    Millisecond precision is the canonical form everywhere in the portable format, so a value
    survives a round trip through any store that keeps at least milliseconds.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds != seconds or seconds <= 0:  # NaN or the epoch placeholder some exports use
            return None
        while seconds > 1e11:  # ms, µs or ns
            seconds /= 1000.0
        try:
            # Round to the millisecond first, so 0.9995 s does not print as .999 on one side and 1.000 on another.
            moment = datetime.fromtimestamp(round(seconds, 3), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    elif isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        return None
    if moment.year < 1000:  # isoformat pads years differently from the canonical form
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass(slots=True)
class Attachment:
    """Metadata of a file, image or audio clip attached to a message. Binary content is never imported."""

    name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    id: str | None = None
    kind: str | None = None  # "file" | "image" | "audio" | …
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("id", "kind", "name", "mime_type", "size"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        size = data.get("size")
        return cls(
            name=_str_or_none(data.get("name")),
            mime_type=_str_or_none(data.get("mime_type")),
            size=int(size) if isinstance(size, int | float) and not isinstance(size, bool) else None,
            id=_str_or_none(data.get("id")),
            kind=_str_or_none(data.get("kind")),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(slots=True)
class MessageVersion:
    """An earlier text of a message (edited or regenerated in place), oldest first."""

    text: str
    captured_at: str | None = None


@dataclass(slots=True)
class MessageRecord:
    id: str
    role: str
    text: str
    parent_id: str | None = None
    created_at: str | None = None
    model: str | None = None
    # False for messages on a branch the provider is not showing (an edit or regeneration left behind).
    on_thread: bool = True
    attachments: list[Attachment] = field(default_factory=list)
    # Earlier texts, oldest first; `text` is the current one.
    versions: list[MessageVersion] = field(default_factory=list)
    # Provider details worth keeping that have no column (tool name, content type, citations…).
    meta: dict[str, Any] = field(default_factory=dict)

    def capture_dicts(self) -> list[dict[str, Any]]:
        """The message as `capture` takes it; one dict per version, oldest first, so history is rebuilt."""
        meta = dict(self.meta)
        if self.attachments:
            meta["attachments"] = [a.to_dict() for a in self.attachments]
        current = {
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "created_at": self.created_at,
            "parent_id": self.parent_id,
            "model": self.model,
            "on_thread": self.on_thread,
            "meta": meta,
        }
        earlier = [{**current, "text": v.text} for v in self.versions]
        return [*earlier, current]


@dataclass(slots=True)
class ConversationRecord:
    provider: str
    id: str
    title: str | None = None
    url: str | None = None
    model: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    messages: list[MessageRecord] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    # Provenance carried by a Satchel export ("capture", "import:chatgpt"); None means "this import".
    source: str | None = None

    def conversation_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": self.provider, "id": self.id}
        for key in ("title", "url", "model", "created_at", "updated_at"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.meta:
            out["meta"] = self.meta
        return out

    def capture_batches(self) -> list[list[dict[str, Any]]]:
        """Messages split into successive `capture` calls: batch k holds version k of every message.

        Sending every message's current text in the last batch means the store sees the history in
        the order it happened, and a plain re-import (no versions) is unchanged.
        """
        per_message = [m.capture_dicts() for m in self.messages]
        depth = max((len(d) for d in per_message), default=1)
        batches: list[list[dict[str, Any]]] = []
        for level in range(depth):
            batch = []
            for dicts in per_message:
                # A message with fewer versions repeats its oldest text until its own history starts.
                offset = depth - len(dicts)
                batch.append(dicts[max(0, level - offset)])
            batches.append(batch)
        return batches

    @property
    def message_count(self) -> int:
        return len(self.messages)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
