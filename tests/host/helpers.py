"""Drive a real `satchel host` subprocess with native-messaging frames."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def bench_load() -> Any:
    """bench/load.py as a module: its driver and vault readers serve the load and fault tests too."""
    spec = importlib.util.spec_from_file_location("satchel_bench_load", BENCH_LOAD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class HostProcess:
    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "satchel", "host", "chrome-extension://test/"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SATCHEL_HOME": str(home), **(env or {})},
        )
        self._ids = itertools.count(1)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: Any) -> None:
        payload = json.dumps(obj).encode()
        self.send_raw(struct.pack("=I", len(payload)) + payload)

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        header = self.proc.stdout.read(4)
        if len(header) != 4:
            stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise AssertionError(f"host closed stdout; stderr: {stderr}")
        (length,) = struct.unpack("=I", header)
        return json.loads(self.proc.stdout.read(length))

    def request(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = f"r{next(self._ids)}"
        self.send({"id": request_id, "type": action, "params": params or {}})
        reply = self.read()
        assert reply["id"] == request_id
        return reply

    def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.request(action, params)
        assert reply["ok"], reply
        return reply["data"]

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=20)


def conversation(provider: str = "chatgpt", conv_id: str = "c1", n: int = 4,
                 topic: str = "kyoto trip") -> dict[str, Any]:
    messages = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        lead = "question about " if role == "user" else "answer on "
        messages.append({"role": role, "text": f"{topic} message {i}: {lead}{topic}"})
    return {"conversation": {"provider": provider, "id": conv_id, "title": topic.title(),
                             "url": f"https://example.test/{conv_id}"}, "messages": messages}
