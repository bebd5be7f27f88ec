"""Load: two browsers (two real `satchel host` relays) and the CLI capture and search at the same time.

Every message is stored exactly once and no error reaches any client. The full-size run with latency
figures is `python bench/load.py` (10,000 captures + 1,000 searches); this runs its driver smaller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import bench_load


def _driver() -> Any:
    return bench_load()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_browsers_and_the_cli_at_once_store_everything_exactly_once(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATCHEL_IDLE_TIMEOUT", "20")
    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")  # run_load sets it for the owners it starts; restored after
    load = _driver()
    home = tmp_path / "home"
    try:
        report = load.run_load(home, browser_captures=600, browser_searches=120, cli_captures=200,
                               cli_searches=60, embedder="fake")
    finally:
        load.stop_owner(home)
    assert report["errors"] == []
    assert report["captures"] == 1400 and report["searches"] == 300
    assert report["duplicates"] == 0 and report["missing"] == 0 and report["unexpected"] == 0
    assert report["stored_messages"] == 1400
