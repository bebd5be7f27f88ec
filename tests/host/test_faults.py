"""Faults: the vault owner killed mid-burst, a 50 MB message, a damaged vault file, a full disk.

Through real processes (`satchel serve`, `satchel host`) and the real client. Whatever happens: every
acknowledged capture is in the vault exactly once, resending is idempotent, and errors are typed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from satchel.daemon.client import VaultClient, try_connect
from satchel.errors import SatchelError
from satchel.native.framing import HEADER, encode_frame

from .helpers import bench_load

STORED_MESSAGE_IDS = bench_load().stored_message_ids

pytestmark = pytest.mark.timeout(180)


# ----------------------------------------------------------------- process helpers
@pytest.fixture(autouse=True)
def _fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Owners started on demand by VaultClient inherit this environment.
    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
    monkeypatch.setenv("SATCHEL_IDLE_TIMEOUT", "20")


def owner_pids(home: Path) -> list[int]:
    """Every `satchel serve` process serving `home` (the ones we started and the ones clients started)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "satchel" in cmd and "serve" in cmd:
            with contextlib.suppress(psutil.Error):
                if proc.environ().get("SATCHEL_HOME") == str(home):
                    found.append(proc.info["pid"])
    return found


def wait_for_owner(home: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = try_connect(home)
        if sock is not None:
            sock.close()
            pids = owner_pids(home)
            if pids:
                return pids[0]
        time.sleep(0.05)
    raise AssertionError("no owner came up")


def start_owner(home: Path, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "satchel", "serve"], env=dict(os.environ, SATCHEL_HOME=str(home),
                            **env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_owner(home)
    return proc


def stop_owners(home: Path) -> None:
    with contextlib.suppress(SatchelError), VaultClient(home, autostart=False, timeout=5) as client:
        client.call("shutdown")
    deadline = time.monotonic() + 15
    while owner_pids(home) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in owner_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    yield home
    stop_owners(home)


def message_ids(home: Path) -> list[str]:
    """Every message external id in the vault, duplicates included."""
    return STORED_MESSAGE_IDS(home)


def capture_params(writer: str, i: int) -> dict[str, Any]:
    return {"conversation": {"provider": "chatgpt", "id": f"{writer}-conv-{i % 7}", "title": f"{writer} {i % 7}"},
            "messages": [{"id": f"{writer}-m{i}", "role": "user" if i % 2 else "assistant",
                          "text": f"burst message {writer} number {i} about topic {i % 13}"}]}


class Writer(threading.Thread):
    """Captures `count` messages one request each, recording which were acknowledged."""

    def __init__(self, home: Path, name: str, count: int) -> None:
        super().__init__(name=name, daemon=True)
        self.home, self.writer, self.count = home, name, count
        self.acked: list[str] = []
        self.failed: list[tuple[str, str]] = []

    def run(self) -> None:
        client = VaultClient(self.home)
        for i in range(self.count):
            params = capture_params(self.writer, i)
            try:
                client.call("capture", params)
                self.acked.append(params["messages"][0]["id"])
            except SatchelError as exc:
                self.failed.append((params["messages"][0]["id"], exc.code))
        client.close()

    def resend_all(self) -> list[dict[str, Any]]:
        with VaultClient(self.home) as client:
            return [client.call("capture", capture_params(self.writer, i)) for i in range(self.count)]


def kill_owners(home: Path, *, wait: bool = True) -> None:
    """SIGKILL every owner of `home`; with `wait`, return once each has fully exited (its socket is closed)."""
    pids = owner_pids(home)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while wait and pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _running(pid)]
        time.sleep(0.01)
    while wait and time.monotonic() < deadline:
        sock = try_connect(home)  # a dying owner's socket can still accept, then drop, a connection
        if sock is None:
            return
        sock.close()
        time.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def kill_owner_after(home: Path, writers: list[Writer], acked: int) -> None:
    deadline = time.monotonic() + 60
    while sum(len(w.acked) for w in writers) < acked and time.monotonic() < deadline:
        time.sleep(0.002)
    for pid in owner_pids(home):
        os.kill(pid, signal.SIGKILL)


# ----------------------------------------------------------------- killed owner
def test_owner_killed_mid_burst_loses_no_acknowledged_capture_and_resending_is_idempotent(home: Path) -> None:
    start_owner(home)
    writer = Writer(home, "solo", 400)
    writer.start()
    kill_owner_after(home, [writer], 120)
    writer.join(120)
    assert not writer.is_alive()
    stored = message_ids(home)
    assert len(writer.acked) >= 120
    assert sorted(set(stored)) == sorted(stored), "a message is stored twice"
    assert set(writer.acked) <= set(stored), set(writer.acked) - set(stored)
    # The extension's queue resends whatever it holds; resending everything writes only what is missing.
    replies = writer.resend_all()
    assert all(r["updated"] == 0 for r in replies)
    stored = message_ids(home)
    assert sorted(stored) == sorted(f"solo-m{i}" for i in range(400))


def test_owner_killed_while_two_clients_write_loses_nothing_acknowledged(home: Path) -> None:
    start_owner(home)
    writers = [Writer(home, "firefox", 250), Writer(home, "chromium", 250)]
    for w in writers:
        w.start()
    kill_owner_after(home, writers, 150)
    for w in writers:
        w.join(120)
    stored = message_ids(home)
    assert len(stored) == len(set(stored)), "a message is stored twice"
    for w in writers:
        assert set(w.acked) <= set(stored), set(w.acked) - set(stored)
        w.resend_all()
    stored = message_ids(home)
    expected = [f"{w.writer}-m{i}" for w in writers for i in range(w.count)]
    assert sorted(stored) == sorted(expected)


def test_the_first_request_after_a_crash_restarts_the_owner_without_an_error(home: Path) -> None:
    start_owner(home)
    with VaultClient(home) as client:
        client.call("capture", capture_params("x", 1))
        kill_owners(home, wait=False)
        # At once: the dying owner's socket may still accept a connection and then drop it.
        assert client.call("stats")["messages"] == 1  # reconnects, a new owner replays the log


# ----------------------------------------------------------------- oversized input through the relay
def _frame(obj: Any) -> bytes:
    return encode_frame(obj)


def _read(stream: Any) -> dict[str, Any]:
    header = stream.read(4)
    assert len(header) == 4
    (length,) = HEADER.unpack(header)
    return json.loads(stream.read(length))


def test_a_50_megabyte_message_gets_too_large_and_the_relay_keeps_serving(home: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "satchel", "host", "chrome-extension://x/"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ, SATCHEL_HOME=str(home)))
    assert proc.stdin is not None and proc.stdout is not None
    text = "y" * (50 * 1024 * 1024)
    proc.stdin.write(_frame({"id": "big", "type": "capture", "params": {
        "conversation": {"provider": "chatgpt", "id": "big"}, "messages": [{"role": "user", "text": text}]}}))
    proc.stdin.write(_frame({"id": "after", "type": "capture", "params": capture_params("relay", 1)}))
    proc.stdin.flush()
    first, second = _read(proc.stdout), _read(proc.stdout)
    assert first["ok"] is False and first["error"]["code"] == "too_large"
    assert second["id"] == "after" and second["ok"], second
    proc.stdin.close()
    assert proc.wait(20) == 0


# ----------------------------------------------------------------- damaged vault file
def _fill_and_back_up(home: Path) -> None:
    """Two conversations in the vault, a backup holding only the first, with no owner running."""
    from satchel.vault import backup
    from satchel.vault.store import Vault

    with open(home / "vault.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        vault = Vault.open(home, background_embedding=False)
        vault.capture(*_conversation("kept", "saved by the backup"))
        with vault.lock:
            backup.create(vault.db, home)
        vault.capture(*_conversation("later", "written after the backup"))
        vault.close()


def _conversation(conv_id: str, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return {"provider": "claude", "id": conv_id}, [{"role": "user", "text": text, "id": f"{conv_id}-1"}]


@pytest.mark.parametrize("damage", ["truncated", "zeroed_header", "garbage", "empty"])
def test_a_damaged_vault_gives_vault_corrupt_and_recover_restores_the_last_backup(home: Path, damage: str) -> None:
    from satchel.vault import backup

    _fill_and_back_up(home)
    vault_file = home / "vault.duckdb"
    data = vault_file.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "zeroed_header": b"\0" * 4096 + data[4096:],
               "garbage": os.urandom(len(data)), "empty": b""}[damage]
    vault_file.write_bytes(damaged)
    with VaultClient(home) as client, pytest.raises(SatchelError) as excinfo:
        client.call("stats")
    assert excinfo.value.code == "vault_corrupt"
    assert "vault.duckdb" in excinfo.value.message
    stop_owners(home)
    assert vault_file.read_bytes() == damaged, "opening a damaged vault must not change it"

    used = backup.recover(home)
    assert used in backup.list_backups(home)
    moved = [p for p in (home / "damaged").iterdir() if p.name.startswith("vault.duckdb.")]
    assert [p.read_bytes() for p in moved] == [damaged]
    with VaultClient(home) as client:
        listed = client.call("conversations.list")["conversations"]
    assert [c["id"] for c in listed] == ["kept"]


def test_the_vault_corrupt_error_tells_the_user_how_to_recover(home: Path) -> None:
    _fill_and_back_up(home)
    (home / "vault.duckdb").write_bytes(b"not a database at all" * 100)
    with VaultClient(home) as client, pytest.raises(SatchelError) as excinfo:
        client.call("stats")
    assert "backup" in excinfo.value.message.lower() or "recover" in excinfo.value.message.lower(), \
        excinfo.value.message


def test_recover_without_a_good_backup_is_a_clear_error_and_touches_nothing(home: Path) -> None:
    from satchel.vault import backup

    (home / "vault.duckdb").write_bytes(b"junk")
    (home / "backups").mkdir()
    (home / "backups" / "vault-20240101T000000000000Z.duckdb").write_bytes(b"also junk")
    with pytest.raises(SatchelError) as excinfo:
        backup.recover(home)
    assert excinfo.value.code == "vault_corrupt"
    assert (home / "vault.duckdb").read_bytes() == b"junk"


# ----------------------------------------------------------------- full disk
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (this test simulates a full disk with one)")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        stop_owners(mount / "home")
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_disk_full_and_loses_nothing_stored(small_disk: Path) -> None:
    home = small_disk / "home"
    home.mkdir()
    start_owner(home)
    acked: list[str] = []
    codes: list[str] = []
    with VaultClient(home) as client:
        for i in range(400):
            params = capture_params("disk", i)
            params["messages"][0]["text"] = os.urandom(30_000).hex()  # incompressible
            try:
                client.call("capture", params)
                acked.append(params["messages"][0]["id"])
            except SatchelError as exc:
                codes.append(exc.code)
                if len(codes) >= 3:
                    break
        assert codes, "the 6 MB disk never filled up"
        assert set(codes) == {"disk_full"}, codes
        assert client.call("stats")["messages"] == len(acked)  # still serving, nothing lost
    stop_owners(home)
    assert set(message_ids(home)) == set(acked)  # a fresh owner replays everything acknowledged


def test_owner_killed_under_a_relay_every_request_gets_one_reply_and_acked_ones_are_kept(home: Path) -> None:
    """A browser pipelines captures through `satchel host`; the owner dies; each request still gets exactly one
    reply (ok, or a typed error the extension's queue retries), and the relay carries on with a new owner."""
    start_owner(home)
    proc = subprocess.Popen([sys.executable, "-m", "satchel", "host", "chrome-extension://x/"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ, SATCHEL_HOME=str(home)))
    assert proc.stdin is not None and proc.stdout is not None
    total = 150
    replies: dict[str, list[dict[str, Any]]] = {}

    def reader() -> None:
        while sum(len(v) for v in replies.values()) < total:
            reply = _read(proc.stdout)
            replies.setdefault(reply["id"], []).append(reply)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    for i in range(total):
        proc.stdin.write(_frame({"id": f"r{i}", "type": "capture", "params": capture_params("relay", i)}))
        proc.stdin.flush()
        if i == total // 3:
            for pid in owner_pids(home):
                os.kill(pid, signal.SIGKILL)
        if i % 20 == 0:
            time.sleep(0.01)  # a browser's pace, so some requests are in flight when the owner dies
    thread.join(90)
    assert not thread.is_alive(), f"{total - sum(len(v) for v in replies.values())} requests never got a reply"
    assert all(len(v) == 1 for v in replies.values())
    codes = {r[0]["error"]["code"] for r in replies.values() if not r[0]["ok"]}
    assert codes <= {"vault_unavailable"}, codes
    acked = {f"relay-m{rid[1:]}" for rid, r in replies.items() if r[0]["ok"]}
    assert len(acked) > total // 2
    stored = message_ids(home)
    assert len(stored) == len(set(stored)) and acked <= set(stored)
    proc.stdin.close()
    assert proc.wait(20) == 0


@pytest.mark.slow
def test_owner_killed_while_the_real_model_embeds_resumes_without_duplicate_vectors(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ONNX model: kill the owner between embedding batches; the next owner finishes the backlog and
    every chunk ends with exactly one vector."""
    monkeypatch.setenv("SATCHEL_EMBEDDER", "onnx")
    monkeypatch.setenv("SATCHEL_EMBED_IDLE", "1")
    start_owner(home)
    with VaultClient(home) as client:
        for i in range(40):
            client.call("capture", capture_params("model", i))
        deadline = time.monotonic() + 60
        while client.call("stats")["embedded"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.call("stats")["backlog"] > 0, "embedding finished before the kill; nothing was tested"
        kill_owners(home)
        deadline = time.monotonic() + 120
        while (stats := client.call("stats"))["backlog"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stats["backlog"] == 0 and stats["embedded"] == stats["chunks"] == 40
        assert stats["model"].startswith("all-MiniLM-L6-v2")
        hits = client.call("search", {"query": "burst message about topic 5", "k": 5})["hits"]
        assert hits
    stop_owners(home)
    import duckdb

    con = duckdb.connect(str(home / "vault.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT chunk_id FROM embeddings GROUP BY chunk_id, model HAVING count(*) > 1"
                           ).fetchall() == []
    finally:
        con.close()
