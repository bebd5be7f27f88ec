"""Upgrades: a vault from any earlier schema opens and migrates; mismatched extension and host versions find
out from `hello` and get clear errors, never corrupted data."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from satchel.errors import SatchelError
from satchel.native import relay as relay_module
from satchel.native.framing import HEADER, encode_frame
from satchel.native.protocol import MIN_CLIENT_PROTOCOL, PROTOCOL_VERSION
from satchel.vault import migrations
from satchel.vault.store import VAULT_FILE, Vault

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
    monkeypatch.setenv("SATCHEL_IDLE_TIMEOUT", "10")


def _schema(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns()"
        " WHERE database_name = current_database() ORDER BY ALL").fetchall()


def _old_vault(home: Path, upto: int) -> None:
    """A vault as the release with only the first `upto` migrations left it, holding one conversation."""
    home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / VAULT_FILE))
    migrations.applied(con)
    for name, fn in migrations.MIGRATIONS[:upto]:
        fn(con)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [name, datetime(2024, 1, 1)])
    now = datetime(2024, 3, 1, 12)
    # Written with m001's columns: every later migration must keep these rows readable.
    con.execute("INSERT INTO conversations (id, provider, external_id, title, updated_at, captured_at)"
                " VALUES (1, 'chatgpt', 'old-1', 'from the old release', ?, ?)", [now, now])
    con.execute("INSERT INTO messages (id, conversation_id, external_id, ordinal, role, text, content_hash,"
                " captured_at, updated_at) VALUES (1, 1, 'm1', 0, 'user', 'the lighthouse keeper logbook', 'h', ?, ?)",
                [now, now])
    if upto < 2:  # m001 kept a copy of the chunk's text
        con.execute("INSERT INTO chunks VALUES (1, 1, 0, 'the lighthouse keeper logbook')")
    else:  # m002: offsets into the message's text
        con.execute("INSERT INTO chunks VALUES (1, 1, 0, 0, 29)")
    con.close()


@pytest.mark.parametrize("upto", range(1, len(migrations.MIGRATIONS) + 1))
def test_a_vault_from_every_shipped_schema_opens_and_migrates(tmp_path: Path, upto: int) -> None:
    _old_vault(tmp_path / "old", upto)
    vault = Vault.open(tmp_path / "old", background_embedding=False)
    try:
        applied = [r[0] for r in vault.db.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        assert applied == sorted(name for name, _ in migrations.MIGRATIONS)
        hits = vault.search("lighthouse logbook")
        assert [h["conversation_id"] for h in hits] == ["old-1"]
        added = vault.capture({"provider": "chatgpt", "id": "old-1"},
                              [{"id": "m1", "role": "user", "text": "the lighthouse keeper logbook"},
                               {"role": "assistant", "text": "a new reply after the upgrade"}])
        assert added["added"] == 1
        upgraded = _schema(vault.db)
    finally:
        vault.close()
    blank = Vault.open(tmp_path / "blank", background_embedding=False)
    try:
        assert upgraded == _schema(blank.db)
    finally:
        blank.close()


def test_a_failed_migration_leaves_the_vault_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_vault(tmp_path, len(migrations.MIGRATIONS))

    def m999_broken(db: duckdb.DuckDBPyConnection) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        db.execute("DELETE FROM messages")
        raise RuntimeError("bug in a migration")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_broken", m999_broken)])
    with pytest.raises(Exception, match="bug in a migration"):
        Vault.open(tmp_path, background_embedding=False)
    monkeypatch.undo()
    con = duckdb.connect(str(tmp_path / VAULT_FILE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM messages").fetchone() == (1,)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "half_done" not in tables
    finally:
        con.close()


def test_a_vault_written_by_a_newer_release_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """An older host must not write into a schema it does not know (downgrade after an upgrade)."""
    _old_vault(tmp_path, len(migrations.MIGRATIONS))
    con = duckdb.connect(str(tmp_path / VAULT_FILE))
    con.execute("INSERT INTO schema_migrations VALUES ('m999_from_the_future', now())")
    con.close()
    with pytest.raises(SatchelError) as excinfo:
        Vault.open(tmp_path, background_embedding=False).close()
    assert "newer" in excinfo.value.message.lower()


# ----------------------------------------------------------------- protocol versions
class _Pipe(io.RawIOBase):
    """A blocking stdin for an in-process Relay: frames are fed in, EOF on close."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed_for_writing = False
        self.cond = threading.Condition()

    def feed(self, data: bytes) -> None:
        with self.cond:
            self.buffer += data
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.closed_for_writing = True
            self.cond.notify_all()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        with self.cond:
            while not self.buffer and not self.closed_for_writing:
                self.cond.wait()
            n = len(self.buffer) if n < 0 else min(n, len(self.buffer))
            out = bytes(self.buffer[:n])
            del self.buffer[:n]
            return out


class _Out(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()
        self.cond = threading.Condition()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        with self.cond:
            self.data += bytes(b)
            self.cond.notify_all()
        return len(b)

    def replies(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                out, data = [], bytes(self.data)
                while len(data) >= 4:
                    (length,) = HEADER.unpack(data[:4])
                    if len(data) < 4 + length:
                        break
                    out.append(json.loads(data[4:4 + length]))
                    data = data[4 + length:]
                if len(out) >= count or time.monotonic() > deadline:
                    return out
                self.cond.wait(0.1)


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SATCHEL_HOME", str(tmp_path))
    stdin, stdout = _Pipe(), _Out()
    host = relay_module.Relay(stdin, stdout)  # type: ignore[arg-type]
    thread = threading.Thread(target=host.run, daemon=True)
    thread.start()
    yield stdin, stdout
    stdin.finish()
    thread.join(10)
    from satchel.daemon.client import VaultClient

    # hello started an owner in the background (warm-up); start-or-reach it, then stop it.
    with contextlib.suppress(SatchelError), VaultClient(tmp_path, timeout=30) as client:
        client.call("shutdown")


def test_a_newer_extension_learns_the_hosts_protocol_and_a_newer_action_gets_unknown_action(relay: Any) -> None:
    stdin, stdout = relay
    stdin.feed(encode_frame({"id": "h", "type": "hello",
                             "params": {"client": "extension", "client_protocol": PROTOCOL_VERSION + 1}}))
    stdin.feed(encode_frame({"id": "n", "type": "memories.time_travel", "params": {"to": "2031"}}))
    stdin.feed(encode_frame({"id": "c", "type": "capture", "params": {
        "conversation": {"provider": "chatgpt", "id": "new", "folder": "a field from a later protocol"},
        "messages": [{"role": "user", "text": "hi", "attachments": [{"name": "a.png"}]}]}}))
    hello, newer, capture = stdout.replies(3)
    assert hello["ok"] and hello["data"]["protocol_version"] == PROTOCOL_VERSION
    assert hello["data"]["min_client_protocol"] == MIN_CLIENT_PROTOCOL
    assert newer["ok"] is False and newer["error"]["code"] == "unknown_action"
    assert "memories.time_travel" in newer["error"]["message"]
    assert capture["ok"], capture  # fields a later protocol adds are ignored, not fatal


def test_an_older_extension_is_told_the_host_needs_a_newer_one(relay: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "PROTOCOL_VERSION", PROTOCOL_VERSION + 1)
    monkeypatch.setattr(relay_module, "MIN_CLIENT_PROTOCOL", PROTOCOL_VERSION + 1)
    stdin, stdout = relay
    stdin.feed(encode_frame({"id": "h", "type": "hello",
                             "params": {"client": "extension", "client_protocol": PROTOCOL_VERSION}}))
    (hello,) = stdout.replies(1)
    assert hello["ok"]
    # The extension compares these two numbers and shows "update the extension" (background/native.js).
    assert hello["data"]["min_client_protocol"] > PROTOCOL_VERSION
    assert hello["data"]["protocol_version"] == PROTOCOL_VERSION + 1


def test_every_reply_carries_the_protocol_version(relay: Any) -> None:
    stdin, stdout = relay
    for frame in (encode_frame({"id": "1", "type": "hello"}), encode_frame({"id": "2", "type": "nope"}),
                  HEADER.pack(3) + b"\xff\xff\xff", encode_frame({"id": "3", "type": "stats"})):
        stdin.feed(frame)
    replies = stdout.replies(4)
    assert len(replies) == 4 and all(r["v"] == PROTOCOL_VERSION for r in replies)


def test_m002_turns_chunk_copies_into_spans_and_keeps_their_vectors(tmp_path: Path) -> None:
    """A long message chunked by m001 keeps its chunk ids (so its vectors stay valid); the text each chunk
    stands for is the same words, now read from the message."""
    from satchel.vault.chunking import split_chunks

    home = tmp_path / "old"
    home.mkdir()
    con = duckdb.connect(str(home / VAULT_FILE))
    migrations.applied(con)
    name, fn = migrations.MIGRATIONS[0]
    fn(con)
    con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [name, datetime(2024, 1, 1)])
    now = datetime(2024, 3, 1, 12)
    text = "\n\n".join(" ".join(f"word{p}x{i} é😀" for i in range(70)) for p in range(5))  # 700 words, 5 paragraphs
    con.execute("INSERT INTO conversations (id, provider, external_id, updated_at, captured_at)"
                " VALUES (1, 'chatgpt', 'long', ?, ?)", [now, now])
    con.execute("INSERT INTO messages (id, conversation_id, external_id, ordinal, role, text, content_hash,"
                " captured_at, updated_at) VALUES (1, 1, 'm1', 0, 'assistant', ?, 'h', ?, ?)", [text, now, now])
    old_chunks = split_chunks(text)
    assert len(old_chunks) > 2
    for ordinal, piece in enumerate(old_chunks):
        con.execute("INSERT INTO chunks VALUES (?, 1, ?, ?)", [10 + ordinal, ordinal, piece])
        con.execute("INSERT INTO embeddings VALUES (?, 'model', ?)", [10 + ordinal, b"\0" * 16])
    con.close()
    vault = Vault.open(home, background_embedding=False)
    try:
        rows = vault.db.execute(
            "SELECT ch.id, substring(m.text, ch.start + 1, ch.stop - ch.start) FROM chunks ch"
            " JOIN messages m ON m.id = ch.message_id ORDER BY ch.ordinal").fetchall()
        assert [r[0] for r in rows] == [10 + i for i in range(len(old_chunks))]
        assert [r[1].split() for r in rows] == [c.split() for c in old_chunks]
        assert vault.db.execute("SELECT count(*) FROM embeddings").fetchone() == (len(old_chunks),)
        assert "text" not in {r[0] for r in vault.db.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'chunks'").fetchall()}
        assert vault.search("word3x5")[0]["conversation_id"] == "long"
    finally:
        vault.close()
