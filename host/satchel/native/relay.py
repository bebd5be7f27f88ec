"""`satchel host`: the native-messaging host a browser starts, one per port.

It answers `hello` itself at once, then relays frames between the browser and the vault owner
(`satchel serve`), starting the owner when none runs. Stdlib only: nothing heavy on this path.
stdout carries frames and nothing else; logs go to a file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, BinaryIO

from satchel import __version__
from satchel.daemon.client import connect_or_start, try_connect
from satchel.errors import FrameError, SatchelError, TooLarge
from satchel.native.framing import (
    MAX_OUTGOING,
    EndOfStream,
    decode_payload,
    encode_frame,
    read_frame_bytes,
)
from satchel.native.protocol import MIN_CLIENT_PROTOCOL, PROTOCOL_VERSION, error_reply, ok_reply, request_id_of
from satchel.paths import log_dir, satchel_home

log = logging.getLogger("satchel.host")


class Relay:
    def __init__(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.home = satchel_home()
        self.out_lock = threading.Lock()
        self.up_lock = threading.Lock()
        self.upstream: Any = None  # socket file to the vault owner
        self.pending: set[str | None] = set()

    def send(self, reply: dict[str, Any]) -> None:
        self.send_raw(encode_frame(reply), reply.get("id"))

    def send_raw(self, frame: bytes, request_id: str | None = None) -> None:
        if len(frame) - 4 > MAX_OUTGOING:
            frame = encode_frame(error_reply(request_id, "too_large", "reply over 1 MB; ask for fewer items"))
        with self.out_lock:
            self.stdout.write(frame)
            self.stdout.flush()

    # --------------------------------------------------------------- upstream
    def _connect(self) -> Any:
        with self.up_lock:
            if self.upstream is None:
                sock = connect_or_start(self.home)
                stream = sock.makefile("rwb")
                stream.write(encode_frame({"client": "browser", "pid": os.getpid()}))
                stream.flush()
                self.upstream = stream
                threading.Thread(target=self._pump, args=(stream,), name="pump", daemon=True).start()
            return self.upstream

    def _pump(self, stream: BinaryIO) -> None:
        """Owner → browser. When the owner goes away, every pending request gets an error reply."""
        try:
            while True:
                payload = read_frame_bytes(stream, max_size=64 * 1024 * 1024)
                try:
                    request_id = request_id_of(decode_payload(payload))
                except FrameError:
                    request_id = None
                self.pending.discard(request_id)
                self.send_raw(len(payload).to_bytes(4, sys.byteorder) + payload, request_id)
        except (EndOfStream, OSError, SatchelError):
            pass
        with self.up_lock:
            if self.upstream is stream:
                self.upstream = None
        for request_id in list(self.pending):
            self.pending.discard(request_id)
            self.send(error_reply(request_id, "vault_unavailable", "the vault restarted; please retry"))

    def _warm_up(self) -> None:
        try:
            self._connect()
        except SatchelError as exc:
            log.warning("vault not available: %s", exc)

    # --------------------------------------------------------------- browser → owner
    def hello(self, request_id: str | None) -> None:
        if self.upstream is not None:
            state = "ready"
        else:
            probe = try_connect(self.home)
            state = "ready" if probe is not None else "starting"
            if probe is not None:
                probe.close()
            threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()
        self.send(ok_reply(request_id, {
            "host_version": __version__, "protocol_version": PROTOCOL_VERSION,
            "min_client_protocol": MIN_CLIENT_PROTOCOL, "vault": {"state": state, "home": str(self.home)},
        }))

    def forward(self, payload: bytes, request_id: str | None) -> None:
        try:
            upstream = self._connect()
            self.pending.add(request_id)
            upstream.write(len(payload).to_bytes(4, sys.byteorder) + payload)
            upstream.flush()
        except (SatchelError, OSError) as exc:
            self.pending.discard(request_id)
            with self.up_lock:
                self.upstream = None
            code = exc.code if isinstance(exc, SatchelError) else "vault_unavailable"
            self.send(error_reply(request_id, code, f"the vault is not reachable: {exc}"))

    def run(self) -> int:
        while True:
            try:
                payload = read_frame_bytes(self.stdin)
            except EndOfStream:
                return 0  # the browser closed the port
            except TooLarge as exc:
                self.send(error_reply(None, exc.code, exc.message))
                continue
            try:
                request = decode_payload(payload)
            except FrameError as exc:
                self.send(error_reply(None, exc.code, exc.message))
                continue
            request_id = request_id_of(request)
            if isinstance(request, dict) and request.get("type") == "hello":
                self.hello(request_id)
            else:
                self.forward(payload, request_id)


def main(argv: list[str]) -> int:
    os.umask(0o077)  # logs and anything else written here are this user's only
    home = satchel_home()
    try:
        logging.basicConfig(filename=str(log_dir(home) / "host.log"), level=logging.INFO,
                            format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    except OSError:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    # Browsers pass the caller's origin (and Firefox the manifest path) as arguments.
    log.info("started by %s", " ".join(argv) or "(no arguments)")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must never corrupt the frame stream
    return Relay(stdin, stdout).run()
