"""Load: two browsers (two `satchel host` relays) and the CLI capture and search at once through real processes.

    python bench/load.py                      # 10,000 captures + 1,000 searches, fake embedder
    python bench/load.py --embedder onnx      # the real model embedding in the background meanwhile
    python bench/load.py --captures 4000 --searches 500 --json

Prints latency p50/p95/p99 per client and action, the error count, and checks that every captured message is
stored exactly once. tests/host/test_load.py runs the same driver at a smaller size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satchel.daemon.client import VaultClient
from satchel.errors import SatchelError
from satchel.native.framing import HEADER, encode_frame

WORDS = [
    "lighthouse", "harbour", "ferry", "timetable", "invoice", "python", "asyncio", "duckdb", "garden", "tomato",
    "recipe", "sourdough", "mortgage", "budget", "marathon", "training", "bicycle", "chain", "lubricant", "violin",
    "practice", "schedule", "quantum", "entanglement", "thesis", "chapter", "outline", "kubernetes", "ingress",
    "certificate", "renewal",
]
MESSAGES_PER_CONVERSATION = 20
RESEND_WINDOW = 4  # an extension capture resends the tail of the thread: earlier turns come back unchanged


def message_text(client: str, i: int) -> str:
    picked = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(12))
    return f"{client} turn {i}: {picked}"


def capture_params(client: str, i: int) -> dict[str, Any]:
    conv, _pos = divmod(i, MESSAGES_PER_CONVERSATION)
    first = max(conv * MESSAGES_PER_CONVERSATION, i - RESEND_WINDOW + 1)
    return {"conversation": {"provider": "chatgpt" if client != "cli" else "claude", "id": f"{client}-{conv}",
                             "title": f"{client} thread {conv}"},
            "messages": [{"id": f"{client}-m{j}", "role": "user" if j % 2 == 0 else "assistant",
                          "text": message_text(client, j)} for j in range(first, i + 1)]}


def search_params(i: int) -> dict[str, Any]:
    return {"query": f"{WORDS[i % len(WORDS)]} {WORDS[(i * 5) % len(WORDS)]}", "k": 10}


def plan(captures: int, searches: int) -> list[tuple[str, dict[str, Any]]]:
    """Captures with searches spread evenly among them."""
    ops: list[tuple[str, dict[str, Any]]] = []
    every = max(captures // max(searches, 1), 1)
    s = 0
    for i in range(captures):
        ops.append(("capture", {"i": i}))
        if s < searches and i % every == every - 1:
            ops.append(("search", search_params(s)))
            s += 1
    while s < searches:
        ops.append(("search", search_params(s)))
        s += 1
    return ops


@dataclass
class Result:
    client: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"capture": [], "search": []})
    errors: list[str] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)
    seconds: float = 0.0


class BrowserDriver(threading.Thread):
    """A `satchel host` subprocess fed like an extension: one request at a time, as its queue does."""

    def __init__(self, name: str, home: Path, captures: int, searches: int, env: dict[str, str]) -> None:
        super().__init__(name=name, daemon=True)
        self.result = Result(name)
        self.ops = plan(captures, searches)
        self.proc = subprocess.Popen([sys.executable, "-m", "satchel", "host", f"chrome-extension://{name}/"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def _call(self, request_id: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(encode_frame({"id": request_id, "type": action, "params": params}))
        self.proc.stdin.flush()
        header = self.proc.stdout.read(4)
        if len(header) < 4:
            raise RuntimeError(f"{self.name}: host closed its stdout")
        (length,) = HEADER.unpack(header)
        reply = json.loads(self.proc.stdout.read(length))
        if reply.get("id") != request_id:
            raise RuntimeError(f"{self.name}: reply {reply.get('id')} for request {request_id}")
        return reply

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self._call("hello", "hello", {"client": "extension", "client_protocol": 1})
            for n, (action, params) in enumerate(self.ops):
                if action == "capture":
                    params = capture_params(self.name, params["i"])
                t0 = time.perf_counter()
                reply = self._call(f"{self.name}-{n}", action, params)
                self.result.latencies[action].append(time.perf_counter() - t0)
                if not reply["ok"]:
                    self.result.errors.append(f"{action}: {reply['error']}")
                elif action == "capture":
                    self.result.message_ids.update(m["id"] for m in params["messages"])
        except Exception as exc:
            self.result.errors.append(f"driver: {exc!r}")
        finally:
            self.result.seconds = time.perf_counter() - started
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)


class CliDriver(threading.Thread):
    """The CLI's client (VaultClient), as `satchel search` or an import would use it."""

    def __init__(self, home: Path, captures: int, searches: int) -> None:
        super().__init__(name="cli", daemon=True)
        self.home = home
        self.result = Result("cli")
        self.ops = plan(captures, searches)

    def run(self) -> None:
        started = time.perf_counter()
        with VaultClient(self.home, client="cli") as client:
            for action, params in self.ops:
                if action == "capture":
                    params = capture_params("cli", params["i"])
                t0 = time.perf_counter()
                try:
                    client.call(action, params)
                    if action == "capture":
                        self.result.message_ids.update(m["id"] for m in params["messages"])
                except SatchelError as exc:
                    self.result.errors.append(f"{action}: {exc.code} {exc.message}")
                self.result.latencies[action].append(time.perf_counter() - t0)
        self.result.seconds = time.perf_counter() - started


def stored_message_ids(home: Path) -> list[str]:
    ids: list[str] = []
    with VaultClient(home) as client:
        offset = 0
        while True:
            page = client.call("conversations.list", {"limit": 500, "offset": offset})
            for conv in page["conversations"]:
                start: int | None = 0
                while start is not None:
                    data = client.call("conversation.get", {"provider": conv["provider"], "id": conv["id"],
                                                            "offset": start, "limit": 1000})
                    ids.extend(m["id"] for m in data["messages"])
                    start = data["next_offset"]
            offset += len(page["conversations"])
            if offset >= page["total"]:
                return ids


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000

    return {"n": len(values), "p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(at(0.95), 2),
            "p99_ms": round(at(0.99), 2), "max_ms": round(ordered[-1] * 1000, 2)}


def run_load(home: Path, *, browser_captures: int, browser_searches: int, cli_captures: int, cli_searches: int,
             embedder: str = "fake") -> dict[str, Any]:
    """Both browsers and the CLI at once; returns latencies, errors and the exactly-once check."""
    env = dict(os.environ, SATCHEL_HOME=str(home), SATCHEL_EMBEDDER=embedder,
               SATCHEL_IDLE_TIMEOUT=os.environ.get("SATCHEL_IDLE_TIMEOUT", "30"))
    os.environ["SATCHEL_EMBEDDER"] = embedder  # an owner started by the CLI driver inherits it
    drivers: list[Any] = [BrowserDriver("firefox", home, browser_captures, browser_searches, env),
                          BrowserDriver("chromium", home, browser_captures, browser_searches, env),
                          CliDriver(home, cli_captures, cli_searches)]
    started = time.perf_counter()
    for d in drivers:
        d.start()
    for d in drivers:
        d.join()
    wall = time.perf_counter() - started
    stored = stored_message_ids(home)
    expected = set().union(*(d.result.message_ids for d in drivers))
    with VaultClient(home) as client:
        stats = client.call("stats")
    report: dict[str, Any] = {
        "wall_seconds": round(wall, 2),
        "captures": sum(len(d.result.latencies["capture"]) for d in drivers),
        "searches": sum(len(d.result.latencies["search"]) for d in drivers),
        "errors": [e for d in drivers for e in d.result.errors],
        "stored_messages": len(stored),
        "duplicates": len(stored) - len(set(stored)),
        "missing": len(expected - set(stored)),
        "unexpected": len(set(stored) - expected),
        "backlog_after": stats["backlog"],
        "clients": {d.result.client: {action: percentiles(v) for action, v in d.result.latencies.items() if v}
                    for d in drivers},
    }
    all_captures = [x for d in drivers for x in d.result.latencies["capture"]]
    all_searches = [x for d in drivers for x in d.result.latencies["search"]]
    report["capture"] = percentiles(all_captures)
    report["search"] = percentiles(all_searches)
    return report


def stop_owner(home: Path) -> None:
    with contextlib.suppress(SatchelError), VaultClient(home, autostart=False, timeout=5) as client:
        client.call("shutdown")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captures", type=int, default=10_000, help="total captures (browsers and CLI)")
    parser.add_argument("--searches", type=int, default=1_000, help="total searches")
    parser.add_argument("--embedder", choices=["fake", "onnx"], default="fake")
    parser.add_argument("--home", type=Path, help="vault directory (default: a fresh temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="satchel-load-"))
    # 40% per browser, 20% by the CLI; searches likewise.
    bc, cc = int(args.captures * 0.4), args.captures - 2 * int(args.captures * 0.4)
    bs, cs = int(args.searches * 0.4), args.searches - 2 * int(args.searches * 0.4)
    try:
        report = run_load(home, browser_captures=bc, browser_searches=bs, cli_captures=cc, cli_searches=cs,
                          embedder=args.embedder)
    finally:
        stop_owner(home)
    report["home"] = str(home)
    report["embedder"] = args.embedder
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['captures']} captures + {report['searches']} searches in {report['wall_seconds']} s "
              f"({args.embedder} embedder) — vault {home}")
        for name, actions in report["clients"].items():
            for action, p in actions.items():
                print(f"  {name:<9} {action:<8} n={p['n']:<6} p50 {p['p50_ms']:>7} ms  p95 {p['p95_ms']:>7} ms  "
                      f"p99 {p['p99_ms']:>7} ms  max {p['max_ms']:>8} ms")
        for action in ("capture", "search"):
            p = report[action]
            print(f"  {'all':<9} {action:<8} n={p['n']:<6} p50 {p['p50_ms']:>7} ms  p95 {p['p95_ms']:>7} ms  "
                  f"p99 {p['p99_ms']:>7} ms  max {p['max_ms']:>8} ms")
        print(f"errors: {len(report['errors'])}  stored: {report['stored_messages']}  duplicates: "
              f"{report['duplicates']}  missing: {report['missing']}  embedding backlog after: "
              f"{report['backlog_after']}")
        for error in report["errors"][:10]:
            print("  ", error)
    ok = not report["errors"] and not report["duplicates"] and not report["missing"] and not report["unexpected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
