"""Byte-level reading and writing of image files, with offsets for errors.

Readers never trust a length from the file: data is read in bounded chunks,
so a garbage length costs at most what the file really holds, and a short
read becomes a TruncatedImage naming the offset of the entry being read.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from .errors import TruncatedImage

_U32 = struct.Struct("<I")
_CHUNK = 1 << 20


class ByteReader:
    """A binary file plus the position of what has been consumed."""

    def __init__(self, f: BinaryIO, path: str) -> None:
        self.f = f
        self.path = path
        self.offset = 0
        self._seekable = _is_seekable(f)

    def read_upto(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at end of file."""
        parts: list[bytes] = []
        left = size
        while left > 0:
            chunk = self.f.read(min(left, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        data = b"".join(parts)
        self.offset += len(data)
        return data

    def read_exact(self, size: int, entry_offset: int, what: str) -> bytes:
        data = self.read_upto(size)
        if len(data) != size:
            raise TruncatedImage(self.path, entry_offset,
                                 f"{what}: file ends after {len(data)} of {size} bytes")
        return data

    def read_u32(self, entry_offset: int, what: str) -> int | None:
        """A little-endian u32, or None at a clean end of file."""
        data = self.read_upto(4)
        if not data:
            return None
        if len(data) != 4:
            raise TruncatedImage(self.path, entry_offset,
                                 f"{what}: file ends after {len(data)} of 4 bytes")
        return _U32.unpack(data)[0]

    def read_rest(self) -> bytes:
        parts = []
        while chunk := self.f.read(_CHUNK):
            parts.append(chunk)
        data = b"".join(parts)
        self.offset += len(data)
        return data

    def skip(self, size: int, entry_offset: int, what: str) -> None:
        """Pass over `size` bytes without keeping them (seek when possible)."""
        if self._seekable:
            end = os.fstat(self.f.fileno()).st_size if _has_fileno(self.f) else None
            if end is not None and self.offset + size > end:
                raise TruncatedImage(self.path, entry_offset,
                                     f"{what}: file ends after {end - self.offset} of {size} bytes")
            if end is not None:
                self.f.seek(size, os.SEEK_CUR)
                self.offset += size
                return
        left = size
        while left > 0:
            chunk = self.f.read(min(left, _CHUNK))
            if not chunk:
                raise TruncatedImage(self.path, entry_offset,
                                     f"{what}: file ends after {size - left} of {size} bytes")
            left -= len(chunk)
            self.offset += len(chunk)

    def skip_rest(self) -> int:
        """Pass over everything left; returns how many bytes that was."""
        start = self.offset
        while chunk := self.f.read(_CHUNK):
            self.offset += len(chunk)
        return self.offset - start


def pack_u32(value: int) -> bytes:
    return _U32.pack(value)


def _has_fileno(f: BinaryIO) -> bool:
    try:
        f.fileno()
    except (OSError, AttributeError, ValueError):
        return False
    return True


def _is_seekable(f: BinaryIO) -> bool:
    try:
        return bool(f.seekable())
    except (OSError, AttributeError, ValueError):
        return False
