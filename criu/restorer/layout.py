"""Declarative little-endian C struct layouts, for the restorer's arguments.

The restorer blob reads a block of memory laid out by criu; both sides must
agree byte for byte.  A Layout is declared once as a list of (name, type)
fields mirroring the C struct in restorer.h; nested layouts and fixed
arrays are allowed.  Only natural alignment rules of x86_64 / aarch64 LP64
are implemented (every field aligned to its own size), which is all the
restorer header uses.
"""

from __future__ import annotations

import struct
from typing import Any, Sequence, Union

_SCALARS = {"u8": "B", "u16": "H", "u32": "I", "i32": "i", "u64": "Q",
            "i64": "q"}

FieldType = Union[str, "Layout", tuple]   # "u64" | Layout | (type, count)


class Layout:
    """A C struct: ordered fields with their offsets and the total size."""

    def __init__(self, name: str, fields: Sequence[tuple[str, FieldType]]):
        self.name = name
        self.fields: list[tuple[str, FieldType, int]] = []
        offset = 0
        align_max = 1
        for fname, ftype in fields:
            size, align = _size_align(ftype)
            offset = _round_up(offset, align)
            self.fields.append((fname, ftype, offset))
            offset += size
            align_max = max(align_max, align)
        self.align = align_max
        self.size = _round_up(offset, align_max)
        self._by_name = {f[0]: f for f in self.fields}

    def offset_of(self, name: str) -> int:
        return self._by_name[name][2]

    def pack(self, values: dict[str, Any] | None = None) -> bytes:
        """Bytes of this struct; missing fields are zero."""
        buf = bytearray(self.size)
        self.pack_into(buf, 0, values or {})
        return bytes(buf)

    def pack_into(self, buf: bytearray, base: int,
                  values: dict[str, Any]) -> None:
        unknown = set(values) - set(self._by_name)
        if unknown:
            raise KeyError(f"{self.name}: no field {sorted(unknown)}")
        for fname, ftype, off in self.fields:
            if fname in values:
                _put(buf, base + off, ftype, values[fname])

    def unpack(self, data: bytes, base: int = 0) -> dict[str, Any]:
        return {fname: _get(data, base + off, ftype)
                for fname, ftype, off in self.fields}


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def _size_align(ftype: FieldType) -> tuple[int, int]:
    if isinstance(ftype, str):
        size = struct.calcsize(_SCALARS[ftype])
        return size, size
    if isinstance(ftype, Layout):
        return ftype.size, ftype.align
    inner, count = ftype
    size, align = _size_align(inner)
    return size * count, align


def _put(buf: bytearray, off: int, ftype: FieldType, value: Any) -> None:
    if isinstance(ftype, str):
        struct.pack_into("<" + _SCALARS[ftype], buf, off, value)
    elif isinstance(ftype, Layout):
        ftype.pack_into(buf, off, value)
    else:
        inner, count = ftype
        if len(value) > count:
            raise ValueError(f"{len(value)} items for an array of {count}")
        step = _size_align(inner)[0]
        for i, item in enumerate(value):
            _put(buf, off + i * step, inner, item)


def _get(data: bytes, off: int, ftype: FieldType) -> Any:
    if isinstance(ftype, str):
        return struct.unpack_from("<" + _SCALARS[ftype], data, off)[0]
    if isinstance(ftype, Layout):
        return ftype.unpack(data, off)
    inner, count = ftype
    step = _size_align(inner)[0]
    return [_get(data, off + i * step, inner) for i in range(count)]
