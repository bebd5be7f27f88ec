"""satchel.vault.backup: rotation, verification, recovery and compaction of the vault file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from satchel.errors import SatchelError
from satchel.vault import backup
from satchel.vault.store import Vault

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Vault]:
    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
    vault = Vault.open(tmp_path / "home", background_embedding=False)
    vault.capture({"provider": "chatgpt", "id": "c1"}, [{"role": "user", "text": "the first conversation"}])
    yield vault
    vault.close()


def test_rotate_takes_a_backup_only_when_the_newest_is_older_than_the_interval(vault: Vault) -> None:
    with vault.lock:
        first = backup.rotate(vault.db, vault.home, interval=3600)
        again = backup.rotate(vault.db, vault.home, interval=3600)
        forced = backup.rotate(vault.db, vault.home, interval=0)
    assert first is not None and again is None and forced is not None
    assert backup.list_backups(vault.home) == [forced, first]


def test_rotation_keeps_the_newest_n(vault: Vault) -> None:
    with vault.lock:
        made = [backup.create(vault.db, vault.home, keep=3) for _ in range(5)]
    assert backup.list_backups(vault.home) == made[:-4:-1]


def test_backups_are_private_and_verify(vault: Vault) -> None:
    with vault.lock:
        path = backup.create(vault.db, vault.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert backup.verify(path)


def test_a_backup_is_a_consistent_copy_that_opens_as_a_vault(vault: Vault, tmp_path: Path) -> None:
    with vault.lock:
        path = backup.create(vault.db, vault.home)
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "vault.duckdb").write_bytes(path.read_bytes())
    copy = Vault.open(restored, background_embedding=False)
    try:
        assert [c["id"] for c in copy.list_conversations()["conversations"]] == ["c1"]
        added = copy.capture({"provider": "chatgpt", "id": "c1"}, [{"role": "user", "text": "the first conversation"},
                                                                   {"role": "assistant", "text": "a reply"}])
        assert added == {"added": 1, "updated": 0, "unchanged": 1}
    finally:
        copy.close()


def test_recover_skips_a_damaged_newest_backup(vault: Vault) -> None:
    with vault.lock:
        good = backup.create(vault.db, vault.home)
        bad = backup.create(vault.db, vault.home)
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    assert not backup.verify(bad)
    assert backup.latest_good(vault.home) == good


def test_the_recovery_hint_names_the_last_backup(vault: Vault) -> None:
    assert "No backup" in backup.recovery_hint(vault.home)
    with vault.lock:
        backup.create(vault.db, vault.home)
    assert "satchel recover" in backup.recovery_hint(vault.home)


def test_compact_keeps_every_row_and_shrinks_a_file_with_deleted_rows(vault: Vault) -> None:
    vault.capture({"provider": "claude", "id": "big"},
                  [{"role": "user", "text": os.urandom(200_000).hex()} for _ in range(5)])
    with vault.lock:
        vault.db.execute("CHECKPOINT")
        before = (vault.home / "vault.duckdb").stat().st_size
        # Plain deletes, as a forget leaves them: the blocks are freed, not returned to the file system.
        vault.db.execute("DELETE FROM chunks WHERE message_id IN (SELECT id FROM messages WHERE conversation_id ="
                         " (SELECT id FROM conversations WHERE external_id = 'big'))")
        vault.db.execute("DELETE FROM messages WHERE conversation_id ="
                         " (SELECT id FROM conversations WHERE external_id = 'big')")
        vault.db.execute("DELETE FROM conversations WHERE external_id = 'big'")
        vault.db.execute("CHECKPOINT")
        assert (vault.home / "vault.duckdb").stat().st_size >= before
        vault.db = backup.compact(vault.db, vault.home)
    assert (vault.home / "vault.duckdb").stat().st_size < before
    assert vault.db.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    assert vault.capture({"provider": "chatgpt", "id": "c2"}, [{"role": "user", "text": "after"}])["added"] == 1


def test_a_compaction_that_cannot_write_leaves_the_vault_open_and_whole(vault: Vault,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def full(db: object, target: Path) -> None:
        raise backup.DiskFull("the disk is full")

    monkeypatch.setattr(backup, "_copy_to", full)
    with vault.lock, pytest.raises(SatchelError) as excinfo:
        backup.compact(vault.db, vault.home)
    assert excinfo.value.code == "disk_full"
    assert vault.stats()["messages"] == 1  # the old connection still works
