"""`satchel serve`: the one process that owns the vault file, serving every client over a local socket."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from satchel.errors import FrameError, SatchelError, TooLarge
from satchel.native.framing import EndOfStream, decode_payload, encode_frame, read_frame_bytes
from satchel.native.protocol import error_reply, ok_reply, request_id_of
from satchel.paths import log_dir, socket_path

log = logging.getLogger("satchel.serve")
IDLE_TIMEOUT = float(os.environ.get("SATCHEL_IDLE_TIMEOUT", "900"))


class Owner:
    def __init__(self, home: Path, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.home = home
        self.idle_timeout = idle_timeout
        self.vault: Any = None
        self.open_error: SatchelError | None = None
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.clients = 0
        self.last_seen = time.monotonic()
        self.count_lock = threading.Lock()
        self.listener: socket.socket | None = None

    # --------------------------------------------------------------- lifecycle
    def run(self) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        lock_file = open(self.home / "vault.lock", "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another owner holds %s; exiting", self.home)
            return 0
        path = socket_path(self.home)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: we hold the lock, so no live owner is behind it
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        finally:
            os.umask(old_umask)
        listener.listen(64)
        self.listener = listener
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        threading.Thread(target=self._accept_loop, name="accept", daemon=True).start()
        log.info("serving %s on %s (pid %d)", self.home, path, os.getpid())
        self._open_vault()
        while not self.stopping.wait(1.0):
            with self.count_lock:
                idle = self.clients == 0 and time.monotonic() - self.last_seen > self.idle_timeout
            if idle:
                log.info("idle for %.0f s; exiting", self.idle_timeout)
                break
        self._shutdown(path, listener)
        lock_file.close()
        return 0

    def _open_vault(self) -> None:
        from satchel.vault.store import Vault

        try:
            self.vault = Vault.open(self.home)
            import satchel.features  # noqa: F401 - registers the feature modules' actions
        except SatchelError as exc:
            log.error("cannot open the vault: %s", exc)
            self.open_error = exc
        except Exception as exc:
            log.exception("cannot open the vault")
            self.open_error = SatchelError(f"cannot open the vault: {exc}", code="vault_unavailable")
        self.ready.set()

    def stop(self) -> None:
        self.stopping.set()

    def _shutdown(self, path: Path, listener: socket.socket) -> None:
        with contextlib.suppress(OSError):
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if self.vault is not None:
            self.vault.close()
        log.info("stopped")

    # --------------------------------------------------------------- clients
    def _accept_loop(self) -> None:
        assert self.listener is not None
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_client, args=(conn,), name="client", daemon=True).start()

    def _serve_client(self, conn: socket.socket) -> None:
        with self.count_lock:
            self.clients += 1
        stream = conn.makefile("rwb")
        try:
            hello = decode_payload(read_frame_bytes(stream, max_size=4096))
            client = hello.get("client", "browser") if isinstance(hello, dict) else "browser"
            if client not in ("browser", "cli", "mcp"):
                client = "browser"
            while not self.stopping.is_set():
                try:
                    payload = read_frame_bytes(stream)
                except TooLarge as exc:
                    self._send(stream, error_reply(None, exc.code, exc.message))
                    continue
                try:
                    request = decode_payload(payload)
                except FrameError as exc:
                    self._send(stream, error_reply(None, exc.code, exc.message))
                    continue
                self._send(stream, self._reply(request, client))
        except (EndOfStream, FrameError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stream.close()
                conn.close()
            with self.count_lock:
                self.clients -= 1
                self.last_seen = time.monotonic()

    def _reply(self, request: object, client: str) -> dict[str, Any]:
        from satchel.daemon.dispatch import handle

        if isinstance(request, dict) and request.get("type") == "shutdown":
            if client == "browser":
                return error_reply(request_id_of(request), "forbidden", "shutdown is not available to the browser")
            self.stop()
            return ok_reply(request_id_of(request), {"stopping": True})
        self.ready.wait()
        if self.open_error is not None:
            return error_reply(request_id_of(request), self.open_error.code, self.open_error.message)
        return handle(self.vault, request, client=client)

    @staticmethod
    def _send(stream: BinaryIO, reply: dict[str, Any]) -> None:
        from satchel.daemon.dispatch import fits

        frame = encode_frame(reply)
        checked = fits(reply, len(frame) - 4)
        stream.write(frame if checked is reply else encode_frame(checked))
        stream.flush()


def serve(home: Path) -> int:
    os.umask(0o077)  # the vault, its WAL, backups and logs are readable by this user only
    # One BLAS thread: a query's matrix product is small, and thread hand-offs on a busy 2-core machine cost
    # more than they save (search p50 61 → 15 ms at 10k, measured). Set before numpy is first imported.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    logging.basicConfig(
        filename=str(log_dir(home) / "serve.log"), level=logging.INFO,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    return Owner(home).run()
