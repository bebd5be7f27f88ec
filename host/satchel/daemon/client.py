"""Client of the vault owner over its local socket; starts the owner when none is running.

Stdlib only (the relay uses it before anything heavy is imported).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from satchel.errors import SatchelError, VaultUnavailable
from satchel.native.framing import EndOfStream, decode_payload, encode_frame, read_frame_bytes
from satchel.paths import log_dir, private_opener, satchel_home, socket_path

START_TIMEOUT = float(os.environ.get("SATCHEL_START_TIMEOUT", "60"))
RETRY_DELAYS = (0.05, 0.2, 0.5, None)


def try_connect(home: Path) -> socket.socket | None:
    path = socket_path(home)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def spawn_owner(home: Path) -> None:
    """Start `satchel serve` detached: it outlives the browser port or CLI call that started it."""
    env = dict(os.environ, SATCHEL_HOME=str(home))
    with open(log_dir(home) / "serve.log", "ab", opener=private_opener) as log:
        subprocess.Popen(
            [sys.executable, "-m", "satchel", "serve"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True, env=env, close_fds=True,
        )


def connect_or_start(home: Path, timeout: float = START_TIMEOUT, autostart: bool = True) -> socket.socket:
    sock = try_connect(home)
    if sock is not None or not autostart:
        if sock is None:
            raise VaultUnavailable("the vault is not running")
        return sock
    spawn_owner(home)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        sock = try_connect(home)
        if sock is not None:
            return sock
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
    raise VaultUnavailable(f"the vault did not start within {timeout:.0f} s; see {log_dir(home) / 'serve.log'}")


class VaultClient:
    """One connection to the vault owner; `call` sends a request and returns its data or raises."""

    def __init__(self, home: Path | None = None, *, client: str = "cli", autostart: bool = True,
                 timeout: float = START_TIMEOUT) -> None:
        self.home = home or satchel_home()
        self.client = client
        self.autostart = autostart
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._sock is None:
            self._sock = connect_or_start(self.home, self.timeout, self.autostart)
            self._file = self._sock.makefile("rwb")
            self._file.write(encode_frame({"client": self.client, "pid": os.getpid()}))
            self._file.flush()

    def request(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole reply envelope."""
        with self._lock:
            # An owner that just died may still accept a connection and drop it: reconnect (starting a new
            # owner) a few times. Resending is safe: captures are idempotent.
            for delay in RETRY_DELAYS:
                try:
                    self._ensure()
                    request_id = f"{self.client}-{os.getpid()}-{next(self._ids)}"
                    self._file.write(encode_frame({"id": request_id, "type": action, "params": params or {}}))
                    self._file.flush()
                    return decode_payload(read_frame_bytes(self._file, max_size=64 * 1024 * 1024))
                except (OSError, EndOfStream):
                    self.close()
                    if delay is None:
                        raise VaultUnavailable("the vault closed the connection") from None
                    time.sleep(delay)
            raise AssertionError("unreachable")

    def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.request(action, params)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise SatchelError(error.get("message", "unknown error"), code=error.get("code", "internal"))
        return reply["data"]

    def close(self) -> None:
        for closer in (self._file, self._sock):
            if closer is not None:
                try:
                    closer.close()
                except OSError:
                    pass
        self._file = self._sock = None

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
