"""Fuzzing the edges: framing, every action's parameters, and a real `satchel host` process.

Whatever arrives, the host answers with one envelope (ok true/false, a known error code, never `internal`),
keeps the stream in sync, keeps serving, and never replies with more than 1 MB.
The long run (100,000+ inputs, memory figures) is `python bench/fuzz_long.py`.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from satchel.errors import ERROR_CODES, FrameError, SatchelError, TooLarge
from satchel.native.framing import (
    HEADER,
    MAX_INCOMING,
    MAX_OUTGOING,
    EndOfStream,
    decode_payload,
    encode_frame,
    read_frame_bytes,
)

# No shrinking: a failure prints the example as generated, and the regular run stays short.
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                phases=[Phase.explicit, Phase.generate])

# ----------------------------------------------------------------- strategies (shared with bench/fuzz_long.py)
TRICKY_STRINGS = st.sampled_from([
    "", " ", "\x00", "\ud800", "a\udfffb", "🦜" * 3, "\u202e", "null", "NaN", "-1", "2024-02-30",
    "2024-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "1970-01-01", "all", "conversation", "message",
    "provider", "user", "assistant", "system", "tool", "chatgpt", "claude", "</satchel-context>",
    "' OR 1=1 --", "\"; DROP TABLE messages; --", "%s%n", "../../etc/passwd", "x" * 3000,
])
TEXT = st.one_of(st.text(max_size=40), TRICKY_STRINGS)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), TEXT,
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)

PARAM_KEYS = {
    "hello": [],
    "capture": ["conversation", "messages"],
    "search": ["query", "k", "provider", "conversation", "since", "until"],
    "context": ["prompt", "budget_tokens", "exclude"],
    "conversations.list": ["limit", "offset", "provider"],
    "conversation.get": ["provider", "id", "offset", "limit", "history"],
    "forget": ["scope", "provider", "id", "message_id", "confirm"],
    "stats": [],
    "memories.list": ["status", "kind", "limit", "offset"],
    "memory.get": ["id"],
    "memory.add": ["text", "kind"],
    "memory.update": ["id", "text", "pinned", "kind"],
    "memory.delete": ["id"],
    "settings.get": ["key"],
    "settings.set": ["key", "value"],
    "import.start": ["path", "format"],
    "export.start": ["path", "format"],
    "job.get": ["id"],
}
# CLI-only actions that read or write arbitrary paths: fuzzed as the browser (which must be refused) only.
FILESYSTEM_ACTIONS = {"import.start", "export.start"}


def _shaped(keys: list[str], value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects that mostly use the expected keys (so the checks past the first one are reached)."""
    return st.dictionaries(st.one_of(st.sampled_from(keys), TEXT) if keys else TEXT, value, max_size=len(keys) + 2)


PLAUSIBLE = st.one_of(
    TEXT, st.integers(min_value=-5, max_value=2000), st.sampled_from([True, False, None, 0, 1, 10, 100, 101]),
    JSON,
)
ISO = st.one_of(st.none(), st.datetimes().map(lambda d: d.isoformat() + "Z"), st.sampled_from(
    ["2024-05-01", "2024-05-01T10:00:00+02:00", "2023-12-31T23:59:59.999Z"]))
WHEN = st.one_of(ISO, st.sampled_from([0, 1.7e9, -1e20]))
PROVIDER = st.sampled_from(["chatgpt", "claude", "gemini", "x"])
CONV_ID = st.sampled_from(["c1", "c2", "c3"])
VALID_CONV = st.fixed_dictionaries({"provider": PROVIDER, "id": CONV_ID}, optional={
    "title": st.text(max_size=30), "url": st.sampled_from(["https://chatgpt.com/c/1", ""]),
    "model": st.sampled_from(["gpt-4o", "claude-3"]), "created_at": WHEN})
VALID_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool"]), "text": TEXT},
    optional={"id": st.sampled_from(["m1", "m2", "m3", "m4"]), "created_at": WHEN, "model": st.text(max_size=10),
              "parent_id": st.sampled_from(["m1", "m2"]), "meta": JSON})
REF = st.fixed_dictionaries({"provider": PROVIDER, "id": CONV_ID})
VALID: dict[str, st.SearchStrategy[Any]] = {
    "hello": st.just({}),
    "stats": st.just({}),
    "capture": st.fixed_dictionaries({"conversation": VALID_CONV, "messages": st.lists(VALID_MESSAGE, max_size=5)}),
    "search": st.fixed_dictionaries({"query": TEXT}, optional={
        "k": st.integers(1, 100), "provider": PROVIDER, "conversation": REF, "since": ISO, "until": ISO}),
    "context": st.fixed_dictionaries({"prompt": TEXT}, optional={
        "budget_tokens": st.integers(50, 32_000), "exclude": REF}),
    "conversations.list": st.fixed_dictionaries({}, optional={
        "limit": st.integers(1, 500), "offset": st.integers(0, 10), "provider": PROVIDER}),
    "conversation.get": st.fixed_dictionaries({"provider": PROVIDER, "id": CONV_ID}, optional={
        "limit": st.integers(1, 1000), "offset": st.integers(0, 10), "history": st.booleans()}),
    "memories.list": st.fixed_dictionaries({}, optional={
        "status": st.sampled_from(["active", "superseded", "all"]), "kind": st.sampled_from(["fact", "preference"]),
        "limit": st.integers(1, 500), "offset": st.integers(0, 10)}),
    "memory.get": st.fixed_dictionaries({"id": st.integers(0, 5)}),
    "memory.add": st.fixed_dictionaries({"text": TEXT}, optional={"kind": st.sampled_from(["fact", "preference"])}),
    "memory.update": st.fixed_dictionaries({"id": st.integers(0, 5)}, optional={
        "text": TEXT, "pinned": st.booleans(), "kind": st.sampled_from(["fact", "preference"])}),
    "memory.delete": st.fixed_dictionaries({"id": st.integers(0, 5)}),
    "forget": st.fixed_dictionaries({
        "scope": st.sampled_from(["message", "conversation", "provider", "all", "bogus"]), "provider": PROVIDER,
        "id": CONV_ID, "message_id": st.sampled_from(["m1", "m2", "nope"]),
        "confirm": st.sampled_from([True, False, "yes"])}),
}


@st.composite
def _mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid request with one value, somewhere inside it, replaced by something wrong."""
    obj = draw(valid)
    node = obj
    while isinstance(node, dict | list) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if not isinstance(node[key], dict | list) or not node[key] or draw(st.booleans()):
            node[key] = draw(PLAUSIBLE)
            break
        node = node[key]
    return obj


def params_for(action: str) -> st.SearchStrategy[Any]:
    valid = VALID.get(action, _shaped(PARAM_KEYS.get(action, []), PLAUSIBLE))
    return st.one_of(valid, valid, _mutated(valid), _mutated(valid), _shaped(PARAM_KEYS[action], PLAUSIBLE), JSON)


@st.composite
def requests(draw: st.DrawFn) -> Any:
    """Mostly well-formed envelopes around fuzzed params, sometimes a broken envelope."""
    action = draw(st.one_of(st.sampled_from(sorted(PARAM_KEYS)), TEXT))
    params = draw(params_for(action)) if action in PARAM_KEYS else draw(JSON)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(JSON, _shaped(["id", "type", "params"], JSON)))
    return {"id": draw(st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["r", "\ud800"]))),
            "type": action, "params": params}


def assert_envelope(reply: Any) -> None:
    assert isinstance(reply, dict), reply
    assert reply.get("v") == 1
    assert isinstance(reply.get("ok"), bool)
    if reply["ok"]:
        assert isinstance(reply.get("data"), dict)
    else:
        error = reply.get("error")
        assert isinstance(error, dict) and isinstance(error.get("message"), str)
        assert error.get("code") in ERROR_CODES
        # `internal` means an exception escaped a handler: a bug, not a verdict on the input.
        assert error["code"] != "internal", error["message"]


# ----------------------------------------------------------------- framing
def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@FUZZ
@given(st.binary(max_size=2000))
def test_reading_random_bytes_yields_a_frame_or_a_typed_error(data: bytes) -> None:
    stream = io.BytesIO(data)
    for _ in range(50):
        try:
            payload = read_frame_bytes(stream)
        except EndOfStream:
            return
        except TooLarge:
            continue
        try:
            decode_payload(payload)
        except FrameError:
            pass


@FUZZ
@given(st.binary(max_size=3))
def test_a_torn_header_is_the_end_of_the_stream(data: bytes) -> None:
    with pytest.raises(EndOfStream):
        read_frame_bytes(io.BytesIO(data))


@FUZZ
@given(st.integers(min_value=0, max_value=2**32 - 1), st.binary(max_size=64))
def test_any_declared_length_is_read_drained_or_ends_the_stream(length: int, body: bytes) -> None:
    stream = io.BytesIO(HEADER.pack(length) + body)
    try:
        payload = read_frame_bytes(stream)
    except (EndOfStream, TooLarge):
        return
    assert payload == body[:length] and length <= len(body)


@settings(FUZZ, max_examples=10)
@given(st.integers(min_value=MAX_INCOMING + 1, max_value=MAX_INCOMING + 5000), st.text(max_size=20))
def test_an_oversized_frame_is_drained_so_the_next_frame_reads_cleanly(extra: int, text: str) -> None:
    nxt = json.dumps({"id": text}).encode()
    stream = io.BytesIO(HEADER.pack(extra) + b"\0" * extra + frame(nxt))
    with pytest.raises(TooLarge):
        read_frame_bytes(stream)
    assert decode_payload(read_frame_bytes(stream)) == {"id": text}


@FUZZ
@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_returns_json_or_bad_frame(payload: bytes) -> None:
    try:
        decode_payload(payload)
    except FrameError as exc:
        assert exc.code == "bad_frame"


@pytest.mark.parametrize("payload", [
    b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5000, b'{"id": "x", "n": ' + b"9" * 10_000 + b"}",
    b"\xff\xfe{}", b'"\xed\xa0\x80"', b"\xc0\xaf", b"", b"   ", b"NaN", b"{} {}",
], ids=lambda p: repr(p[:12]))
def test_hostile_payloads_are_bad_frames_not_crashes(payload: bytes) -> None:
    try:
        decode_payload(payload)
    except FrameError:
        pass


@FUZZ
@given(JSON)
def test_every_json_value_encodes_to_one_valid_utf8_frame(obj: Any) -> None:
    data = encode_frame(obj)
    (length,) = HEADER.unpack(data[:4])
    assert length == len(data) - 4
    data[4:].decode("utf-8")  # lone surrogates must not reach the browser as invalid UTF-8


# ----------------------------------------------------------------- every action through dispatch.handle
@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SATCHEL_EMBEDDER", "fake")
        yield from _fuzz_vault(tmp_path_factory)


def _fuzz_vault(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import satchel.features  # noqa: F401 - registers the feature modules' actions
    from satchel.vault.store import Vault

    vault = Vault.open(tmp_path_factory.mktemp("fuzz-vault"), background_embedding=False)
    vault.capture({"provider": "chatgpt", "id": "c1", "title": "seed"},
                  [{"role": "user", "text": "how do I rotate the backup files"},
                   {"role": "assistant", "text": "keep seven daily copies", "id": "m2"}])
    vault.embed_pending()
    yield vault
    vault.close()


def _handle(vault: Any, request: Any, client: str = "browser") -> dict[str, Any]:
    from satchel.daemon.dispatch import fits, handle

    reply = handle(vault, request, client=client)
    assert_envelope(reply)
    size = len(encode_frame(reply)) - 4
    assert len(encode_frame(fits(reply, size))) - 4 <= MAX_OUTGOING
    return reply


def test_every_registered_action_is_fuzzed() -> None:
    import satchel.features  # noqa: F401 - registers the feature modules' actions
    from satchel.daemon.dispatch import ACTIONS

    assert set(ACTIONS) <= set(PARAM_KEYS), f"add {sorted(set(ACTIONS) - set(PARAM_KEYS))} to PARAM_KEYS"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("action", sorted(PARAM_KEYS))
def test_every_action_answers_any_params_with_an_envelope(vault: Any, action: str) -> None:
    clients = ["browser"] if action in FILESYSTEM_ACTIONS else ["browser", "cli"]

    @settings(FUZZ, max_examples=100 if action in VALID else 60)
    @given(params_for(action), st.sampled_from(clients))
    def check(params: Any, client: str) -> None:
        reply = _handle(vault, {"id": "f", "type": action, "params": params}, client)
        if action in FILESYSTEM_ACTIONS:  # refused to the browser, whatever the params (bad envelopes first)
            assert reply["error"]["code"] in ("forbidden", "bad_request")

    check()


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=400)
@given(requests())
def test_any_envelope_gets_an_envelope(vault: Any, request: Any) -> None:
    _handle(vault, request)


@pytest.mark.parametrize("where", ["text", "conversation_id", "provider_filter"])
def test_a_lone_surrogate_from_a_page_is_not_an_internal_error(vault: Any, where: str) -> None:
    """JavaScript strings may hold half an emoji (a page truncating text); JSON carries it as \\ud83d."""
    broken = "cut emoji \ud83d here"
    requests = {
        "text": ("capture", {"conversation": {"provider": "chatgpt", "id": "s1"},
                             "messages": [{"role": "user", "text": broken}]}),
        "conversation_id": ("capture", {"conversation": {"provider": "chatgpt", "id": broken},
                                        "messages": [{"role": "user", "text": "fine"}]}),
        "provider_filter": ("conversations.list", {"provider": broken}),
    }
    action, params = requests[where]
    _handle(vault, {"id": "s", "type": action, "params": params})


def test_a_huge_message_can_still_be_searched_within_one_megabyte(vault: Any) -> None:
    """A 1.9M-character message is accepted; searching for it must not make every search too_large."""
    marker = "zebracorn"
    reply = _handle(vault, {"id": "big", "type": "capture", "params": {
        "conversation": {"provider": "claude", "id": "huge"},
        "messages": [{"role": "user", "text": (marker + " ") * 190_000}]}})
    assert reply["ok"], reply
    for action, params in (("search", {"query": marker}), ("context", {"prompt": marker}),
                           ("conversation.get", {"provider": "claude", "id": "huge"})):
        reply = _handle(vault, {"id": "q", "type": action, "params": params})
        size = len(encode_frame(reply)) - 4
        assert reply["ok"] and size <= MAX_OUTGOING, (action, size, reply.get("error"))


# ----------------------------------------------------------------- a real `satchel host` process
def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, SATCHEL_HOME=str(home), SATCHEL_EMBEDDER="fake", SATCHEL_IDLE_TIMEOUT="15")


class HostProc:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc = subprocess.Popen([sys.executable, "-m", "satchel", "host", "chrome-extension://fuzz/"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(home))

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        header = self.proc.stdout.read(4)
        assert len(header) == 4, f"host closed stdout (exit {self.proc.poll()})"
        (length,) = HEADER.unpack(header)
        assert length <= MAX_OUTGOING
        return json.loads(self.proc.stdout.read(length).decode("utf-8"))

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=20)


def stop_owner(home: Path) -> None:
    from satchel.daemon.client import VaultClient

    try:
        with VaultClient(home, autostart=False, timeout=5) as client:
            client.call("shutdown")
    except SatchelError:
        pass


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("fuzz-host")
    proc = HostProc(home)
    proc.send(encode_frame({"id": "h", "type": "hello", "params": {}}))
    assert proc.read()["ok"]
    yield proc
    if proc.proc.poll() is None:
        proc.close()
    stop_owner(home)


def _alive(host: HostProc) -> None:
    host.send(encode_frame({"id": "alive", "type": "stats", "params": {}}))
    reply = host.read()
    assert reply["id"] == "alive" and reply["ok"], reply


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=100)
@given(st.lists(st.one_of(
    requests().map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.sampled_from([b"[" * 100_000, b"1" * 5000, b"\xff", b"{}", b"null", b'{"id": 5, "type": "hello"}']),
), min_size=1, max_size=8))
def test_the_host_answers_every_framed_request_and_keeps_serving(host: HostProc, payloads: list[bytes]) -> None:
    host.send(b"".join(frame(p) for p in payloads))
    for _ in payloads:
        assert_envelope(host.read())
    _alive(host)


@pytest.mark.timeout(60)
def test_the_host_exits_cleanly_when_the_browser_closes_mid_frame(tmp_path: Path) -> None:
    proc = HostProc(tmp_path)
    proc.send(struct.pack("=I", 1000) + b'{"id": "torn"')
    assert proc.close() == 0
    stop_owner(tmp_path)
