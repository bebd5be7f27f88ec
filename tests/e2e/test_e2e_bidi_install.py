"""A guard independent of Playwright: Debian's Firefox ESR installs the packaged .xpi (and the unpacked
build) through raw WebDriver BiDi `webExtension.install`, under the gecko id the host manifests allow.
If Playwright and the ESR drift apart, this still says whether the add-on itself is accepted."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import DIST, FIREFOX_BIN

websockets_sync = pytest.importorskip("websockets.sync.client")


class Bidi:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    def call(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self.next_id:
                if reply.get("type") == "error":
                    raise AssertionError(f"{method}: {reply.get('error')}: {reply.get('message')}")
                return reply["result"]


@pytest.fixture(scope="module")
def bidi(tmp_path_factory, extension_ids):
    if not Path(FIREFOX_BIN).exists():
        pytest.skip(f"{FIREFOX_BIN} is not installed")
    profile = tmp_path_factory.mktemp("bidi-profile")
    (profile / "user.js").write_text('user_pref("xpinstall.signatures.required", false);\n')
    proc = subprocess.Popen(
        [FIREFOX_BIN, "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline and url is None:
            line = proc.stderr.readline()
            match = re.search(r"WebDriver BiDi listening on (ws://\S+)", line or "")
            if match:
                url = match.group(1)
        if url is None:
            pytest.fail("Firefox did not start its WebDriver BiDi server")
        # Keep draining Firefox's chatty stderr so it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        with websockets_sync.connect(url.rstrip("/") + "/session", max_size=None, open_timeout=20) as ws:
            session = Bidi(ws)
            session.call("session.new", {"capabilities": {}})
            yield session
            session.call("session.end", {})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_firefox_esr_installs_the_packaged_xpi_under_the_gecko_id(bidi, extension_ids):
    result = bidi.call(
        "webExtension.install", {"extensionData": {"type": "archivePath", "path": str(DIST / "satchel-firefox.xpi")}}
    )
    assert result["extension"] == extension_ids["firefox"]
    bidi.call("webExtension.uninstall", {"extension": result["extension"]})


def test_firefox_esr_installs_the_unpacked_build(bidi, extension_ids):
    result = bidi.call("webExtension.install", {"extensionData": {"type": "path", "path": str(DIST / "firefox")}})
    assert result["extension"] == extension_ids["firefox"]
    bidi.call("webExtension.uninstall", {"extension": result["extension"]})
