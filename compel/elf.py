"""Just enough of ELF64 (little endian) to turn a linked blob into a
compel blob: sections, symbols and RELA relocations."""

from __future__ import annotations

import dataclasses
import struct

from compel.errors import BlobError

SHT_SYMTAB = 2
SHT_RELA = 4
SHT_NOBITS = 8
SHT_DYNSYM = 11
STT_NOTYPE, STT_OBJECT, STT_FUNC = 0, 1, 2
STB_LOCAL = 0
SHN_UNDEF = 0
R_X86_64_NONE = 0
R_X86_64_64 = 1
R_X86_64_RELATIVE = 8


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int


@dataclasses.dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int


@dataclasses.dataclass(frozen=True)
class Rela:
    offset: int
    type: int
    sym: int
    addend: int


class Elf:
    """A parsed ELF64 file held in memory."""

    def __init__(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise BlobError("not a little-endian ELF64 file")
        self.data = data
        (self.type, self.machine, _, _, _, shoff, _, _, _, _, shentsize, shnum,
         shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
        names = raw[shstrndx]
        self.sections = [Section(self._str(names[4], s[0]), s[1], s[3], s[4],
                                 s[5], s[6]) for s in raw]

    def _str(self, table_off: int, off: int) -> str:
        end = self.data.index(b"\0", table_off + off)
        return self.data[table_off + off:end].decode()

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def symbols(self) -> list[Symbol]:
        out: list[Symbol] = []
        for sec in self.sections:
            if sec.type != SHT_SYMTAB:
                continue
            strtab = self.sections[sec.link].offset
            for off in range(sec.offset, sec.offset + sec.size, 24):
                name, info, _, shndx, value, size = struct.unpack_from(
                    "<IBBHQQ", self.data, off)
                out.append(Symbol(self._str(strtab, name), value, size,
                                  info & 0xF, info >> 4, shndx))
        return out

    def relocations(self) -> list[Rela]:
        out: list[Rela] = []
        for sec in self.sections:
            if sec.type != SHT_RELA:
                continue
            for off in range(sec.offset, sec.offset + sec.size, 24):
                r_off, info, addend = struct.unpack_from("<QQq", self.data, off)
                out.append(Rela(r_off, info & 0xFFFFFFFF, info >> 32, addend))
        return out
