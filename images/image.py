"""Reading and writing CRIU image files, entry by entry.

An image file is a header of one or two u32 magics (see magic.py) and then
entries: a little-endian u32 length, that many bytes of protobuf message, and
for some image types raw payload bytes sized by the message (handlers.py).
Readers and writers here stream: one entry is in memory at a time, and
payload-only images (pages-*.img) are never read by this library at all.
"""

from __future__ import annotations

import contextlib
import io
from struct import error as struct_error
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from google.protobuf.message import Message

from . import magic, pb2dict
from .errors import BadJson, ImageError, NoHandler, TruncatedImage, UnknownMagic, WrongMagic
from .handlers import HANDLERS, ImageType, MsgQueue, SemValues, TcpQueues, read_message, write_message
from .stream import ByteReader, pack_u32


@dataclass
class Entry:
    """One entry: its message, its payload (None if it has none), its offset."""

    msg: Message
    extra: Any = None
    offset: int = 0


def image_type(name: str, path: str = "<image>") -> ImageType:
    """The handler of image type `name` (as crit names it: "PSTREE"...)."""
    if name not in magic.BY_NAME:
        raise UnknownMagic(path, None, f"unknown image type {name!r}")
    handler = HANDLERS.get(name)
    if handler is None:
        raise NoHandler(path, None, f"{name} images hold no protobuf entries")
    return handler


class ImageReader:
    """Iterate the entries of one image file without loading it whole.

    `expect` (an image type name) turns a different magic into WrongMagic.
    Iterating yields Entry objects; dicts() yields crit's dict form.
    """

    def __init__(self, f: BinaryIO, path: str = "<image>", expect: str | None = None) -> None:
        self._r = ByteReader(f, path)
        self.path = path
        self.magic = self._read_header()
        if expect is not None and expect != self.magic:
            raise WrongMagic(path, 0, f"is a {self.magic} image, expected {expect}")
        self.type = image_type(self.magic, path)

    def _read_header(self) -> str:
        first = self._r.read_u32(0, "magic")
        if first is None:
            raise TruncatedImage(self.path, 0, "empty file, no magic")
        value = first
        at = 0
        if first in (magic.IMG_COMMON, magic.IMG_SERVICE):
            at = 4
            second = self._r.read_u32(4, "image magic")
            if second is None:
                raise TruncatedImage(self.path, 4, "file ends after the common magic")
            value = second
        name = magic.BY_VALUE.get(value)
        if name is None:
            raise UnknownMagic(self.path, at,
                               f"unknown magic 0x{value:08x} (not a CRIU image, or a raw one such as pages-*.img)")
        return name

    def __iter__(self) -> Iterator[Entry]:
        return self.entries()

    def entries(self) -> Iterator[Entry]:
        for entry, _ in self._walk(skip_payload=False):
            yield entry

    def _walk(self, skip_payload: bool) -> Iterator[tuple[Entry, int | None]]:
        """Entries with payload read (skip_payload=False) or passed over.

        Yields (entry, skipped payload size or None when there is none).
        """
        index = 0
        while True:
            at = self._r.offset
            msg = read_message(self._r, self.type.ref_for(index), at)
            if msg is None:
                return
            payload = self.type.payload_for(index)
            entry = Entry(msg, None, at)
            skipped = None
            if payload is not None and payload.present(msg):
                if skip_payload:
                    skipped = payload.skip(self._r, msg, at)
                else:
                    entry.extra = payload.read(self._r, msg, at)
            yield entry, skipped
            index += 1

    def dicts(self, pretty: bool = False, nopl: bool = False) -> Iterator[dict[str, Any]]:
        """crit's dict per entry; nopl replaces payloads by their size."""
        index = 0
        for entry, skipped in self._walk(skip_payload=nopl):
            out = pb2dict.message_to_dict(entry.msg, pretty)
            payload = self.type.payload_for(index)
            if nopl:
                # crit shows skipped payloads as a size, except ghost file
                # contents, which it leaves out.
                if skipped is not None and self.magic != "GHOST_FILE":
                    out["extra"] = f"... <{human_size(skipped)}>"
            elif payload is not None and entry.extra is not None:
                out["extra"] = payload.to_json(entry.extra)
            index += 1
            yield out

    def count(self) -> int:
        """Number of entries (pagemap: not counting its head), payloads skipped."""
        total = sum(1 for _ in self._walk(skip_payload=True))
        if self.magic == "PAGEMAP" and total:
            total -= 1
        return total


def human_size(num: float) -> str:
    """Size as crit --nopl prints it: 12B, 1.5KB, 3MB..."""
    for unit in ("", "K", "M", "G", "T", "P", "E", "Z"):
        if num < 1024.0:
            return f"{int(num)}{unit}B" if int(num) == num else f"{num:.1f}{unit}B"
        num /= 1024.0
    return f"{num:.1f}YB"


class ImageWriter:
    """Write one image file entry by entry: header first, then write()s."""

    def __init__(self, f: BinaryIO, name: str, path: str = "<image>") -> None:
        self.f = f
        self.path = path
        self.magic = name
        self.type = image_type(name, path)
        self._index = 0
        self._offset = 0
        self._first: Message | None = None
        for value in magic.header_magics(name):
            self._put(pack_u32(value))

    def _put(self, data: bytes) -> None:
        self.f.write(data)
        self._offset += len(data)

    def _fail(self, reason: str) -> BadJson:
        return BadJson(self.path, self._offset, f"entry {self._index}: {reason}")

    def write(self, msg: Message, extra: Any = None) -> None:
        """Append one entry; `extra` is its payload in Python form (bytes...)."""
        ref = self.type.ref_for(self._index)
        if msg.DESCRIPTOR.name != ref.name:
            raise self._fail(f"{self.magic} needs a {ref.name} here, got {msg.DESCRIPTOR.name}")
        if self._index > 0 and self.type.more_if and not getattr(self._first, self.type.more_if):
            raise self._fail(f"{self.magic} has no more entries when its first has no {self.type.more_if}")
        if not msg.IsInitialized():
            raise self._fail(f"{ref.name} misses required fields: {', '.join(msg.FindInitializationErrors())}")
        payload = self.type.payload_for(self._index)
        buf = io.BytesIO()
        write_message(buf, msg)
        if payload is not None and payload.present(msg):
            if extra is None:
                extra = payload.from_json(_empty_json(payload), msg)
            try:
                self._check_size(payload, msg, extra)
                payload.write(buf, msg, extra)
            except (pb2dict.ConversionError, TypeError, KeyError, struct_error) as exc:
                raise self._fail(f"payload: {exc}") from None
        elif extra not in (None, b"", "", [], {}):
            raise self._fail(f"{ref.name} carries no payload, but one was given")
        if self._index == 0:
            self._first = msg
        self._put(buf.getvalue())
        self._index += 1

    @staticmethod
    def _check_size(payload: Any, msg: Message, extra: Any) -> None:
        size_of = getattr(payload, "size", None)
        if size_of is not None and isinstance(extra, (bytes, bytearray)) and len(extra) != size_of(msg):
            raise pb2dict.ConversionError(f"{len(extra)} payload bytes, the entry says {size_of(msg)}")

    def write_dict(self, data: Mapping[str, Any]) -> None:
        """Append one entry given in crit's dict form (with optional "extra")."""
        if not isinstance(data, Mapping):
            raise self._fail(f"expected an object, got {type(data).__name__}")
        fields = {k: v for k, v in data.items() if k != "extra"}
        ref = self.type.ref_for(self._index)
        msg = ref.cls(self.path, self._offset)()
        try:
            pb2dict.dict_to_message(fields, msg)
        except pb2dict.ConversionError as exc:
            raise self._fail(str(exc)) from None
        extra = None
        payload = self.type.payload_for(self._index)
        if "extra" in data and payload is not None and payload.present(msg):
            try:
                extra = payload.from_json(data["extra"], msg)
            except pb2dict.ConversionError as exc:
                raise self._fail(str(exc)) from None
        self.write(msg, extra)


def _empty_json(payload: Any) -> Any:
    if isinstance(payload, TcpQueues):
        return {"inq": "", "outq": ""}
    if isinstance(payload, (MsgQueue, SemValues)):
        return []
    return ""


@contextlib.contextmanager
def open_image(path: str, expect: str | None = None) -> Iterator[ImageReader]:
    """`with open_image("pstree.img") as img: for e in img: ...`"""
    with open(path, "rb") as f:
        yield ImageReader(f, path, expect)


def read_entries(path: str, expect: str | None = None) -> Iterator[Entry]:
    """Stream the entries of the image at `path` (the file closes at the end)."""
    with open_image(path, expect) as img:
        yield from img


def write_image(path: str, name: str, entries: Iterable[Message | Entry | tuple[Message, Any]]) -> None:
    """Write an image of type `name` at `path` from messages or (msg, extra)."""
    with open(path, "wb") as f:
        writer = ImageWriter(f, name, path)
        for item in entries:
            if isinstance(item, Entry):
                writer.write(item.msg, item.extra)
            elif isinstance(item, tuple):
                writer.write(*item)
            else:
                writer.write(item)


def load(f: BinaryIO, pretty: bool = False, nopl: bool = False, path: str = "<image>",
         expect: str | None = None) -> dict[str, Any]:
    """Whole image in crit's form: {"magic": "PSTREE", "entries": [...]}."""
    reader = ImageReader(f, path, expect)
    return {"magic": reader.magic, "entries": list(reader.dicts(pretty, nopl))}


def loads(data: bytes, pretty: bool = False, path: str = "<bytes>") -> dict[str, Any]:
    return load(io.BytesIO(data), pretty, path=path)


def dump(img: Mapping[str, Any], f: BinaryIO, path: str = "<image>") -> None:
    """Write an image given in crit's form (see load)."""
    if not isinstance(img, Mapping) or not isinstance(img.get("magic"), str):
        raise BadJson(path, None, 'expected {"magic": "...", "entries": [...]}')
    entries = img.get("entries", [])
    if not isinstance(entries, list):
        raise BadJson(path, None, '"entries" must be a list')
    writer = ImageWriter(f, img["magic"], path)
    for entry in entries:
        writer.write_dict(entry)


def dumps(img: Mapping[str, Any], path: str = "<bytes>") -> bytes:
    buf = io.BytesIO()
    dump(img, buf, path)
    return buf.getvalue()


def info(f: BinaryIO, path: str = "<image>") -> dict[str, Any]:
    """{"magic": ..., "count": number of entries}, as crit info prints it."""
    reader = ImageReader(f, path)
    return {"magic": reader.magic, "count": reader.count()}


__all__ = [
    "Entry", "ImageReader", "ImageWriter", "ImageError", "open_image", "read_entries",
    "write_image", "load", "loads", "dump", "dumps", "info", "image_type", "human_size",
]
