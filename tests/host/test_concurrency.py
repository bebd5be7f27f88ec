"""Two browsers' hosts and the CLI write to one vault at once: one owner, nothing lost, no lock error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from satchel.daemon.client import VaultClient

from .helpers import HostProcess


def capture_many(host: HostProcess, provider: str, count: int, errors: list) -> None:
    for i in range(count):
        message = {"id": f"m{i}", "role": "user", "text": f"{provider} note number {i}"}
        reply = host.request("capture", {"conversation": {"provider": provider, "id": f"{provider}-{i % 7}"},
                                         "messages": [message]})
        if not reply["ok"]:
            errors.append(reply)


def test_two_hosts_and_the_cli_write_at_once(satchel_home):
    firefox, chromium = HostProcess(satchel_home), HostProcess(satchel_home)
    errors: list = []
    threads = [threading.Thread(target=capture_many, args=(firefox, "firefox-side", 120, errors)),
               threading.Thread(target=capture_many, args=(chromium, "chromium-side", 120, errors))]
    for thread in threads:
        thread.start()
    with VaultClient(satchel_home) as cli:
        for i in range(60):
            cli.call("capture", {"conversation": {"provider": "cli", "id": "notes"},
                                 "messages": [{"id": f"n{i}", "role": "user", "text": f"cli note {i}"}]})
    for thread in threads:
        thread.join()
    assert errors == []
    listing = subprocess.run([sys.executable, "-m", "satchel", "stats", "--json"], capture_output=True, text=True,
                             env={**os.environ, "SATCHEL_HOME": str(satchel_home)}, check=True)
    stats = json.loads(listing.stdout)
    assert stats["messages"] == 120 + 120 + 60
    assert stats["providers"] == {"firefox-side": 120, "chromium-side": 120, "cli": 60}
    firefox.close()
    chromium.close()


def test_only_one_owner_starts_when_many_clients_race(satchel_home):
    clients = [VaultClient(satchel_home) for _ in range(6)]
    results: list = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.call("stats")["path"])) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    owners = subprocess.run(["pgrep", "-f", "satchel serve"], capture_output=True, text=True).stdout.split()
    mine = [pid for pid in owners
            if f"SATCHEL_HOME={satchel_home}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")]
    assert len(mine) == 1
    for client in clients:
        client.close()


def test_cli_search_and_context_commands(satchel_home):
    env = {**os.environ, "SATCHEL_HOME": str(satchel_home)}
    with VaultClient(satchel_home) as cli:
        cli.call("capture", {"conversation": {"provider": "chatgpt", "id": "x", "title": "Bike"},
                             "messages": [{"role": "user", "text": "my bike needs a new derailleur hanger"},
                                          {"role": "user", "text": "unrelated filler text about cooking rice"}]})
    out = subprocess.run([sys.executable, "-m", "satchel", "search", "derailleur", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)[0]["text"] == "my bike needs a new derailleur hanger"
    missing = subprocess.run([sys.executable, "-m", "satchel", "show", "nope", "nope"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "not_found" in missing.stderr and "Traceback" not in missing.stderr
