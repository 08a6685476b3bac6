"""compel blob files: a position-independent image, its bss size, the
places to relocate and the named entry points.

File layout (little endian):
    magic     8 bytes  b"CMPLBLB1"
    arch      8 bytes  NUL-padded, e.g. b"x86"
    image_size u64     bytes of code+data that follow the tables
    bss_size   u64     zero bytes the loader adds after the image
    nr_relocs  u32     entries of (offset u64): the u64 at image+offset
                       holds an image offset; the loader adds the base
    nr_symbols u32     entries of (offset u64, name_len u16, name)
    image     image_size bytes
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import struct

import _ctypes

from compel.errors import BlobError

MAGIC = b"CMPLBLB1"
_HEAD = struct.Struct("<8s8sQQII")


@dataclasses.dataclass
class Blob:
    """A loaded blob: what to copy where, and where things are."""

    arch: str
    image: bytes
    bss_size: int
    relocs: list[int]
    symbols: dict[str, int]
    path: str = ""

    @property
    def size(self) -> int:
        """Bytes the blob occupies when mapped (image + bss)."""
        return len(self.image) + self.bss_size

    def symbol(self, name: str) -> int:
        """Offset of entry point/data `name` from the blob's base."""
        try:
            return self.symbols[name]
        except KeyError:
            raise BlobError(f"blob {self.path or '?'}: no symbol {name!r}") from None

    def relocated(self, base: int) -> bytes:
        """The image as it must be at address `base` (bss not included)."""
        out = bytearray(self.image)
        for off in self.relocs:
            value = int.from_bytes(out[off:off + 8], "little")
            out[off:off + 8] = ((value + base) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
        return bytes(out)

    # ---- file format -----------------------------------------------------

    def to_bytes(self) -> bytes:
        head = _HEAD.pack(MAGIC, self.arch.encode(), len(self.image),
                          self.bss_size, len(self.relocs), len(self.symbols))
        relocs = b"".join(struct.pack("<Q", r) for r in self.relocs)
        syms = b"".join(struct.pack("<QH", off, len(name.encode())) + name.encode()
                        for name, off in sorted(self.symbols.items()))
        return head + relocs + syms + self.image

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "") -> "Blob":
        where = path or "blob"
        if len(data) < _HEAD.size or data[:8] != MAGIC:
            raise BlobError(f"{where}: not a compel blob (bad magic)")
        _, arch, image_size, bss_size, nr_relocs, nr_syms = _HEAD.unpack_from(data)
        pos = _HEAD.size
        try:
            relocs = list(struct.unpack_from(f"<{nr_relocs}Q", data, pos))
            pos += 8 * nr_relocs
            symbols: dict[str, int] = {}
            for _ in range(nr_syms):
                off, n = struct.unpack_from("<QH", data, pos)
                pos += 10
                symbols[data[pos:pos + n].decode()] = off
                pos += n
        except (struct.error, UnicodeDecodeError) as e:
            raise BlobError(f"{where}: truncated or corrupt tables: {e}") from None
        image = data[pos:pos + image_size]
        if len(image) != image_size:
            raise BlobError(f"{where}: image truncated ({len(image)} of "
                            f"{image_size} bytes)")
        if any(r + 8 > image_size for r in relocs):
            raise BlobError(f"{where}: relocation outside the image")
        return cls(arch.rstrip(b"\0").decode(), bytes(image), bss_size, relocs,
                   symbols, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Blob":
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise BlobError(f"{path}: {e.strerror}") from None
        return cls.from_bytes(data, str(path))

    def save(self, path: str | os.PathLike) -> None:
        tmp = f"{path}.{os.getpid()}.tmp"  # parallel builders never collide
        with open(tmp, "wb") as f:
            f.write(self.to_bytes())
        os.replace(tmp, path)

    # ---- running in our own process --------------------------------------

    def map_local(self) -> "LocalBlob":
        """Map the blob into this process (RWX, private), relocated."""
        return LocalBlob(self)


class LocalBlob:
    """A blob mapped into our own process, its functions callable via ctypes.

    The restorer runs this way: mapped by the (Python) restored child, then
    jumped into.  Unmap with close() when it is to be used from Python only.
    """

    def __init__(self, blob: Blob) -> None:
        from compel.native import memory

        self.blob = blob
        self.length = (blob.size + memory.PAGE_SIZE - 1) & ~(memory.PAGE_SIZE - 1)
        self.base = memory.mmap(0, self.length, memory.PROT_READ |
                                memory.PROT_WRITE | memory.PROT_EXEC,
                                memory.MAP_PRIVATE | memory.MAP_ANONYMOUS)
        image = blob.relocated(self.base)
        ctypes.memmove(self.base, image, len(image))

    def address(self, name: str) -> int:
        return self.base + self.blob.symbol(name)

    def function(self, name: str, restype: type[ctypes._CData] | None,
                 *argtypes: type[ctypes._CData]) -> _ctypes.CFuncPtr:
        """A ctypes callable for the blob's function `name`."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))

    def close(self) -> None:
        from compel.native import memory

        if self.base:
            memory.munmap(self.base, self.length)
            self.base = 0

    def __enter__(self) -> "LocalBlob":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
