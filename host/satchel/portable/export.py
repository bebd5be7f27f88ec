"""`satchel export`: the vault (or a filtered part) as a Satchel portable document, a zip bundle, or Markdown.

Canonical form, so export → import into an empty vault → export is byte-identical:
* conversations sorted by (provider, id); messages in the vault's conversation order (the order in
  which an importer replays them, which it keeps);
* every object written with sorted keys, no insignificant whitespace, UTF-8 (not \\u-escaped);
  absent values are omitted rather than written as null; times as `YYYY-MM-DDTHH:MM:SS.fffZ`;
* nothing that records *when this vault* saw a thing (captured_at, internal ids) — those differ
  from vault to vault; the only varying field is the header's `exported_at`, which the caller can
  pin (`exported_at=` or SOURCE_DATE_EPOCH) for reproducible output.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from satchel import __version__
from satchel.errors import InvalidParams
from satchel.portable.model import content_hash, iso_utc
from satchel.portable.satchel_format import FORMAT, VERSION

FORMATS = ("json", "jsonl", "zip", "markdown")
PAGE = 2000
Progress = Callable[[dict[str, Any]], None]


def dumps(obj: Any) -> str:
    """The canonical JSON spelling of one value."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def resolve_exported_at(exported_at: str | None = None) -> str:
    if exported_at is not None:
        value = iso_utc(exported_at)
        if value is None:
            raise InvalidParams(f"exported_at is not a time: {exported_at!r}")
        return value
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return iso_utc(int(epoch)) or iso_utc(time.time())  # type: ignore[return-value]
    return iso_utc(time.time())  # type: ignore[return-value]


# ----------------------------------------------------------------- reading the vault


def _normalise_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    filters = dict(filters or {})
    out: dict[str, Any] = {}
    if filters.get("provider"):
        out["provider"] = str(filters["provider"])
    conv = filters.get("conversation")
    if isinstance(conv, str):
        if "/" not in conv:
            raise InvalidParams("conversation filter must be PROVIDER/ID")
        provider, _, conv_id = conv.partition("/")
        conv = {"provider": provider, "id": conv_id}
    if conv:
        if not isinstance(conv, dict) or not conv.get("provider") or not conv.get("id"):
            raise InvalidParams("conversation filter needs provider and id")
        out["conversation"] = {"provider": str(conv["provider"]), "id": str(conv["id"])}
    if filters.get("since"):
        since = iso_utc(filters["since"])
        if since is None:
            raise InvalidParams(f"since is not a date or time: {filters['since']!r}")
        out["since"] = since
    return out


def conversation_keys(vault: Any, filters: dict[str, Any]) -> list[tuple[str, str]]:
    if "conversation" in filters:
        ref = filters["conversation"]
        vault.get_conversation(ref["provider"], ref["id"], limit=1)  # NotFound if it is not there
        return [(ref["provider"], ref["id"])]
    keys = list(vault.iter_conversation_keys(provider=filters.get("provider"), since=filters.get("since")))
    return sorted(keys)


def portable_conversation(vault: Any, provider: str, conv_id: str) -> dict[str, Any]:
    """One conversation in the portable shape (see satchel-export-1.schema.json#/$defs/conversation)."""
    offset: int | None = 0
    conv: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    while offset is not None:
        page = vault.get_conversation(provider, conv_id, offset=offset, limit=PAGE, history=True)
        conv = page["conversation"]
        messages.extend(_portable_message(m) for m in page["messages"])
        offset = page.get("next_offset")
    times = [m["created_at"] for m in messages if m.get("created_at")]
    created = iso_utc(conv.get("created_at")) or (min(times) if times else None)
    out: dict[str, Any] = {
        "provider": conv["provider"],
        "id": conv["id"],
        "title": conv.get("title"),
        "url": conv.get("url"),
        "model": conv.get("model"),
        "created_at": created,
        # The time of the latest message: deterministic, unlike when this vault last captured it.
        "updated_at": max(times) if times else created,
        "source": conv.get("source") or "capture",
        "messages": messages,
    }
    return {k: v for k, v in out.items() if v is not None}


def _portable_message(m: dict[str, Any]) -> dict[str, Any]:
    meta = dict(m.get("meta") or {})
    attachments = meta.pop("attachments", None) or []
    meta.pop("on_thread", None)
    out: dict[str, Any] = {
        "id": m["id"],
        "parent_id": m.get("parent_id"),
        "role": m["role"],
        "text": m["text"],
        "content_hash": content_hash(m["text"]),
        "created_at": iso_utc(m.get("created_at")),
        "model": m.get("model"),
        "on_thread": bool(m.get("on_thread", True)),
    }
    if attachments:
        out["attachments"] = attachments
    history = [v for v in m.get("history") or [] if isinstance(v.get("text"), str)]
    if history:
        out["versions"] = [{"text": v["text"], "content_hash": content_hash(v["text"])} for v in history]
    if meta:
        out["meta"] = meta
    return {k: v for k, v in out.items() if v is not None}


def iter_memories(vault: Any) -> Iterator[dict[str, Any]]:
    """Distilled memories with links to their source turns, if the vault has any.

    Uses the vault's `iter_memories()` when it offers one; until then reads the documented tables
    (memories, memory_sources) under the vault's lock, read-only.
    """
    method = getattr(vault, "iter_memories", None)
    if callable(method):
        yield from method()
        return
    db = getattr(vault, "db", None)
    if db is None:
        return
    with vault.lock:
        try:
            rows = db.execute(
                "SELECT id, kind, text, status, pinned, valid_from, valid_to, superseded_by, created_at, updated_at,"
                " origin FROM memories ORDER BY id").fetchall()
            links = db.execute(
                "SELECT s.memory_id, c.provider, c.external_id, m.external_id FROM memory_sources s"
                " JOIN messages m ON m.id = s.message_id JOIN conversations c ON c.id = m.conversation_id"
                " ORDER BY 1, 2, 3, 4").fetchall()
        except Exception:
            return
    sources: dict[int, list[dict[str, str]]] = {}
    for memory_id, provider, conv_id, message_id in links:
        sources.setdefault(memory_id, []).append(
            {"provider": provider, "conversation_id": conv_id, "message_id": message_id})
    for r in rows:
        item = {
            "id": f"mem-{r[0]}", "kind": r[1], "text": r[2], "status": r[3], "pinned": bool(r[4]),
            "valid_from": iso_utc(r[5]), "valid_to": iso_utc(r[6]),
            "superseded_by": f"mem-{r[7]}" if r[7] is not None else None,
            "created_at": iso_utc(r[8]), "updated_at": iso_utc(r[9]), "origin": r[10],
            "sources": sources.get(r[0], []),
        }
        yield {k: v for k, v in item.items() if v is not None}


def _marks(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


def _embedding_rows(vault: Any, db: Any, model: str,
                    keys: set[tuple[str, str]] | None) -> Iterator[dict[str, Any]]:
    # Cursors of their own read a consistent snapshot while the owner keeps serving on the main connection.
    # Only the keys are sorted (a sort or join dragging every vector along outgrows DuckDB's memory limit at
    # 100k messages); vectors and texts are then looked up by primary key, a batch at a time.
    with vault.lock:
        order = db.cursor()
        lookup = db.cursor()
        result = order.execute(
            "SELECT c.provider, c.external_id, m.external_id, ch.ordinal, ch.id, m.id, ch.start, ch.stop"
            " FROM chunks ch JOIN messages m ON m.id = ch.message_id JOIN conversations c ON c.id = m.conversation_id"
            " WHERE ch.id IN (SELECT chunk_id FROM embeddings WHERE model = ?)"
            " ORDER BY c.provider, c.external_id, m.ordinal, m.id, ch.ordinal", [model])
    try:
        while batch := result.fetchmany(2048):
            if keys is not None:
                batch = [r for r in batch if (r[0], r[1]) in keys]
            if not batch:
                continue
            chunk_ids = [r[4] for r in batch]
            message_ids = sorted({r[5] for r in batch})
            vectors = dict(lookup.execute(
                f"SELECT chunk_id, vector FROM embeddings WHERE model = ? AND chunk_id IN ({_marks(chunk_ids)})",
                [model, *chunk_ids]).fetchall())
            texts = dict(lookup.execute(f"SELECT id, text FROM messages WHERE id IN ({_marks(message_ids)})",
                                        message_ids).fetchall())
            for provider, conv_id, message_id, ordinal, chunk_id, message_pk, start, stop in batch:
                yield {"provider": provider, "conversation_id": conv_id, "message_id": message_id,
                       "chunk": ordinal, "chunk_hash": content_hash(texts[message_pk][start:stop]),
                       "vector": base64.b64encode(bytes(vectors[chunk_id])).decode("ascii")}
    finally:
        order.close()
        lookup.close()


def iter_embeddings(vault: Any, keys: set[tuple[str, str]] | None) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """(header, rows) of the vectors the vault holds for the current model, keyed by message and chunk."""
    db = vault.db
    with vault.lock:
        models = db.execute("SELECT model, count(*) FROM embeddings GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    if not models:
        return {}, iter(())
    model = models[0][0]

    def rows() -> Iterator[dict[str, Any]]:
        bulk = getattr(vault, "roomy", None)
        with bulk() if bulk is not None else contextlib.nullcontext():
            yield from _embedding_rows(vault, db, model, keys)

    dim = None
    with vault.lock:
        first = db.execute("SELECT vector FROM embeddings WHERE model = ? LIMIT 1", [model]).fetchone()
    if first is not None:
        dim = len(bytes(first[0])) // 4
    header = {"type": "header", "format": "satchel-embeddings", "version": VERSION, "model": model, "dim": dim,
              "dtype": "float32", "byte_order": "little", "encoding": "base64"}
    return header, rows()


# ----------------------------------------------------------------- writing


def run_export(vault: Any, dest: Path | str, fmt: str = "json", filters: dict[str, Any] | None = None,
               progress: Progress | None = None, *, exported_at: str | None = None,
               include_embeddings: bool = False) -> dict[str, Any]:
    """Write the vault (or the part `filters` selects) to `dest`.

    fmt: "json" (one document), "jsonl" (header line + one conversation per line), "zip" (export.jsonl,
    plus embeddings.jsonl when `include_embeddings`), "markdown" (`dest` is a directory; one file per
    conversation). filters: {"provider"?: str, "conversation"?: {"provider", "id"} | "provider/id",
    "since"?: ISO date}. Returns {"format", "path", "conversations", "messages", "memories", "files"}.
    """
    if fmt not in FORMATS:
        raise InvalidParams(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    dest = Path(dest).expanduser()
    flt = _normalise_filters(filters)
    stamp = resolve_exported_at(exported_at)
    keys = conversation_keys(vault, flt)
    counts = {"conversations": 0, "messages": 0, "memories": 0}
    last = [0.0]

    def conversations() -> Iterator[dict[str, Any]]:
        for provider, conv_id in keys:
            conv = portable_conversation(vault, provider, conv_id)
            counts["conversations"] += 1
            counts["messages"] += len(conv["messages"])
            if progress is not None and (time.monotonic() - last[0] > 0.25 or counts["conversations"] == len(keys)):
                last[0] = time.monotonic()
                progress({"phase": "exporting", "conversations": counts["conversations"], "total": len(keys),
                          "messages": counts["messages"]})
            yield conv

    def memories() -> Iterator[dict[str, Any]]:
        # A filtered export carries only memories whose sources are all inside it.
        wanted = None if not flt else set(keys)
        for memory in iter_memories(vault):
            refs = {(s["provider"], s["conversation_id"]) for s in memory.get("sources", [])}
            if wanted is None or (refs and refs <= wanted):
                counts["memories"] += 1
                yield memory

    header = {"format": FORMAT, "version": VERSION, "exported_at": stamp, "generator": f"satchel {__version__}"}
    if flt:
        header["filters"] = flt
    files = 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        with _atomic(dest) as fh:
            write_json(fh, header, conversations(), memories())
    elif fmt == "jsonl":
        with _atomic(dest) as fh:
            write_jsonl(fh, header, conversations(), memories())
    elif fmt == "zip":
        tmp = dest.with_name(dest.name + ".partial")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            with zf.open(_zipinfo("export.jsonl"), "w") as raw:
                write_jsonl(_TextSink(raw), header, conversations(), memories())
            if include_embeddings:
                emb_header, rows = iter_embeddings(vault, set(keys))
                if emb_header:
                    with zf.open(_zipinfo("embeddings.jsonl"), "w") as raw:
                        sink = _TextSink(raw)
                        sink.write(dumps(emb_header) + "\n")
                        for row in rows:
                            sink.write(dumps(row) + "\n")
                    files += 1
        os.replace(tmp, dest)
    else:
        files = write_markdown(dest, conversations(), stamp)
    if progress is not None:
        progress({"phase": "done", **counts, "total": len(keys)})
    return {"format": fmt, "path": str(dest), **counts, "files": files, "exported_at": stamp}


def write_json(fh: IO[str], header: dict[str, Any], conversations: Iterator[dict[str, Any]],
               memories: Iterator[dict[str, Any]]) -> None:
    """One JSON document; one conversation per line inside it, so it streams out and diffs well."""
    fh.write("{")
    for key in ("format", "version", "exported_at", "generator", "filters"):
        if key in header:
            fh.write(f"{dumps(key)}:{dumps(header[key])},")
    fh.write('"conversations":[')
    for n, conv in enumerate(conversations):
        fh.write(("," if n else "") + "\n" + dumps(conv))
    fh.write('\n],"memories":[')
    for n, memory in enumerate(memories):
        fh.write(("," if n else "") + "\n" + dumps(memory))
    fh.write("\n]}\n")


def write_jsonl(fh: Any, header: dict[str, Any], conversations: Iterator[dict[str, Any]],
                memories: Iterator[dict[str, Any]]) -> None:
    fh.write(dumps({"type": "header", **header}) + "\n")
    for conv in conversations:
        fh.write(dumps({"type": "conversation", **conv}) + "\n")
    for memory in memories:
        fh.write(dumps({"type": "memory", **memory}) + "\n")


# ----------------------------------------------------------------- Markdown


def write_markdown(dest: Path, conversations: Iterator[dict[str, Any]], stamp: str) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    written = 0
    for conv in conversations:
        path = dest / _safe(conv["provider"]) / markdown_filename(conv)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _atomic(path) as fh:
            fh.write(to_markdown(conv, stamp))
        written += 1
    return written


def markdown_filename(conv: dict[str, Any]) -> str:
    day = (conv.get("created_at") or "undated")[:10]
    slug = _safe(conv.get("title") or "untitled")[:60].strip("-") or "untitled"
    tail = content_hash(conv["id"])[7:15]
    return f"{day}-{slug}-{tail}.md"


def to_markdown(conv: dict[str, Any], stamp: str) -> str:
    lines = [f"# {_one_line(conv.get('title') or 'Untitled conversation')}", ""]
    facts = [("Provider", conv["provider"]), ("Conversation", conv["id"]), ("URL", conv.get("url")),
             ("Model", conv.get("model")), ("Started", _human_time(conv.get("created_at"))),
             ("Last message", _human_time(conv.get("updated_at"))), ("Source", conv.get("source")),
             ("Exported", _human_time(stamp))]
    lines += [f"- **{k}:** {v}" for k, v in facts if v]
    lines.append("")
    thread = [m for m in conv["messages"] if m.get("on_thread", True)]
    branches = [m for m in conv["messages"] if not m.get("on_thread", True)]
    for m in thread:
        lines += _markdown_message(m)
    if branches:
        lines += ["---", "", "## Other branches", "",
                  "_Edited prompts and regenerated answers the provider no longer shows._", ""]
        for m in branches:
            lines += _markdown_message(m, branch=True)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_message(m: dict[str, Any], branch: bool = False) -> list[str]:
    who = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}[m["role"]]
    bits = [who]
    if m.get("model"):
        bits.append(f"({m['model']})")
    heading = " ".join(bits)
    if m.get("created_at"):
        heading += f" · {_human_time(m['created_at'])}"
    if branch and m.get("parent_id"):
        heading += f" · reply to `{m['parent_id']}`"
    out = [f"### {heading}", ""]
    text = m["text"]
    if m["role"] == "tool" or (m.get("meta") or {}).get("content_type") in ("code", "execution_output"):
        fence = "````" if "```" in text else "```"
        out += [fence, text, fence]
    else:
        out.append(text)
    for att in m.get("attachments") or []:
        details = ", ".join(str(x) for x in (att.get("mime_type"), _size(att.get("size"))) if x)
        label = att.get("name") or att.get("id") or att.get("kind") or "attachment"
        out.append(f"\n> 📎 {label}" + (f" ({details})" if details else ""))
    if m.get("versions"):
        out.append(f"\n> _{len(m['versions'])} earlier version(s) kept in the vault._")
    out.append("")
    return out


def _human_time(value: str | None) -> str | None:
    if not value:
        return None
    return value[:16].replace("T", " ") + " UTC"


def _size(size: Any) -> str | None:
    if not isinstance(size, int):
        return None
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-.")
    return text or "x"


# ----------------------------------------------------------------- file plumbing


class _atomic:
    """Write to a temporary sibling and rename, so a failed export never leaves half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".partial")

    def __enter__(self) -> IO[str]:
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n")
        return self.fh

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class _TextSink:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    def write(self, text: str) -> None:
        self.raw.write(text.encode("utf-8"))


def _zipinfo(name: str) -> zipfile.ZipInfo:
    # A fixed timestamp: the bundle's bytes depend only on its content.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


