"""Synthetic provider exports, generated from a seed: test fixtures and the import benchmark.

They follow each provider's published export shape closely enough to exercise every code path
(branches, edits, hidden nodes, tool calls, attachments metadata, unicode, long messages), and are
written by code so no one's real export is ever copied into the repository.
"""

from __future__ import annotations

import json
import random
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = 1_700_000_000.0  # 2023-11-14, a fixed epoch so fixtures are reproducible
WORDS = [
    "vault", "memory", "portable", "branch", "context", "export", "import", "search", "token", "model",
    "answer", "question", "python", "duckdb", "schema", "stream", "prompt", "history", "version",
    "unicode", "garden", "recipe", "travel", "budget", "kernel", "compiler", "lambda", "tensor",
    "invoice", "contract", "meeting", "paris", "tokyo", "lisbon",
]
UNICODE_SAMPLES = [
    "Ünïcödé naïve café — “quotes” and emoji 🧳🔐✨",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "עברית וערבית: مرحبا بالعالم",
    "combining: e\u0301 vs é; zero-width\u200bjoiner; tab\tend",
]


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


# ---------------------------------------------------------------- ChatGPT


def chatgpt_conversation(rng: random.Random, index: int, turns: int = 10, rich: bool = False) -> dict[str, Any]:
    """One conversation of the ChatGPT export; `turns` user/assistant pairs on the visible thread.

    rich=True adds a hidden system root, custom instructions, an edited prompt (two user branches),
    a regenerated answer, a python tool call with its output, an image and a file attachment,
    unicode and one long message.
    """
    conv_id = _uid(rng)
    base = T0 + index * 3600.0
    mapping: dict[str, Any] = {}

    def node(parent: str | None, role: str | None, parts: Any = None, *, t: float = 0.0,
             content: dict[str, Any] | None = None, **extra_meta: Any) -> str:
        node_id = _uid(rng)
        message = None
        if role is not None:
            metadata = dict(extra_meta)
            if role == "assistant":
                metadata.setdefault("model_slug", "gpt-4o")
            message = {
                "id": node_id,
                "author": {"role": role, "name": metadata.pop("author_name", None), "metadata": {}},
                "create_time": base + t,
                "update_time": None,
                "content": content or {"content_type": "text", "parts": parts},
                "status": "finished_successfully",
                "end_turn": role == "assistant",
                "weight": 1.0,
                "metadata": metadata,
                "recipient": metadata.pop("recipient", "all"),
            }
        mapping[node_id] = {"id": node_id, "message": message, "parent": parent, "children": []}
        if parent is not None:
            mapping[parent]["children"].append(node_id)
        return node_id

    root = node(None, None)
    cursor = node(root, "system", [""], t=0.0, is_visually_hidden_from_conversation=True)
    if rich:
        cursor = node(cursor, "user", t=0.5, content={
            "content_type": "user_editable_context", "user_profile": "I live in Lisbon.",
            "user_instructions": "Answer briefly."}, is_visually_hidden_from_conversation=True)
    t = 1.0
    current = cursor
    for turn in range(turns):
        text = _sentence(rng, rng.randint(6, 30))
        if rich and turn == 0:
            text = UNICODE_SAMPLES[index % len(UNICODE_SAMPLES)] + " " + text
        if rich and turn == 1:
            # The edited prompt: the original and its answer stay as a side branch.
            old = node(current, "user", ["(first wording) " + text], t=t)
            node(old, "assistant", ["Answer to the first wording. " + _sentence(rng)], t=t + 1)
        if rich and turn == 2:
            user = node(current, "user", t=t, content={"content_type": "multimodal_text", "parts": [
                {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://file-{index}img",
                 "size_bytes": 123456, "width": 800, "height": 600, "metadata": {}},
                text]}, attachments=[{"id": f"file-{index}doc", "name": "notes ünï.pdf", "size": 2048,
                                      "mimeType": "application/pdf"}])
        else:
            user = node(current, "user", [text], t=t)
        if rich and turn == 3:
            code = node(user, "assistant", t=t + 1, recipient="python",
                        content={"content_type": "code", "language": "python", "text": "print(6 * 7)"})
            out = node(code, "tool", t=t + 2, author_name="python",
                       content={"content_type": "execution_output", "text": "42"})
            user = out
        answer = _sentence(rng, rng.randint(10, 60))
        if rich and turn == 4:
            answer = ("Long answer. " + _sentence(rng, 40) + "\n\n") * 300
        if rich and turn == 5:
            # A regenerated answer: the first one stays as a side branch.
            node(user, "assistant", ["A first answer that was regenerated. " + _sentence(rng)], t=t + 1)
        current = node(user, "assistant", [answer], t=t + 2)
        t += 10.0
    return {
        "title": f"Conversation {index} " + rng.choice(WORDS),
        "create_time": base,
        "update_time": base + t,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": current,
        "plugin_ids": None,
        "conversation_id": conv_id,
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": "gpt-4o",
        "id": conv_id,
    }


def iter_chatgpt(n: int, turns: int = 10, seed: int = 1, rich_every: int = 0) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield chatgpt_conversation(rng, i, turns, rich=bool(rich_every) and i % rich_every == 0)


def write_json_array(path: Path, items: Iterator[dict[str, Any]]) -> int:
    """Stream a JSON array to disk one item at a time (a 1 GB fixture never sits in memory)."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for item in items:
            fh.write(",\n" if count else "\n")
            fh.write(json.dumps(item, ensure_ascii=False))
            count += 1
        fh.write("\n]\n")
    return count


def write_chatgpt_zip(path: Path, items: Iterator[dict[str, Any]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("conversations.json", "w") as raw:
            raw.write(b"[")
            for n, item in enumerate(items):
                raw.write((",\n" if n else "\n").encode() + json.dumps(item, ensure_ascii=False).encode())
            raw.write(b"\n]\n")
        zf.writestr("user.json", json.dumps({"id": "user-synthetic", "email": "someone@example.invalid"}))
        zf.writestr("message_feedback.json", "[]")
        zf.writestr("chat.html", "<html><body>synthetic</body></html>")


# ---------------------------------------------------------------- Claude


def claude_conversation(rng: random.Random, index: int, turns: int = 6, rich: bool = False,
                        tree: bool = False) -> dict[str, Any]:
    base = datetime.fromtimestamp(T0 + index * 3600, UTC)
    messages: list[dict[str, Any]] = []
    parent = "00000000-0000-4000-8000-000000000000"

    def stamp(seconds: float) -> str:
        return (base + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    for turn in range(turns):
        for sender in ("human", "assistant"):
            mid = _uid(rng)
            text = _sentence(rng, rng.randint(6, 40))
            if rich and turn == 0 and sender == "human":
                text = UNICODE_SAMPLES[index % len(UNICODE_SAMPLES)] + " " + text
            msg: dict[str, Any] = {
                "uuid": mid, "text": text, "sender": sender,
                "created_at": stamp(turn * 60 + (sender == "assistant") * 5),
                "updated_at": stamp(turn * 60 + 6), "attachments": [], "files": [],
            }
            if tree:
                msg["parent_message_uuid"] = parent
            if rich and sender == "assistant":
                msg["content"] = [{"type": "text", "text": text, "citations": []}]
                if turn == 1:
                    msg["content"] = [
                        {"type": "thinking", "thinking": "Let me look this up."},
                        {"type": "text", "text": "I will search for it."},
                        {"type": "tool_use", "name": "web_search", "input": {"query": "lisbon trams"}},
                        {"type": "tool_result", "name": "web_search",
                         "content": [{"type": "text", "text": "Tram 28 runs through Alfama."}]},
                        {"type": "text", "text": "Tram 28 is the classic route."},
                    ]
                    msg["text"] = "I will search for it.\n\nTram 28 is the classic route."
                if turn == 2:
                    msg["text"] = ("Long reply. " + _sentence(rng, 50) + "\n\n") * 200
                    msg["content"] = [{"type": "text", "text": msg["text"]}]
            if rich and sender == "human" and turn == 1:
                msg["attachments"] = [{"file_name": "budget.csv", "file_size": 4096, "file_type": "text/csv",
                                       "extracted_content": "month,amount\njan,10"}]
                msg["files"] = [{"file_name": "photo.png"}]
            messages.append(msg)
            parent = mid
    return {
        "uuid": _uid(rng), "name": f"Claude chat {index}",
        "created_at": stamp(0), "updated_at": stamp(turns * 60),
        "account": {"uuid": "account-synthetic"}, "chat_messages": messages,
    }


def iter_claude(n: int, turns: int = 6, seed: int = 2, rich: bool = True) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield claude_conversation(rng, i, turns, rich=rich and i % 2 == 0, tree=i % 3 == 1)


# ---------------------------------------------------------------- Gemini (Takeout)


def gemini_activity(sessions: int = 3, turns: int = 3, seed: int = 3) -> list[dict[str, Any]]:
    """MyActivity entries, newest first as Takeout writes them; sessions are hours apart."""
    rng = random.Random(seed)
    entries: list[dict[str, Any]] = []
    for s in range(sessions):
        start = datetime.fromtimestamp(T0 + s * 6 * 3600, UTC)
        for t in range(turns):
            when = start + timedelta(minutes=t * 7, seconds=rng.randint(0, 50))
            prompt = _sentence(rng, 8)
            if s == 0 and t == 0:
                prompt = UNICODE_SAMPLES[1] + " " + prompt
            html = (f"<p>{_sentence(rng, 15)}</p><ul><li>first &amp; foremost</li><li><b>second</b></li></ul>"
                    f"<pre><code>x = {t}\ny = x * 2</code></pre>")
            entry: dict[str, Any] = {
                "header": "Gemini Apps",
                "title": "Prompted " + prompt,
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "products": ["Gemini Apps"],
                "activityControls": ["Gemini Apps Activity"],
                "safeHtmlItem": [{"html": html}],
            }
            if s == 1 and t == 1:
                entry["attachedFiles"] = ["report.pdf"]
            entries.append(entry)
        entries.append({
            "header": "Gemini Apps", "title": "Gave feedback: Good response",
            "time": (start + timedelta(minutes=turns * 7)).isoformat().replace("+00:00", "Z"),
            "products": ["Gemini Apps"],
        })
    entries.sort(key=lambda e: e["time"], reverse=True)
    return entries


# ---------------------------------------------------------------- Open WebUI


def openwebui_chat(rng: random.Random, index: int, turns: int = 4, rich: bool = True) -> dict[str, Any]:
    base = int(T0) + index * 3600
    messages: dict[str, Any] = {}
    parent: str | None = None
    current = None

    def add(parent_id: str | None, role: str, content: str, ts: int, **extra: Any) -> str:
        mid = _uid(rng)
        messages[mid] = {"id": mid, "parentId": parent_id, "childrenIds": [], "role": role, "content": content,
                         "timestamp": ts, **extra}
        if parent_id is not None:
            messages[parent_id]["childrenIds"].append(mid)
        return mid

    for turn in range(turns):
        text = _sentence(rng, 10)
        if rich and turn == 0:
            text = UNICODE_SAMPLES[0] + " " + text
        extra = {}
        if rich and turn == 1:
            extra["files"] = [{"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="},
                              {"type": "file", "id": "f-1", "name": "spec.md", "size": 321,
                               "file": {"id": "f-1", "filename": "spec.md", "meta": {"content_type": "text/markdown"}}}]
        user = add(parent, "user", text, base + turn * 60, **extra)
        if rich and turn == 2:
            add(user, "assistant", "Regenerated away. " + _sentence(rng), base + turn * 60 + 3,
                model="llama3.1:8b", modelName="Llama 3.1")
        current = add(user, "assistant", _sentence(rng, 25), base + turn * 60 + 5,
                      model="llama3.1:8b", modelName="Llama 3.1")
        parent = current
    chat_id = _uid(rng)
    return {
        "id": chat_id, "user_id": "user-synthetic", "title": f"Local chat {index}",
        "chat": {"id": "", "title": f"Local chat {index}", "models": ["llama3.1:8b"], "params": {},
                 "history": {"messages": messages, "currentId": current},
                 "messages": [], "tags": [{"name": "local"}], "timestamp": base * 1000},
        "updated_at": base + turns * 60, "created_at": base, "share_id": None, "archived": False,
        "pinned": False, "meta": {}, "folder_id": None,
    }


def iter_openwebui(n: int, seed: int = 4) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield openwebui_chat(rng, i, rich=i % 2 == 0)


# ---------------------------------------------------------------- a rich vault


def populate(vault: Any, workdir: Path, seed: int = 7) -> dict[str, int]:
    """Fill `vault` with every provider's import plus live captures with edits: the round-trip fixture."""
    from satchel.portable.importer import run_import

    workdir.mkdir(parents=True, exist_ok=True)
    synth_files = {
        "chatgpt.zip": lambda p: write_chatgpt_zip(p, iter_chatgpt(4, turns=7, seed=seed, rich_every=2)),
        "claude.json": lambda p: write_json_array(p, iter_claude(3, seed=seed)),
        "gemini.json": lambda p: p.write_text(json.dumps(gemini_activity(seed=seed), ensure_ascii=False)),
        "openwebui.json": lambda p: write_json_array(p, iter_openwebui(2, seed=seed)),
    }
    counts: dict[str, int] = {}
    for name, make in synth_files.items():
        path = workdir / name
        make(path)
        counts[name] = run_import(vault, path)["messages"]
    rng = random.Random(seed)
    conv = {"provider": "mistral", "id": "lechat-1", "title": "Edits, streaming and unicode",
            "url": "https://chat.mistral.ai/chat/lechat-1", "model": "mistral-large",
            "created_at": "2025-02-03T04:05:06.789Z"}
    base = [
        {"id": "s", "role": "system", "text": "You are terse.", "created_at": "2025-02-03T04:05:06.789Z"},
        {"id": "u1", "role": "user", "text": "Wie spät ist es in Tōkyō? 🕰️", "created_at": "2025-02-03T04:05:07Z"},
        {"id": "a1", "role": "assistant", "text": "Es ist", "model": "mistral-large"},
    ]
    vault.capture(conv, base)
    base[2] = {**base[2], "text": "Es ist 13:05 Uhr in Tōkyō."}  # the streamed answer grew
    vault.capture(conv, base)
    base[1] = {**base[1], "text": "Wie spät ist es in Ōsaka? 🕰️"}  # the prompt was edited
    base[2] = {**base[2], "text": "Auch 13:05 Uhr — gleiche Zeitzone."}  # and answered again
    vault.capture(conv, base)
    base[2] = {**base[2], "text": "Ebenfalls 13:05 Uhr (JST)."}  # regenerated in place
    vault.capture(conv, [*base, {"id": "t1", "role": "tool", "text": "clock(JST) -> 13:05"}])
    # A capture without message ids (a site that shows none) and a very long message.
    long_text = "\n\n".join(_sentence(rng, 60) for _ in range(400))
    vault.capture({"provider": "deepseek", "id": "ds-1", "title": "No ids"}, [
        {"role": "user", "text": "Summarise this: " + long_text[:200]},
        {"role": "assistant", "text": long_text},
    ])
    return counts
