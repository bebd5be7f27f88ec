"""Every action through a real `satchel host` subprocess, relaying to a real vault owner."""

from __future__ import annotations

import json
import struct
import time

import pytest
from satchel.native.protocol import PROTOCOL_VERSION

from .helpers import HostProcess, conversation


@pytest.fixture
def host(satchel_home):
    process = HostProcess(satchel_home)
    yield process
    process.close()


def test_hello_is_answered_before_the_vault_is_loaded(satchel_home):
    started = time.monotonic()
    process = HostProcess(satchel_home)
    data = process.call("hello")
    elapsed = time.monotonic() - started
    assert data["protocol_version"] == PROTOCOL_VERSION
    assert data["vault"]["state"] in ("starting", "ready")
    assert elapsed < 5  # the figure itself (≈70 ms) is measured by bench/run.py
    process.close()


def test_reply_envelope_carries_id_and_version(host):
    reply = host.request("stats")
    assert reply["v"] == PROTOCOL_VERSION and reply["ok"] is True and set(reply["data"]) >= {"messages", "backlog"}


def test_capture_then_search_then_context(host):
    host.call("capture", conversation(topic="sourdough starter hydration"))
    hits = host.call("search", {"query": "sourdough hydration"})["hits"]
    assert hits and hits[0]["provider"] == "chatgpt" and "sourdough" in hits[0]["text"]
    assert set(hits[0]) >= {"provider", "conversation_id", "message_id", "role", "text", "score", "created_at", "title"}
    block = host.call("context", {"prompt": "how hydrated should my sourdough starter be?"})
    assert "sourdough" in block["text"] and block["sources"][0]["title"] == "Sourdough Starter Hydration"


def test_capture_is_idempotent(host):
    payload = conversation(n=6)
    assert host.call("capture", payload) == {"added": 6, "updated": 0, "unchanged": 0}
    assert host.call("capture", payload) == {"added": 0, "updated": 0, "unchanged": 6}


def test_conversations_list_and_get(host):
    host.call("capture", conversation(conv_id="a"))
    host.call("capture", conversation(conv_id="b", provider="claude"))
    listed = host.call("conversations.list", {"limit": 10})
    assert listed["total"] == 2 and {c["id"] for c in listed["conversations"]} == {"a", "b"}
    got = host.call("conversation.get", {"provider": "claude", "id": "b"})
    assert [m["role"] for m in got["messages"]] == ["user", "assistant", "user", "assistant"]


def test_forget_conversation_removes_it_from_search(host):
    host.call("capture", conversation(topic="zanzibar ferry schedule"))
    assert host.call("search", {"query": "zanzibar ferry"})["hits"]
    assert host.call("forget", {"scope": "conversation", "provider": "chatgpt", "id": "c1"})["removed"]["messages"] == 4
    assert host.call("search", {"query": "zanzibar ferry"})["hits"] == []


def test_unknown_action_gets_a_coded_error_and_the_host_keeps_serving(host):
    reply = host.request("teleport")
    assert reply["ok"] is False and reply["error"]["code"] == "unknown_action"
    assert host.call("stats")["messages"] == 0


@pytest.mark.parametrize(("params", "fragment"), [
    ({"conversation": {"provider": "x"}, "messages": []}, "conversation.id"),
    ({"conversation": {"provider": "x", "id": "1"}, "messages": [{"role": "robot", "text": "hi"}]}, "role"),
    ({"conversation": {"provider": "x", "id": "1"}, "messages": [{"role": "user", "text": 5}]}, "text"),
    ({"conversation": "nope", "messages": []}, "conversation"),
])
def test_wrong_field_types_get_invalid_params(host, params, fragment):
    reply = host.request("capture", params)
    assert reply["error"]["code"] == "invalid_params" and fragment in reply["error"]["message"]


def test_garbage_frames_get_errors_and_the_host_keeps_serving(host):
    host.send_raw(struct.pack("=I", 4) + b"\xff\xfe\xfd\xfc")
    assert host.read()["error"]["code"] == "bad_frame"
    host.send_raw(struct.pack("=I", 5) + b"hello")
    assert host.read()["error"]["code"] == "bad_frame"
    host.send({"no": "id"})
    assert host.read()["error"]["code"] == "bad_request"
    assert host.call("hello")["protocol_version"] == PROTOCOL_VERSION


def test_a_50_mb_message_is_refused_and_the_host_keeps_serving(host):
    payload = b'{"id":"big","type":"capture","params":{"text":"' + b"a" * (50 * 1024 * 1024) + b'"}}'
    host.send_raw(struct.pack("=I", len(payload)) + payload)
    assert host.read()["error"]["code"] == "too_large"
    assert host.call("stats")["messages"] == 0


def test_replies_stay_under_one_megabyte(host):
    big = "zebra crossing notes " + "lorem ipsum dolor " * 25_000  # ≈450 kB a message
    host.call("capture", {"conversation": {"provider": "p", "id": "big"},
                          "messages": [{"role": "user", "text": big + str(i)} for i in range(4)]})
    seen, offset = [], 0
    while offset is not None:  # pages stop early by size, and together hold every message whole
        page = host.call("conversation.get", {"provider": "p", "id": "big", "offset": offset})
        assert len(json.dumps(page).encode()) < 1024 * 1024 and page["messages"]
        seen += [m["text"] for m in page["messages"]]
        offset = page["next_offset"]
    assert seen == [big + str(i) for i in range(4)]
    hits = host.call("search", {"query": "zebra crossing", "k": 10})["hits"]
    assert hits and all(h.get("truncated") and len(h["text"]) <= 4001 for h in hits)


def test_browser_cannot_call_cli_only_actions(host):
    assert host.request("shutdown")["error"]["code"] == "forbidden"


def test_closing_stdin_ends_the_host_cleanly(satchel_home):
    process = HostProcess(satchel_home)
    process.call("hello")
    assert process.close() == 0
