"""Never lose a capture: with the host gone, captures wait in extension storage (across a browser
restart too) and are delivered once the host is back; a host that is too old gets a clear message."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from .conftest import FIXTURES, SITES


def expected_conv(adapter: str) -> tuple[str, str, int]:
    expected = json.loads((FIXTURES / SITES[adapter]["expected"]).read_text(encoding="utf-8"))
    conv = expected["conversation"]
    return conv["provider"], conv["id"], len(expected["messages"])


def host_down(ext) -> None:
    """Uninstall the host manifest and SIGKILL every running host and the vault owner."""
    for manifest in ext.manifests:
        manifest.rename(manifest.with_suffix(".off"))
    for proc in ext.satchel_processes():
        os.kill(proc.pid, signal.SIGKILL)


def host_up(ext) -> None:
    for manifest in ext.manifests:
        manifest.with_suffix(".off").rename(manifest)


def test_captures_wait_for_the_host_and_survive_a_browser_restart(ext, playwright_instance):
    # Conversations no other test captures: each fixture page served as a new conversation id.
    run = ext.name

    # 1. Normal operation.
    page = ext.open(ext.serve_site_as("deepseek", f"queue-{run}-1"))
    provider, _, n = expected_conv("deepseek")
    ext.wait_for_conversation(provider, f"queue-{run}-1", n)
    page.close()

    # 2. The host is killed mid-session and cannot be started: the capture waits in the queue.
    host_down(ext)
    provider, _, n = expected_conv("grok")
    conv_id = f"queue-{run}-2"
    page = ext.open(ext.serve_site_as("grok", conv_id))
    page.wait_for_timeout(3000)
    assert ext.conversation(provider, conv_id) is None
    if ext.name == "chromium":  # extension pages are reachable from tests in Chromium only
        status = ext.ext_call("host.status")
        assert status["queue"]["length"] >= 1 and status["state"] != "ready"
        badge = ext.ext_page().evaluate("() => chrome.action.getBadgeText({})")
        assert badge == str(status["queue"]["length"])

    # 3. The host comes back: the queue is delivered without the page doing anything.
    host_up(ext)
    ext.wait_for_conversation(provider, conv_id, n, timeout=45)
    page.close()

    # 4. Down again, capture, then the browser quits before the host returns.
    host_down(ext)
    provider, _, n = expected_conv("poe")
    conv_id = f"queue-{run}-3"
    page = ext.open(ext.serve_site_as("poe", conv_id))
    page.wait_for_timeout(3000)
    assert ext.conversation(provider, conv_id) is None
    ext.close()
    host_up(ext)

    # 5. Next browser start: the backlog kept in storage.local is delivered.
    ext.launch(playwright_instance)
    ext.context.new_page()  # something for Playwright to pump events through
    ext.wait_for_conversation(provider, conv_id, n, timeout=60)
    stored = ext.vault("conversation.get", {"provider": provider, "id": conv_id})
    assert len(stored["messages"]) == n, "delivered exactly once"


FAKE_OLD_HOST = r"""
import json, struct, sys
while True:
    header = sys.stdin.buffer.read(4)
    if len(header) < 4:
        break
    request = json.loads(sys.stdin.buffer.read(struct.unpack("=I", header)[0]))
    reply = {"id": request.get("id"), "v": 0, "ok": True,
             "data": {"host_version": "0.0.1", "protocol_version": 0, "min_client_protocol": 0,
                      "vault": {"state": "ready"}}}
    body = json.dumps(reply).encode()
    sys.stdout.buffer.write(struct.pack("=I", len(body)) + body)
    sys.stdout.buffer.flush()
"""


def test_too_old_host_gets_a_clear_message_with_the_fix(ext):
    if ext.name == "firefox":
        pytest.skip("reads the status from an extension page (Chromium only under Playwright)")
    fake = ext.tmp / "old-host.py"
    fake.write_text(FAKE_OLD_HOST)
    launcher = ext.tmp / "old-host"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {fake}\n")
    launcher.chmod(0o755)
    originals = {m: m.read_text() for m in ext.manifests}
    try:
        for manifest, text in originals.items():
            manifest.write_text(json.dumps({**json.loads(text), "path": str(launcher)}))
        status = ext.ext_call("host.reconnect")
        assert status["state"] == "incompatible"
        assert "too old" in status["error"] and "pipx upgrade satchel" in status["error"]
        assert ext.ext_page().evaluate("() => chrome.action.getBadgeText({})") == "!"
    finally:
        for manifest, text in originals.items():
            manifest.write_text(text)
        ext.ext_call("host.reconnect")
