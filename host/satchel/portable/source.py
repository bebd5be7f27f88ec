"""Opening an import file: a plain JSON/JSONL file or one member of a zip, read as a counted byte stream.

Nothing here reads a whole file into memory: JSON arrays are walked item by item with ijson
(its C backend), so a 1 GB export costs about one conversation of RAM.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson

from satchel.errors import ImportFailed


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts bytes read, for progress."""

    def __init__(self, raw: IO[bytes], label: str = "") -> None:
        self._raw = raw
        self._label = label
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a zip member that does not inflate
            raise ImportFailed(f"{self._label}: the zip file is damaged ({exc})") from exc
        self.bytes_read += len(data)
        return data


@dataclass(frozen=True, slots=True)
class Source:
    """Where to read: `path` itself, or `member` inside the zip at `path`."""

    path: Path
    member: str | None = None
    # The reader currently open, so progress can report bytes read without threading it through parsers.
    meter: dict[str, CountingReader] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def bytes_read(self) -> int:
        reader = self.meter.get("reader")
        return reader.bytes_read if reader is not None else 0

    @property
    def size(self) -> int:
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as zf:
            return zf.getinfo(self.member).file_size

    @contextmanager
    def open(self) -> Iterator[CountingReader]:
        if self.member is None:
            with open(self.path, "rb") as fh:
                reader = CountingReader(fh, self.label)
                self.meter["reader"] = reader
                yield reader
            return
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fh:
                reader = CountingReader(fh, self.label)
                self.meter["reader"] = reader
                yield reader
        except zipfile.BadZipFile as exc:
            raise ImportFailed(f"{self.label}: the zip file is damaged ({exc})") from exc


def zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return [info.filename for info in zf.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as exc:
        raise ImportFailed(f"{path}: not a readable zip file ({exc})") from exc


def iter_array(reader: IO[bytes], label: str, prefix: str = "item") -> Iterator[Any]:
    """Yield each element of a JSON array (at `prefix`) one at a time; a syntax error becomes ImportFailed."""
    try:
        yield from ijson.items(reader, prefix, use_float=True)
    except ijson.JSONError as exc:
        raise ImportFailed(f"{label}: the JSON is damaged or truncated ({json_error(exc)})") from exc


def first_array_item(source: Source) -> tuple[str, Any]:
    """Sniff a file: ("array", first element) or ("object", top-level keys seen) or ("empty", None).

    Reads only as far as the first element, so detection is cheap on a huge file.
    """
    with source.open() as reader:
        head = reader.read(1 << 16)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped:
            return "empty", None
        if stripped[:1] == b"[":
            more = _chain(head, reader)
            for item in iter_array(more, source.label):
                return "array", item
            return "array", None
        if stripped[:1] == b"{":
            return "object", head
        return "other", head


def _chain(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    class _Chained(io.RawIOBase):
        def __init__(self) -> None:
            self._head = memoryview(head)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self._head:
                n = min(len(buffer), len(self._head))
                buffer[:n] = self._head[:n]
                self._head = self._head[n:]
                return n
            data = rest.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    return io.BufferedReader(_Chained())


ProgressFn = Callable[[dict[str, Any]], None]


def json_error(exc: BaseException) -> str:
    """The first line of a parser's message (yajl appends a multi-line picture of the position)."""
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__
