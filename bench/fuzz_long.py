"""The dedicated fuzz run: 100,000+ generated inputs against the framing, every action, and a real host.

    python bench/fuzz_long.py --examples 100000
    python bench/fuzz_long.py --examples 20000 --seed 7 --json

Uses the strategies of tests/host/test_fuzz.py. Inputs are split: framing (read + decode of random bytes) 50%,
`dispatch.handle` on a real vault (fake embedder) 35%, a real `satchel host` subprocess (with its vault owner)
15%. Crashes are counted, not raised: an uncaught exception, an `internal` error, a reply that is not an
envelope or is over 1 MB, a host that stops answering. Prints counts, crashes (first few), and the peak RSS of
the host and of the owner, sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import psutil
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

os.environ.setdefault("SATCHEL_EMBEDDER", "fake")

from satchel.daemon.client import VaultClient
from satchel.errors import ERROR_CODES, FrameError, SatchelError, TooLarge
from satchel.native.framing import HEADER, MAX_OUTGOING, EndOfStream, decode_payload, encode_frame, read_frame_bytes

ROOT = Path(__file__).resolve().parents[1]


def _strategies() -> Any:
    spec = importlib.util.spec_from_file_location("satchel_test_fuzz", ROOT / "tests" / "host" / "test_fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Tally:
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.crashes: list[str] = []

    def crash(self, where: str, detail: str) -> None:
        self.counts[f"{where}.crash"] += 1
        if len(self.crashes) < 20:
            self.crashes.append(f"{where}: {detail[:400]}")


def envelope_problem(reply: Any) -> str | None:
    if not isinstance(reply, dict) or reply.get("v") != 1 or not isinstance(reply.get("ok"), bool):
        return f"not an envelope: {str(reply)[:200]}"
    if reply["ok"]:
        return None if isinstance(reply.get("data"), dict) else "ok without data"
    error = reply.get("error") or {}
    if error.get("code") not in ERROR_CODES:
        return f"unknown code {error.get('code')!r}"
    if error["code"] == "internal":
        return f"internal: {error.get('message')}"
    return None


def settings_for(n: int, seed: int) -> settings:
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate], derandomize=False)


# ----------------------------------------------------------------- framing
def fuzz_framing(n: int, tally: Tally, fz: Any) -> None:
    @settings_for(n, 0)
    @given(st.one_of(
        st.binary(max_size=4000),
        st.builds(lambda length, body: HEADER.pack(length) + body, st.integers(0, 2**32 - 1), st.binary(max_size=200)),
        fz.JSON.map(lambda obj: encode_frame(obj)),
        fz.requests().map(lambda r: encode_frame(r)[:-1]),  # torn at the end
        st.integers(1, 200_000).map(lambda depth: HEADER.pack(depth) + b"[" * depth),
    ))
    def run(data: bytes) -> None:
        tally.counts["framing.inputs"] += 1
        stream = io.BytesIO(data)
        try:
            for _ in range(100):
                try:
                    payload = read_frame_bytes(stream)
                except TooLarge:
                    tally.counts["framing.too_large"] += 1
                    continue
                try:
                    decode_payload(payload)
                    tally.counts["framing.decoded"] += 1
                except FrameError:
                    tally.counts["framing.bad_frame"] += 1
        except EndOfStream:
            pass
        except Exception:
            tally.crash("framing", traceback.format_exc(limit=3))

    run()


# ----------------------------------------------------------------- dispatch
def fuzz_dispatch(n: int, tally: Tally, fz: Any, home: Path) -> None:
    from satchel.daemon.dispatch import fits, handle
    from satchel.vault.store import Vault

    vault = Vault.open(home, background_embedding=False)
    import satchel.features  # noqa: F401 - registers the feature modules' actions

    per_action = n // (len(fz.PARAM_KEYS) + 1)

    def check(request: Any, client: str) -> None:
        tally.counts["dispatch.inputs"] += 1
        try:
            reply = handle(vault, request, client=client)
            problem = envelope_problem(reply)
            size = len(encode_frame(fits(reply, len(encode_frame(reply)) - 4))) - 4
            if problem is None and size > MAX_OUTGOING:
                problem = f"reply of {size} bytes"
            if problem:
                tally.crash("dispatch", f"{problem} <- {json.dumps(request, ensure_ascii=True)[:300]}")
            else:
                tally.counts["dispatch.ok" if reply["ok"] else "dispatch.error." + reply["error"]["code"]] += 1
        except Exception:
            tally.crash("dispatch", traceback.format_exc(limit=3))

    try:
        def runner(action: str) -> Any:
            clients = ["browser"] if action in fz.FILESYSTEM_ACTIONS else ["browser", "cli"]

            @settings_for(per_action, 0)
            @given(fz.params_for(action), st.sampled_from(clients))
            def run(params: Any, client: str) -> None:
                check({"id": "f", "type": action, "params": params}, client)

            return run

        for action in sorted(fz.PARAM_KEYS):
            runner(action)()
            if action == "capture":
                vault.embed_pending()

        @settings_for(n - per_action * len(fz.PARAM_KEYS), 0)
        @given(fz.requests())
        def envelopes(request: Any) -> None:
            check(request, "browser")

        envelopes()
    finally:
        vault.close()


# ----------------------------------------------------------------- a real host
class Memory(threading.Thread):
    """Peak RSS of the host and of every owner of `home`, sampled every 0.2 s."""

    def __init__(self, host_pid: int, home: Path) -> None:
        super().__init__(daemon=True)
        self.host_pid, self.home = host_pid, str(home)
        self.peak = {"host": 0, "owner": 0}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            with contextlib.suppress(psutil.Error):
                self.peak["host"] = max(self.peak["host"], psutil.Process(self.host_pid).memory_info().rss)
            for proc in psutil.process_iter(["cmdline"]):
                cmd = proc.info["cmdline"] or []
                if "serve" in cmd and "satchel" in cmd:
                    with contextlib.suppress(psutil.Error):
                        if proc.environ().get("SATCHEL_HOME") == self.home:
                            self.peak["owner"] = max(self.peak["owner"], proc.memory_info().rss)


def fuzz_host(n: int, tally: Tally, fz: Any, home: Path) -> dict[str, int]:
    env = dict(os.environ, SATCHEL_HOME=str(home), SATCHEL_IDLE_TIMEOUT="30")
    proc = subprocess.Popen([sys.executable, "-m", "satchel", "host", "chrome-extension://fuzz/"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    memory = Memory(proc.pid, home)
    memory.start()

    def read() -> Any:
        header = proc.stdout.read(4)  # type: ignore[union-attr]
        if len(header) < 4:
            raise RuntimeError(f"host closed stdout (exit {proc.poll()})")
        (length,) = HEADER.unpack(header)
        if length > MAX_OUTGOING:
            raise RuntimeError(f"reply of {length} bytes")
        return json.loads(proc.stdout.read(length))  # type: ignore[union-attr]

    dead = False
    payloads = st.one_of(
        fz.requests().map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        st.binary(max_size=300),
        st.sampled_from([b"[" * 100_000, b"1" * 5000, b"\xff", b"{}", b"null", b'{"id": 5, "type": "hello"}']),
    )

    @settings_for(n, 0)
    @given(payloads)
    def run(payload: bytes) -> None:
        nonlocal dead
        if dead:
            return
        tally.counts["host.inputs"] += 1
        try:
            proc.stdin.write(HEADER.pack(len(payload)) + payload)  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            problem = envelope_problem(read())
            if problem:
                tally.crash("host", f"{problem} <- {payload[:200]!r}")
            else:
                tally.counts["host.answered"] += 1
        except Exception:
            dead = True
            tally.crash("host", traceback.format_exc(limit=2))

    try:
        run()
        if not dead:  # still serving at the end?
            proc.stdin.write(encode_frame({"id": "last", "type": "stats", "params": {}}))
            proc.stdin.flush()
            if read().get("id") != "last":
                tally.crash("host", "no answer to the final stats")
    finally:
        memory.stop.set()
        memory.join()
        with contextlib.suppress(OSError):
            proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        with contextlib.suppress(SatchelError), VaultClient(home, autostart=False, timeout=5) as client:
            client.call("shutdown")
    return memory.peak


def main() -> int:
    logging.disable(logging.CRITICAL)  # handle() logs each internal error with a traceback; they are counted here
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    fz = _strategies()
    tally = Tally()
    work = Path(tempfile.mkdtemp(prefix="satchel-fuzz-"))
    n_framing, n_dispatch = int(args.examples * 0.5), int(args.examples * 0.35)
    n_host = args.examples - n_framing - n_dispatch
    timings = {}
    started = time.perf_counter()
    fuzz_framing(n_framing, tally, fz)
    timings["framing_s"] = round(time.perf_counter() - started, 1)
    t = time.perf_counter()
    fuzz_dispatch(n_dispatch, tally, fz, work / "dispatch")
    timings["dispatch_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    peak = fuzz_host(n_host, tally, fz, work / "host")
    timings["host_s"] = round(time.perf_counter() - t, 1)
    inputs = sum(tally.counts[f"{k}.inputs"] for k in ("framing", "dispatch", "host"))
    crashes = sum(v for k, v in tally.counts.items() if k.endswith(".crash"))
    report = {"inputs": inputs, "crashes": crashes, "counts": dict(sorted(tally.counts.items())),
              "peak_rss_mb": {k: round(v / 2**20, 1) for k, v in peak.items()}, **timings,
              "first_crashes": tally.crashes}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{inputs} inputs ({tally.counts['framing.inputs']} framing, {tally.counts['dispatch.inputs']} "
              f"dispatch, {tally.counts['host.inputs']} host) in {sum(timings.values()):.0f} s: {crashes} crashes")
        print(f"time: framing {timings['framing_s']} s, dispatch {timings['dispatch_s']} s, host {timings['host_s']} s")
        print(f"peak RSS: host {report['peak_rss_mb']['host']} MB, owner {report['peak_rss_mb']['owner']} MB")
        for key, value in report["counts"].items():
            print(f"  {key:<40} {value}")
        for crash in tally.crashes[:10]:
            print("CRASH", crash)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
