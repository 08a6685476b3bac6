"""Read crit's JSON image form {"magic": ..., "entries": [...]} entry by entry.

`crit encode` should not need the whole JSON document in memory to write an
image: this scanner yields the magic and then one entry at a time, decoding
each value with the standard json module. A document whose "entries" comes
before "magic" is read whole (the header must be written first).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"
_MIN_READ = 1 << 16


class JsonFormError(ValueError):
    """Malformed JSON or not crit's image form; `offset` is a character offset."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class _Scanner:
    """A growing text buffer over a stream, with an absolute position."""

    def __init__(self, f: TextIO) -> None:
        self.f = f
        self.buf = ""
        self.pos = 0          # index into buf
        self.base = 0         # absolute offset of buf[0]
        self.eof = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self) -> bool:
        if self.eof:
            return False
        # Drop what is consumed; read at least as much as is buffered so
        # re-decoding a big value costs linear time overall.
        self.base += self.pos
        self.buf = self.buf[self.pos:]
        self.pos = 0
        chunk = self.f.read(max(_MIN_READ, len(self.buf)))
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, char: str) -> None:
        got = self.peek()
        if got != char:
            raise JsonFormError(self.offset, f"expected {char!r}, found {got or 'end of input'!r}")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                at = self.base + exc.pos
                if self._fill():
                    continue
                raise JsonFormError(at, exc.msg) from None
            if end == len(self.buf) and not self.eof and self._fill():
                # A number (or literal) may go on in the next chunk.
                continue
            self.pos = end
            return value


def iter_image_json(f: TextIO) -> tuple[str, Iterator[tuple[int, Any]]]:
    """The image's magic name, and an iterator of (offset, entry dict)."""
    sc = _Scanner(f)
    sc.expect("{")
    seen: dict[str, Any] = {}
    while True:
        key_at = sc.offset
        key = sc.value()
        if not isinstance(key, str):
            raise JsonFormError(key_at, "expected a string key")
        sc.expect(":")
        if key == "entries" and isinstance(seen.get("magic"), str):
            return seen["magic"], _entries(sc)
        seen[key] = sc.value()
        if sc.peek() == ",":
            sc.pos += 1
            continue
        sc.expect("}")
        break
    if not isinstance(seen.get("magic"), str):
        raise JsonFormError(0, 'expected {"magic": "...", "entries": [...]}')
    entries = seen.get("entries", [])
    if not isinstance(entries, list):
        raise JsonFormError(0, '"entries" must be a list')
    return seen["magic"], iter([(0, e) for e in entries])


def _entries(sc: _Scanner) -> Iterator[tuple[int, Any]]:
    sc.expect("[")
    if sc.peek() == "]":
        sc.pos += 1
    else:
        while True:
            sc.peek()
            at = sc.offset
            yield at, sc.value()
            if sc.peek() == ",":
                sc.pos += 1
                continue
            sc.expect("]")
            break
    # The rest of the object may hold other keys; they must be well formed.
    while sc.peek() == ",":
        sc.pos += 1
        sc.value()
        sc.expect(":")
        sc.value()
    sc.expect("}")
    if sc.peek() != "":
        raise JsonFormError(sc.offset, "extra data after the image object")
