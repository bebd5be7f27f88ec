"""Native-messaging framing: 4-byte native-endian length, then that many bytes of UTF-8 JSON.

Owned here rather than taken from `nativemessaging`/`nativemessaging-ng`: those call
sys.exit on EOF, mishandle a partial header and do not guard the 1 MB browser limit,
and the same framing is reused on the vault's local socket.
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any, BinaryIO

from satchel.errors import FrameError, TooLarge

HEADER = struct.Struct("=I")  # native byte order, as browsers write it
# Browsers send at most 64 MiB to a host; we accept less and drain the rest.
MAX_INCOMING = 8 * 1024 * 1024
# Browsers refuse host→browser messages over 1 MB.
MAX_OUTGOING = 1024 * 1024


class EndOfStream(Exception):
    """The peer closed the stream cleanly between frames."""


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _drain(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 16))
        if not chunk:
            return
        n -= len(chunk)


def read_frame_bytes(stream: BinaryIO, max_size: int = MAX_INCOMING) -> bytes:
    """Read one frame's payload. EndOfStream on a clean close; FrameError on a torn one.

    An oversized frame is drained (so the stream stays in sync) and reported as TooLarge.
    """
    header = _read_exactly(stream, HEADER.size)
    if not header:
        raise EndOfStream
    if len(header) < HEADER.size:
        raise EndOfStream  # a torn header can only mean the peer went away
    (length,) = HEADER.unpack(header)
    if length > max_size:
        _drain(stream, length)
        raise TooLarge(f"message of {length} bytes exceeds the {max_size}-byte limit")
    payload = _read_exactly(stream, length)
    if len(payload) < length:
        raise EndOfStream
    return payload


def decode_payload(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"message is not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrameError(f"message is not JSON: {exc.msg} at {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, nesting deeper than the stack
        raise FrameError(f"message is not usable JSON: {str(exc)[:100]}") from None
    return obj


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    """JavaScript strings may hold half an emoji, which JSON carries (as \\ud83d) but UTF-8 and DuckDB cannot:
    each becomes U+FFFD. A valid pair was already decoded to one character and is left alone."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    return value


def encode_frame(obj: Any) -> bytes:
    # A lone surrogate (legal in a JSON string, not in UTF-8) goes out as its \uXXXX escape.
    payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")
    return HEADER.pack(len(payload)) + payload


def write_frame(stream: BinaryIO, obj: Any) -> None:
    """The only function that writes frames; callers keep replies under MAX_OUTGOING."""
    stream.write(encode_frame(obj))
    stream.flush()
