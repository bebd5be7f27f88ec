"""Importing into and exporting from a real vault: all-or-nothing, idempotent, searchable at once, round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from satchel.errors import ImportFailed, NotFound
from satchel.portable import synth
from satchel.portable.export import run_export
from satchel.portable.importer import run_import
from satchel.vault.store import Vault

STAMP = "2026-01-01T00:00:00Z"


@pytest.fixture
def vault(satchel_home):
    opened = Vault.open(satchel_home, background_embedding=False)
    yield opened
    opened.close()


@pytest.fixture
def open_vault(tmp_path):
    opened: list[Vault] = []

    def make(name: str) -> Vault:
        v = Vault.open(tmp_path / name, background_embedding=False)
        opened.append(v)
        return v

    yield make
    for v in opened:
        v.close()


def chatgpt_file(tmp_path: Path, n: int = 3, **kw) -> Path:
    path = tmp_path / "conversations.json"
    synth.write_json_array(path, synth.iter_chatgpt(n, **kw))
    return path


def test_imported_conversations_are_searchable_by_keyword_at_once(vault, tmp_path):
    path = tmp_path / "claude.json"
    synth.write_json_array(path, synth.iter_claude(2))
    result = run_import(vault, path)
    assert result["kind"] == "claude" and result["conversations"] == 2 and result["added"] == result["messages"]
    hits = vault.search("Alfama", k=3)
    assert hits and hits[0]["provider"] == "claude" and "Alfama" in hits[0]["text"]


def test_importing_the_same_file_twice_adds_nothing(vault, tmp_path):
    path = chatgpt_file(tmp_path, rich_every=1)
    first = run_import(vault, path)
    before = vault.stats()
    second = run_import(vault, path)
    assert first["added"] == first["messages"] > 0
    assert second["added"] == 0 and second["updated"] == 0 and second["unchanged"] == first["messages"]
    assert vault.stats()["messages"] == before["messages"]


def test_branches_and_provenance_reach_the_vault(vault, tmp_path):
    run_import(vault, chatgpt_file(tmp_path, n=1, turns=7, rich_every=1))
    listed = vault.list_conversations()["conversations"][0]
    assert listed["source"] == "import:chatgpt"
    got = vault.get_conversation("chatgpt", listed["id"], limit=1000)
    off = [m for m in got["messages"] if not m["on_thread"]]
    assert len(off) == 3
    assert any(m["meta"] and m["meta"].get("attachments") for m in got["messages"])


def test_a_truncated_file_commits_nothing(vault, tmp_path):
    path = chatgpt_file(tmp_path, n=20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])  # the first conversations are whole, the file is not
    with pytest.raises(ImportFailed, match="damaged or truncated"):
        run_import(vault, path)
    assert vault.stats()["messages"] == 0
    assert vault.search("vault memory", k=3) == []
    run_import(vault, chatgpt_file(tmp_path, n=2))  # the vault is still usable afterwards
    assert vault.stats()["conversations"] == 2


def test_a_satchel_file_with_a_damaged_message_commits_nothing(vault, open_vault, tmp_path):
    source = open_vault("source")
    run_import(source, chatgpt_file(tmp_path, n=3))
    run_export(source, tmp_path / "export.jsonl", "jsonl")
    lines = (tmp_path / "export.jsonl").read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    last["messages"][0]["text"] += " (tampered)"
    lines[-1] = json.dumps(last)
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="content_hash"):
        run_import(vault, tmp_path / "export.jsonl")
    assert vault.stats()["messages"] == 0


def test_a_newer_major_version_is_refused_with_advice(vault, tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"format": "satchel-export", "version": 2, "exported_at": "2030-01-01T00:00:00.000Z",
                                "conversations": []}))
    with pytest.raises(ImportFailed, match=r"version 2.*upgrade Satchel"):
        run_import(vault, path)


def test_progress_reports_bytes_and_counts(vault, tmp_path):
    seen = []
    run_import(vault, chatgpt_file(tmp_path, n=30), seen.append)
    assert seen[0]["phase"] == "importing" and seen[-1]["phase"] == "done"
    assert seen[-1]["conversations"] == 30 and seen[-1]["bytes_read"] == seen[-1]["bytes_total"] > 0


# ----------------------------------------------------------------- round trip


@pytest.mark.parametrize("fmt", ["json", "jsonl", "zip"])
def test_export_import_export_is_byte_identical(open_vault, tmp_path, fmt):
    original = open_vault("original")
    synth.populate(original, tmp_path / "fixtures")
    name = {"json": "a.json", "jsonl": "a.jsonl", "zip": "a.zip"}[fmt]
    first = run_export(original, tmp_path / name, fmt, exported_at=STAMP)
    copy = open_vault("copy")
    run_import(copy, tmp_path / name)
    second = run_export(copy, tmp_path / ("b" + name[1:]), fmt, exported_at=STAMP)
    assert first["conversations"] == second["conversations"] >= 14
    assert (tmp_path / name).read_bytes() == (tmp_path / ("b" + name[1:])).read_bytes()


def test_round_trip_keeps_versions_branches_attachments_and_unicode(open_vault, tmp_path):
    original = open_vault("original")
    synth.populate(original, tmp_path / "fixtures")
    run_export(original, tmp_path / "a.json", "json", exported_at=STAMP)
    doc = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    convs = {(c["provider"], c["id"]): c for c in doc["conversations"]}
    edited = convs[("mistral", "lechat-1")]
    answer = next(m for m in edited["messages"] if m["id"] == "a1")
    assert answer["text"] == "Ebenfalls 13:05 Uhr (JST)."
    assert [v["text"] for v in answer["versions"]] == [
        "Es ist 13:05 Uhr in Tōkyō.", "Auch 13:05 Uhr — gleiche Zeitzone."]
    assert {c["provider"] for c in doc["conversations"]} >= {"chatgpt", "claude", "gemini", "openwebui", "mistral"}
    assert any(not m["on_thread"] for c in doc["conversations"] for m in c["messages"])
    assert any(m.get("attachments") for c in doc["conversations"] for m in c["messages"])
    assert max(len(m["text"]) for c in doc["conversations"] for m in c["messages"]) > 50_000
    assert list(convs) == sorted(convs)  # canonical order


def test_exported_at_is_the_only_difference_between_two_exports(vault, tmp_path):
    run_import(vault, chatgpt_file(tmp_path, n=2))
    run_export(vault, tmp_path / "1.json", "json", exported_at="2026-01-01T00:00:00Z")
    run_export(vault, tmp_path / "2.json", "json", exported_at="2026-06-01T12:00:00Z")
    one, two = ((tmp_path / n).read_text() for n in ("1.json", "2.json"))
    assert one != two
    assert one.replace("2026-01-01T00:00:00.000Z", "X", 1) == two.replace("2026-06-01T12:00:00.000Z", "X", 1)


# ----------------------------------------------------------------- export options


def test_export_filters_by_provider_conversation_and_since(vault, tmp_path):
    synth.populate(vault, tmp_path / "fixtures")
    only = run_export(vault, tmp_path / "p.json", "json", {"provider": "claude"})
    assert only["conversations"] == 3
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert {c["provider"] for c in doc["conversations"]} == {"claude"} and doc["filters"] == {"provider": "claude"}
    one = run_export(vault, tmp_path / "c.json", "json", {"conversation": "mistral/lechat-1"})
    assert one["conversations"] == 1
    with pytest.raises(NotFound):
        run_export(vault, tmp_path / "x.json", "json", {"conversation": {"provider": "mistral", "id": "nope"}})
    future = run_export(vault, tmp_path / "f.json", "json", {"since": "2999-01-01"})
    assert future["conversations"] == 0


def test_markdown_export_writes_one_readable_file_per_conversation(vault, tmp_path):
    synth.populate(vault, tmp_path / "fixtures")
    result = run_export(vault, tmp_path / "md", "markdown")
    files = sorted((tmp_path / "md").rglob("*.md"))
    assert len(files) == result["conversations"] == result["files"]
    text = (tmp_path / "md" / "mistral").glob("*.md").__next__().read_text(encoding="utf-8")
    assert text.startswith("# Edits, streaming and unicode\n")
    assert "### Assistant (mistral-large)" in text and "Ebenfalls 13:05 Uhr (JST)." in text
    assert "2 earlier version(s)" in text
    chatgpt_md = [p.read_text(encoding="utf-8") for p in (tmp_path / "md" / "chatgpt").glob("*.md")]
    assert any("## Other branches" in t and "📎 notes ünï.pdf (application/pdf, 2.0 KB)" in t for t in chatgpt_md)


def test_zip_bundle_carries_embeddings_tagged_with_their_model(vault, tmp_path):
    run_import(vault, chatgpt_file(tmp_path, n=2, turns=2))
    vault.embed_pending()
    run_export(vault, tmp_path / "bundle.zip", "zip", include_embeddings=True)
    with zipfile.ZipFile(tmp_path / "bundle.zip") as zf:
        assert sorted(zf.namelist()) == ["embeddings.jsonl", "export.jsonl"]
        lines = zf.read("embeddings.jsonl").decode().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "satchel-embeddings" and header["model"] == vault.embedder.model_id
    assert len(lines) - 1 == vault.stats()["chunks"]
    row = json.loads(lines[1])
    import base64

    assert len(base64.b64decode(row["vector"])) == 4 * header["dim"]
    # And the bundle imports like any Satchel export.
    assert run_import(vault, tmp_path / "bundle.zip")["added"] == 0


# ----------------------------------------------------------------- bounded memory


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from /proc (Linux)")
def test_reading_a_large_export_uses_memory_bounded_by_one_conversation(tmp_path):
    path = tmp_path / "big.json"
    synth.write_json_array(path, synth.iter_chatgpt(4000, turns=10))
    size = path.stat().st_size
    assert size > 60_000_000
    # VmHWM is the child's own peak (ru_maxrss may carry the parent's across fork+exec).
    script = (
        "import sys\n"
        "from satchel.portable.importer import read_file\n"
        "def peak():\n"
        "    with open('/proc/self/status') as fh:\n"
        "        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith('VmHWM:'))\n"
        "base = peak()\n"
        "kind, recs = read_file(sys.argv[1])\n"
        "n = sum(len(r.messages) for r in recs)\n"
        "print(n, peak() - base)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "host"),
                                                       os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    messages, grown = int(out[0]), int(out[1])
    assert messages == 4000 * 20
    assert grown < size / 4, f"reading a {size} byte file grew memory by {grown} bytes"


def test_a_bad_time_in_a_satchel_file_fails_the_import_cleanly(vault, tmp_path):
    doc = json.loads((Path(__file__).parents[2] / "shared-schema/portable/examples/export-rich.pass.json")
                     .read_text(encoding="utf-8"))
    doc["conversations"][0]["messages"][2]["created_at"] = "yesterday"
    (tmp_path / "bad.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ImportFailed, match="not an ISO-8601 time"):
        run_import(vault, tmp_path / "bad.json")
    assert vault.stats()["messages"] == 0


def test_memories_are_exported_with_links_to_their_source_turns(vault, tmp_path):
    run_import(vault, chatgpt_file(tmp_path, n=1, turns=2))
    conv = vault.list_conversations()["conversations"][0]
    message = vault.get_conversation("chatgpt", conv["id"])["messages"][0]
    with vault.lock:  # issue 5 will write these through its own API; the export reads the tables
        pk = vault.db.execute("SELECT id FROM messages WHERE external_id = ?", [message["id"]]).fetchone()[0]
        vault.db.execute("INSERT INTO memories (id, kind, text, status, pinned, created_at, updated_at, origin)"
                         " VALUES (7, 'fact', 'Prefers tram 28.', 'active', true, now(), now(), 'extracted')")
        vault.db.execute("INSERT INTO memory_sources VALUES (7, ?)", [pk])
    run_export(vault, tmp_path / "m.json", "json")
    memories = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["memories"]
    assert memories == [{
        "id": "mem-7", "kind": "fact", "text": "Prefers tram 28.", "status": "active", "pinned": True,
        "created_at": memories[0]["created_at"], "updated_at": memories[0]["updated_at"], "origin": "extracted",
        "sources": [{"provider": "chatgpt", "conversation_id": conv["id"], "message_id": message["id"]}],
    }]
    run_export(vault, tmp_path / "other.json", "json", {"provider": "claude"})
    assert json.loads((tmp_path / "other.json").read_text(encoding="utf-8"))["memories"] == []


def test_damaged_zip_files_fail_cleanly(vault, tmp_path):
    path = tmp_path / "export.zip"
    synth.write_chatgpt_zip(path, synth.iter_chatgpt(40, turns=3))
    data = path.read_bytes()
    (tmp_path / "truncated.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImportFailed, match="damaged or truncated zip"):
        run_import(vault, tmp_path / "truncated.zip")
    corrupted = bytearray(data)
    for offset in range(200, len(data) // 2, 997):  # scramble the compressed conversations, keep the directory
        corrupted[offset] ^= 0xFF
    (tmp_path / "corrupted.zip").write_bytes(bytes(corrupted))
    with pytest.raises(ImportFailed, match="damaged"):
        run_import(vault, tmp_path / "corrupted.zip")
    assert vault.stats()["messages"] == 0


def test_memories_travel_with_a_satchel_export(tmp_path):
    from satchel.portable.export import run_export
    from satchel.portable.importer import run_import
    from satchel.vault.memories import add_memory, list_memories
    from satchel.vault.store import Vault

    source = Vault.open(tmp_path / "a", background_embedding=False)
    source.capture({"provider": "chatgpt", "id": "c"}, [{"role": "user", "text": "I live in Paris.",
                                                          "created_at": "2024-01-01T00:00:00Z"}])
    source.maintain()
    add_memory(source, "I live in Lyon.")
    run_export(source, tmp_path / "out.json", "json")
    before = {(m["text"], m["status"]) for m in list_memories(source, status="all")["memories"]}
    source.close()
    target = Vault.open(tmp_path / "b", background_embedding=False)
    assert run_import(target, tmp_path / "out.json")["memories"] == len(before)
    after = list_memories(target, status="all")["memories"]
    assert {(m["text"], m["status"]) for m in after} == before
    assert any(m["sources"] and m["sources"][0]["conversation_id"] == "c" for m in after)
    assert run_import(target, tmp_path / "out.json")["memories"] == 0  # idempotent
    target.close()
