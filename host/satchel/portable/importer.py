"""`satchel import FILE`: detect the kind, stream the records into the vault in one transaction."""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from satchel.errors import ImportFailed, InvalidParams, SatchelError
from satchel.portable import chatgpt, claude, gemini, openwebui, satchel_format
from satchel.portable.detect import detect
from satchel.portable.model import ConversationRecord
from satchel.portable.source import Source

READERS: dict[str, ModuleType] = {
    "chatgpt": chatgpt,
    "claude": claude,
    "gemini": gemini,
    "openwebui": openwebui,
    "satchel": satchel_format,
}
PROGRESS_EVERY = 0.25  # seconds between progress callbacks

Progress = Callable[[dict[str, Any]], None]


def read_file(path: Path | str) -> tuple[str, Iterator[ConversationRecord]]:
    """(kind, records) without touching a vault: for previews, tests and other tools."""
    kind, source = detect(path)
    return kind, READERS[kind].parse(source)


def run_import(vault: Any, path: Path | str, progress: Progress | None = None) -> dict[str, Any]:
    """Import one export file into `vault` (a `satchel.vault.store.Vault`); all of it or nothing.

    Returns {"kind", "file", "conversations", "messages", "added", "updated", "unchanged", "seconds"}.
    Importing the same file again adds nothing (the store's content hashes decide). `progress`, if
    given, receives {"phase", "kind", "conversations", "messages", "bytes_read", "bytes_total"} a few
    times a second and once at the end.
    """
    started = time.monotonic()
    path = Path(path).expanduser()
    kind, source = detect(path)
    reader = READERS[kind]
    bytes_total = _size(source)
    state = {"phase": "importing", "kind": kind, "conversations": 0, "messages": 0,
             "bytes_read": 0, "bytes_total": bytes_total}
    last_report = [0.0]

    def report(force: bool = False) -> None:
        if progress is None:
            return
        now = time.monotonic()
        if force or now - last_report[0] >= PROGRESS_EVERY:
            last_report[0] = now
            state["bytes_read"] = source.bytes_read
            progress(dict(state))

    def items() -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        for record in reader.parse(source):
            if not record.messages:
                continue
            conversation = record.conversation_dict()
            if record.source:
                conversation["source"] = record.source
            for batch in record.capture_batches():
                yield conversation, batch
            state["conversations"] += 1
            state["messages"] += len(record.messages)
            report()

    report(force=True)
    try:
        totals = vault.import_batch(items(), source=f"import:{kind}")
    except InvalidParams as exc:  # a field the vault refused: the file is at fault, not the caller
        raise ImportFailed(f"{source.label}: {exc.message}; nothing was imported") from exc
    except SatchelError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ImportFailed(f"{source.label}: the zip file is damaged ({exc}); nothing was imported") from exc
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError) as exc:
        raise ImportFailed(f"{source.label}: {type(exc).__name__}: {exc}; nothing was imported") from exc
    if state["conversations"] == 0:
        raise ImportFailed(f"{source.label}: no conversations found in this {kind} export; nothing was imported")
    memories = 0
    if kind == "satchel":  # the open format carries distilled memories too, linked to their turns
        from satchel.vault.memories import import_memories

        try:
            memories = import_memories(vault, [obj for what, obj in satchel_format.iter_records(source)
                                               if what == "memory"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportFailed(f"{source.label}: a memory record is malformed: {exc}") from exc
    state["phase"] = "done"
    state["bytes_read"] = bytes_total
    if progress is not None:
        progress(dict(state))
    return {
        "kind": kind,
        "file": str(path),
        "conversations": state["conversations"],
        "messages": state["messages"],
        "added": totals.get("added", 0),
        "updated": totals.get("updated", 0),
        "unchanged": totals.get("unchanged", 0),
        "memories": memories,
        "seconds": round(time.monotonic() - started, 3),
    }


def _size(source: Source) -> int:
    try:
        return source.size
    except (OSError, KeyError):
        return 0
