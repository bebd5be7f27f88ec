"""Every test gets its own vault directory; vault owners a test starts are stopped after it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def satchel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "satchel-home"
    monkeypatch.setenv("SATCHEL_HOME", str(home))
    # Unit tests use the deterministic embedder; tests of the real model and e2e tests override this.
    monkeypatch.setenv("SATCHEL_EMBEDDER", os.environ.get("SATCHEL_TEST_EMBEDDER", "fake"))
    monkeypatch.setenv("SATCHEL_IDLE_TIMEOUT", "120")
    monkeypatch.setenv("SATCHEL_EMBED_IDLE", "0.2")
    yield home
    stop_owner(home)


def stop_owner(home: Path) -> None:
    """Ask a vault owner started for `home` (if any) to stop, so tests leave no process behind."""
    from satchel.daemon.client import VaultClient
    from satchel.errors import SatchelError

    with contextlib.suppress(SatchelError, OSError), VaultClient(home, autostart=False, timeout=5) as client:
        client.call("shutdown")
