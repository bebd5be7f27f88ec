"""Native-messaging framing: exact reads, clean EOF, torn frames, size limits."""

from __future__ import annotations

import io
import struct

import pytest
from satchel.errors import FrameError, TooLarge
from satchel.native.framing import EndOfStream, decode_payload, encode_frame, read_frame_bytes


class Trickle(io.RawIOBase):
    """A stream that hands out one byte per read, as a pipe under load may."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk, self.data = self.data[:1], self.data[1:]
        return chunk


def test_frame_round_trips_unicode():
    frame = encode_frame({"text": "naïve — 東京 🎒"})
    assert decode_payload(read_frame_bytes(io.BytesIO(frame))) == {"text": "naïve — 東京 🎒"}


def test_header_is_native_endian_length():
    frame = encode_frame({"a": 1})
    assert struct.unpack("=I", frame[:4])[0] == len(frame) - 4


def test_partial_reads_are_reassembled():
    frame = encode_frame({"id": "x", "type": "hello"}) * 2
    stream = Trickle(frame)
    assert decode_payload(read_frame_bytes(stream))["id"] == "x"
    assert decode_payload(read_frame_bytes(stream))["type"] == "hello"


def test_clean_close_between_frames_is_end_of_stream():
    with pytest.raises(EndOfStream):
        read_frame_bytes(io.BytesIO(b""))


@pytest.mark.parametrize("data", [b"\x05\x00", struct.pack("=I", 10) + b"abc"])
def test_torn_frame_is_end_of_stream_not_a_crash(data):
    with pytest.raises(EndOfStream):
        read_frame_bytes(io.BytesIO(data))


def test_oversized_frame_is_drained_and_the_next_frame_still_reads():
    big = struct.pack("=I", 2000) + b"x" * 2000
    stream = io.BytesIO(big + encode_frame({"ok": 1}))
    with pytest.raises(TooLarge):
        read_frame_bytes(stream, max_size=1000)
    assert decode_payload(read_frame_bytes(stream, max_size=1000)) == {"ok": 1}


def test_invalid_utf8_is_a_frame_error():
    with pytest.raises(FrameError, match="UTF-8"):
        decode_payload(b'{"a": "\xff"}')


def test_non_json_is_a_frame_error():
    with pytest.raises(FrameError, match="not JSON"):
        decode_payload(b"{nope")
