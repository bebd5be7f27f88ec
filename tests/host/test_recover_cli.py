"""`satchel recover`: a damaged vault is replaced by its last good backup, through the CLI a person runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from satchel.daemon.client import VaultClient


def satchel(home, *args):
    return subprocess.run([sys.executable, "-m", "satchel", *args], capture_output=True, text=True,
                          env={**os.environ, "SATCHEL_HOME": str(home)}, timeout=120)


def test_recover_restores_the_last_backup_after_damage(satchel_home):
    with VaultClient(satchel_home) as client:
        client.call("capture", {"conversation": {"provider": "claude", "id": "keep"},
                                "messages": [{"role": "user", "text": "the walnut tree was planted in 2019"}]})
        # The owner may have taken its first restore point before this capture: drop it, so the next one
        # (due at once when none exists) holds the capture.
        for old in (satchel_home / "backups").glob("vault-*"):
            old.unlink()
        client.call("stats")  # wakes the background loop
    deadline = time.monotonic() + 60
    while not list((satchel_home / "backups").glob("vault-*.duckdb")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert satchel(satchel_home, "stop").returncode == 0
    time.sleep(0.5)
    vault = satchel_home / "vault.duckdb"
    vault.write_bytes(b"\0" * 4096 + vault.read_bytes()[4096:])  # the header is gone
    broken = satchel(satchel_home, "stats")
    assert broken.returncode == 1 and "vault_corrupt" in broken.stderr and "satchel recover" in broken.stderr
    satchel(satchel_home, "stop")
    restored = satchel(satchel_home, "recover")
    assert restored.returncode == 0, restored.stderr
    assert "restored the vault" in restored.stdout and list((satchel_home / "damaged").iterdir())
    found = satchel(satchel_home, "search", "walnut tree", "--json")
    assert "walnut tree" in found.stdout
