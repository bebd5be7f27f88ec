"""Privacy: forgetting is total (tables, indexes, raw file bytes, backups); the vault is the user's alone;
the browser manifests admit only Satchel; secrets never reach the disk."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from satchel.daemon.client import VaultClient
from satchel.errors import SatchelError
from satchel.native import install
from satchel.paths import socket_path
from satchel.vault import backup
from satchel.vault.store import Vault

pytestmark = pytest.mark.timeout(120)

# Assembled at run time so secret scanners on the repository do not flag this file.
OPENAI_KEY = "sk-proj-" + "Xq7PbR2mK9vLs4TfY8wNc3Hd6JgZa1Ue5Wi0Ok" + "_" + "T3BlbkFJ" + "Ab9Cd8Ef7Gh6Ij5Kl4"
GITHUB_TOKEN = "ghp_" + "16C7e42F292c6912E7710c838347Ae178B4a"
MARKER = "quokkafiddle7731"  # a word that exists nowhere else


@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
    monkeypatch.setenv("SATCHEL_IDLE_TIMEOUT", "20")


def _stop(home: Path) -> None:
    with contextlib.suppress(SatchelError), VaultClient(home, autostart=False, timeout=5) as client:
        client.call("shutdown")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alive = [p for p in psutil.process_iter(["cmdline"]) if "serve" in (p.info["cmdline"] or [])
                 and _home_of(p) == str(home)]
        if not alive:
            return
        time.sleep(0.05)
    for proc in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def _home_of(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get("SATCHEL_HOME")
    except psutil.Error:
        return None


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    _stop(home)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    vault = Vault.open(tmp_path / "vault-home", background_embedding=False)
    yield vault
    with contextlib.suppress(Exception):
        vault.close()


def _seed(vault: Vault) -> None:
    vault.capture({"provider": "chatgpt", "id": "secret-plan", "title": f"plan {MARKER}"},
                  [{"id": "q", "role": "user", "text": f"my private note: {MARKER} is the code word"},
                   {"id": "a", "role": "assistant", "text": f"noted, {MARKER}, I will remember"}])
    vault.capture({"provider": "chatgpt", "id": "keep", "title": "groceries"},
                  [{"id": "k", "role": "user", "text": "buy apples and pears"}])
    vault.embed_pending()


def _rows_mentioning(vault: Vault, marker: str) -> dict[str, int]:
    """Rows of every table (every text, JSON and blob column) that contain `marker`."""
    found = {}
    for (table,) in vault.db.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall():
        (count,) = vault.db.execute(
            f'SELECT count(*) FROM "{table}" t WHERE contains(CAST(t AS VARCHAR), ?)', [marker]).fetchone()
        if count:
            found[table] = count
    return found


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


# ----------------------------------------------------------------- forget
def test_forget_removes_a_conversation_from_every_table_and_the_index(vault: Vault) -> None:
    _seed(vault)
    assert _rows_mentioning(vault, MARKER)
    assert vault.search(MARKER)
    vault.forget("conversation", provider="chatgpt", conversation_id="secret-plan")
    assert _rows_mentioning(vault, MARKER) == {}
    assert vault.search(MARKER) == []
    assert vault.context(f"what was {MARKER}?")["text"] == ""
    assert [h["conversation_id"] for h in vault.search("apples")] == ["keep"]


def test_a_forgotten_message_is_not_findable_through_the_turn_after_it(vault: Vault) -> None:
    """The retriever indexes each turn with the one before it; forgetting a turn must drop that copy too."""
    vault.capture({"provider": "claude", "id": "c"},
                  [{"id": "1", "role": "user", "text": f"the wifi password hint is {MARKER}"},
                   {"id": "2", "role": "assistant", "text": "understood, saved"}])
    vault.forget("message", provider="claude", conversation_id="c", message_id="1")
    assert _rows_mentioning(vault, MARKER) == {}
    assert vault.search(MARKER) == [], "the next turn still carries the forgotten text in the index"


def test_compaction_removes_forgotten_rows_from_the_raw_file(vault: Vault) -> None:
    _seed(vault)
    vault.forget("conversation", provider="chatgpt", conversation_id="secret-plan")
    with vault.lock:
        vault.db = backup.compact(vault.db, vault.home)
    vault.close()
    assert _files_holding(vault.home, MARKER.encode()) == []
    reopened = Vault.open(vault.home, background_embedding=False)
    assert [h["conversation_id"] for h in reopened.search("apples")] == ["keep"]
    reopened.close()


def test_forget_alone_leaves_no_trace_in_the_raw_file(vault: Vault) -> None:
    """DuckDB keeps deleted rows in free blocks: `forget` must compact (backup.compact) before it returns."""
    _seed(vault)
    vault.forget("conversation", provider="chatgpt", conversation_id="secret-plan")
    vault.close()
    assert _files_holding(vault.home, MARKER.encode()) == []


def test_scrub_removes_a_forgotten_conversation_from_every_backup(vault: Vault) -> None:
    _seed(vault)
    with vault.lock:
        backup.create(vault.db, vault.home)
        backup.create(vault.db, vault.home)
    assert len(_files_holding(vault.home / "backups", MARKER.encode())) == 2

    def delete(con: Any) -> None:
        con.execute("DELETE FROM chunks WHERE message_id IN (SELECT m.id FROM messages m JOIN conversations c"
                    " ON c.id = m.conversation_id WHERE c.external_id = 'secret-plan')")
        con.execute("DELETE FROM messages WHERE conversation_id IN"
                    " (SELECT id FROM conversations WHERE external_id = 'secret-plan')")
        con.execute("DELETE FROM conversations WHERE external_id = 'secret-plan'")

    assert backup.scrub(vault.home, delete) == 2
    assert _files_holding(vault.home / "backups", MARKER.encode()) == []
    assert all(backup.verify(p) for p in backup.list_backups(vault.home))


def test_forget_reaches_the_backups(vault: Vault) -> None:
    """Wired by the lead: Vault.forget scrubs backups/ (backup.scrub) after compacting."""
    _seed(vault)
    with vault.lock:
        backup.create(vault.db, vault.home)
    vault.forget("conversation", provider="chatgpt", conversation_id="secret-plan")
    assert _files_holding(vault.home / "backups", MARKER.encode()) == []


def test_forget_through_the_owner_leaves_nothing_under_satchel_home(home: Path) -> None:
    with VaultClient(home) as client:
        client.call("capture", {"conversation": {"provider": "gemini", "id": "g1", "title": MARKER},
                                "messages": [{"role": "user", "text": f"{MARKER} " * 50}]})
        assert client.call("search", {"query": MARKER})["hits"]
    _stop(home)  # closing checkpoints: the conversation now sits in the main file, as after any real day
    with VaultClient(home) as client:
        client.call("forget", {"scope": "conversation", "provider": "gemini", "id": "g1"})
        assert client.call("search", {"query": MARKER})["hits"] == []
    _stop(home)
    assert _files_holding(home, MARKER.encode()) == []


# ----------------------------------------------------------------- same user only
def _as_nobody(fn: Any) -> int:
    """Run `fn` in a child with the uid/gid of `nobody`; returns its exit status (0 = fn returned)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            fn()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_the_socket_is_reachable_only_by_the_same_user(home: Path) -> None:
    with VaultClient(home) as client:
        client.call("stats")
    path = socket_path(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.stat().st_uid == os.getuid()
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root; the modes above are checked")

    def connect() -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))

    assert _as_nobody(connect) != 0, "another user reached the vault socket"


def test_the_vault_files_are_private_to_the_user(home: Path) -> None:
    """Other local users must not read the vault, its backups or logs (a 0755 data dir exposes them)."""
    with VaultClient(home) as client:
        client.call("capture", {"conversation": {"provider": "x", "id": "1"},
                                "messages": [{"role": "user", "text": "private"}]})
    _stop(home)
    loose = [f"{p.relative_to(home.parent)} {stat.S_IMODE(p.stat().st_mode):o}"
             for p in [home, *home.rglob("*")] if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == [], loose


# ----------------------------------------------------------------- manifests
def test_manifests_admit_only_satchels_own_extension_ids(tmp_path: Path) -> None:
    plan = install.install(tmp_path / "satchel", user_home=tmp_path / "user")
    assert {t.browser for t in plan.targets} == set(install.BROWSERS)
    for target in plan.targets:
        manifest = json.loads(target.manifest_path.read_text())
        assert manifest["name"] == install.HOST_NAME and manifest["type"] == "stdio"
        if target.browser == install.FIREFOX:
            assert manifest["allowed_extensions"] == [install.FIREFOX_EXTENSION_ID]
            assert "allowed_origins" not in manifest
        else:
            assert manifest["allowed_origins"] == [f"chrome-extension://{install.CHROMIUM_EXTENSION_ID}/"]
            assert "allowed_extensions" not in manifest
        assert "*" not in json.dumps(manifest)


def test_doctor_flags_a_manifest_that_admits_another_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "probe_host", lambda launcher, **_: {"seconds": 0})
    user = tmp_path / "user"
    plan = install.install(tmp_path / "satchel", ["chrome", "firefox"], user_home=user)
    for target in plan.targets:
        manifest = json.loads(target.manifest_path.read_text())
        key = "allowed_extensions" if target.browser == install.FIREFOX else "allowed_origins"
        manifest[key].append("evil@example.com" if target.browser == install.FIREFOX
                             else "chrome-extension://abcdefghijklmnopabcdefghijklmnop/")
        target.manifest_path.write_text(json.dumps(manifest))
    checks = {c.name: c for c in install.doctor(tmp_path / "satchel", ["chrome", "firefox"], user_home=user)}
    assert not checks["chrome manifest"].ok and not checks["firefox manifest"].ok
    _stop(tmp_path / "satchel")


# ----------------------------------------------------------------- secrets
def test_a_secret_in_a_captured_message_never_reaches_the_disk(home: Path) -> None:
    with VaultClient(home) as client:
        client.call("capture", {"conversation": {"provider": "chatgpt", "id": "keys"}, "messages": [
            {"role": "user", "text": f"why does OPENAI_API_KEY={OPENAI_KEY} fail? also {GITHUB_TOKEN}"}]})
        text = client.call("conversation.get", {"provider": "chatgpt", "id": "keys"})["messages"][0]["text"]
        assert OPENAI_KEY not in text and GITHUB_TOKEN not in text and "[REDACTED:" in text
    _stop(home)
    for secret in (OPENAI_KEY, GITHUB_TOKEN):
        assert _files_holding(home, secret.encode()) == []


def test_a_secret_in_a_title_or_url_never_reaches_the_disk(home: Path) -> None:
    with VaultClient(home) as client:
        client.call("capture", {"conversation": {
            "provider": "chatgpt", "id": "t", "title": f"debug {OPENAI_KEY}",
            "url": f"https://chat.example/c/1?token={GITHUB_TOKEN}"},
            "messages": [{"role": "user", "text": "hello"}]})
    _stop(home)
    for secret in (OPENAI_KEY, GITHUB_TOKEN):
        assert _files_holding(home, secret.encode()) == [], secret[:8]
