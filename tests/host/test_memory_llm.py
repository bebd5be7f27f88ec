"""The optional local model: an OpenAI-compatible endpoint on this machine, faked here by a tiny HTTP server.
Without it, or when it fails, everything falls back to the rule-based path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from satchel.memory.extract import Message, extract
from satchel.memory.llm_client import LLMClient, LLMConfig, LLMError, LLMRefused
from satchel.memory.summarize import summarize


class FakeModel:
    """Speaks /v1/chat/completions; `mode` picks how it behaves."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.memories: list[dict[str, Any]] = [
            {"kind": "fact", "key": "lives_in", "text": "Lives in Lyon", "turn": 1},
            {"kind": "preference", "key": "Prefer: Tabs", "text": "Prefers tabs over spaces", "turn": 0},
            {"kind": "gossip", "key": "x", "text": "not a kind we keep", "turn": 0},
            {"kind": "fact", "key": "age", "text": "   ", "turn": 0},
            {"kind": "project", "text": "Working on Satchel"},
        ]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                mode = server.mode
                if mode == "slow":
                    time.sleep(2.0)
                if mode == "redirect":
                    self.send_response(307)
                    self.send_header("Location", "http://192.0.2.1/v1/chat/completions")
                    self.end_headers()
                    return
                if mode == "broken":
                    self._reply(500, {"error": {"message": "model not loaded"}})
                    return
                if mode == "bad_request":
                    self._reply(400, {"error": {"message": "context too long"}})
                    return
                if mode == "no_json_mode" and "response_format" in body:
                    self._reply(400, {"error": {"message": "response_format is not supported"}})
                    return
                if mode == "garbage":
                    self._reply(200, {"choices": [{"message": {"content": "I'd rather chat about the weather."}}]})
                    return
                system = body["messages"][0]["content"]
                if "summarise" in system:
                    content = json.dumps({"summary": "Planned a two-week cherry blossom trip to Kyoto and Tokyo."})
                else:
                    content = json.dumps({"memories": server.memories})
                if mode == "fenced":
                    content = f"```json\n{content}\n```"
                self._reply(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model() -> Iterator[FakeModel]:
    fake = FakeModel()
    yield fake
    fake.close()


def client(model: FakeModel, **kw: Any) -> LLMClient:
    return LLMClient(LLMConfig(model.base_url, "tiny-local", **kw))


MESSAGES = [
    Message(11, "user", "I prefer tabs over spaces.", datetime(2026, 1, 1)),
    Message(12, "assistant", "Noted.", datetime(2026, 1, 1)),
    Message(13, "user", "I live in Lyon now.", datetime(2026, 2, 1)),
]


def test_memories_come_from_the_local_model_when_it_answers(model: FakeModel) -> None:
    candidates = extract(MESSAGES, llm=client(model))
    assert [(c.kind, c.key, c.text, c.message_ids, c.origin) for c in candidates] == [
        ("fact", "lives_in", "Lives in Lyon", (13,), "llm"),
        ("preference", "prefer:tabs", "Prefers tabs over spaces", (11,), "llm"),
        ("project", "project:work_satchel", "Working on Satchel", (11, 13), "llm"),
    ]
    assert candidates[0].observed_at == datetime(2026, 2, 1)


def test_the_request_is_an_openai_chat_completion_in_json_mode(model: FakeModel) -> None:
    extract(MESSAGES, llm=client(model, api_key="local"))
    (request,) = model.requests
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "tiny-local" and body["temperature"] == 0 and body["stream"] is False
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    # Only the person's own turns are sent, numbered so the model can cite them.
    assert body["messages"][1]["content"] == "[0] I prefer tabs over spaces.\n\n[1] I live in Lyon now."
    assert request["headers"]["Authorization"] == "Bearer local"


def test_summary_comes_from_the_local_model_within_the_budget(model: FakeModel) -> None:
    text = summarize([("user", "Plan my trip to Kyoto."), ("assistant", "Here is a plan.")], 40, llm=client(model))
    assert text.startswith("Planned a two-week") and len(text) <= 40


def test_a_server_without_json_mode_is_asked_again_plainly(model: FakeModel) -> None:
    model.mode = "no_json_mode"
    assert len(extract(MESSAGES, llm=client(model))) == 3
    assert ["response_format" in r["body"] for r in model.requests] == [True, False]


@pytest.mark.parametrize("mode", ["broken", "bad_request"])
def test_http_errors_become_llm_errors_and_the_rules_take_over(model: FakeModel, mode: str) -> None:
    model.mode = mode
    with pytest.raises(LLMError):
        client(model).extract_memories(MESSAGES)
    assert [c.origin for c in extract(MESSAGES, llm=client(model))] == ["extracted", "extracted"]


def test_a_json_answer_in_a_code_fence_is_understood(model: FakeModel) -> None:
    model.mode = "fenced"
    assert len(extract(MESSAGES, llm=client(model))) == 3


def test_a_slow_model_hits_the_deadline_and_the_rules_take_over(model: FakeModel) -> None:
    model.mode = "slow"
    llm = client(model, timeout=0.3)
    start = time.perf_counter()
    with pytest.raises(LLMError):
        llm.extract_memories(MESSAGES)
    assert time.perf_counter() - start < 1.5
    candidates = extract(MESSAGES, llm=llm)
    assert [(c.key, c.origin) for c in candidates] == [("prefer:space|tab", "extracted"), ("lives_in", "extracted")]


def test_a_model_that_is_down_falls_back_to_rules_and_extractive_summaries(model: FakeModel) -> None:
    llm = client(model)
    model.close()
    assert [c.origin for c in extract(MESSAGES, llm=llm)] == ["extracted", "extracted"]
    summary = summarize([("user", "I need a plan for visiting Kyoto temples in spring.")], 200, llm=llm)
    assert summary == "I need a plan for visiting Kyoto temples in spring."


def test_an_answer_that_is_not_json_falls_back(model: FakeModel) -> None:
    model.mode = "garbage"
    with pytest.raises(LLMError):
        client(model).extract_memories(MESSAGES)
    assert [c.origin for c in extract(MESSAGES, llm=client(model))] == ["extracted", "extracted"]


def test_redirects_are_refused(model: FakeModel) -> None:
    model.mode = "redirect"
    with pytest.raises(LLMError):
        client(model).summarize([("user", "hello there, plan my week")], 100)


def test_proxy_settings_from_the_environment_are_ignored(model: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert len(client(model).extract_memories(MESSAGES)) == 3


@pytest.mark.parametrize(
    "url",
    ["http://192.0.2.10:11434/v1", "https://10.1.2.3/v1", "http://[2001:db8::1]:8080/v1", "http://0.0.0.0:1/v1"],
)
def test_an_endpoint_off_this_machine_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(LLMRefused):
        LLMClient(LLMConfig(url, "m"))
    LLMClient(LLMConfig(url, "m", allow_remote=True))  # the person's explicit choice; no request is made here


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:11434/v1", "http://localhost:8080/v1", "http://[::1]:1234/v1", "http://127.8.9.10/v1"]
)
def test_loopback_endpoints_are_accepted(url: str) -> None:
    LLMClient(LLMConfig(url, "m"))


def test_a_non_http_url_is_rejected() -> None:
    with pytest.raises(LLMError):
        LLMClient(LLMConfig("file:///etc/passwd", "m"))


def test_config_from_the_vault_settings() -> None:
    assert LLMConfig.from_settings({}) is None
    config = LLMConfig.from_settings(
        {"llm.base_url": "http://127.0.0.1:11434/v1", "llm.model": "qwen2.5:3b", "llm.timeout": 5}
    )
    assert config == LLMConfig("http://127.0.0.1:11434/v1", "qwen2.5:3b", timeout=5.0)
