"""A task's mappings as /proc/PID/smaps shows them, classified like CRIU.

Each Vma carries what the vma_entry of mm-PID.img needs: addresses, file
offset, protections, mmap flags, CRIU's status bits (VMA_AREA_*), madvise
bits from VmFlags, and the file behind a file mapping (read through
/proc/PID/map_files so that the very file mapped is reopened, even when
its path has been replaced).
"""

from __future__ import annotations

import dataclasses
import os
import re

# mmap(2)
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE = 0x01, 0x02
MAP_ANONYMOUS = 0x20
MAP_NORESERVE = 0x4000
MAP_GROWSDOWN = 0x0100
MAP_LOCKED = 0x2000

# CRIU's vma_entry.status bits (criu/include/image.h), part of the image ABI.
VMA_AREA_REGULAR = 1 << 0
VMA_AREA_STACK = 1 << 1
VMA_AREA_VSYSCALL = 1 << 2
VMA_AREA_VDSO = 1 << 3
VMA_AREA_HEAP = 1 << 5
VMA_FILE_PRIVATE = 1 << 6
VMA_FILE_SHARED = 1 << 7
VMA_ANON_SHARED = 1 << 8
VMA_ANON_PRIVATE = 1 << 9
VMA_AREA_SYSVIPC = 1 << 10
VMA_AREA_SOCKET = 1 << 11
VMA_AREA_VVAR = 1 << 12
VMA_AREA_AIORING = 1 << 13
VMA_AREA_MEMFD = 1 << 14
VMA_UNSUPP = 1 << 31

# madvise(2) advice numbers; vma_entry.madv has bit (1 << advice) set.
MADV_DONTFORK = 10
MADV_MERGEABLE = 12
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_WIPEONFORK = 18

# smaps VmFlags mnemonic -> advice it records.
VMFLAG_MADVICE = {"dc": MADV_DONTFORK, "mg": MADV_MERGEABLE,
                  "hg": MADV_HUGEPAGE, "nh": MADV_NOHUGEPAGE,
                  "dd": MADV_DONTDUMP, "wf": MADV_WIPEONFORK}

VDSO_NAMES = ("[vdso]",)
VVAR_NAMES = ("[vvar]", "[vvar_vclock]")

_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) "
                     r"([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$")


@dataclasses.dataclass
class Vma:
    start: int
    end: int
    perms: str              # "rw-p"
    pgoff: int              # bytes
    dev_major: int
    dev_minor: int
    inode: int
    name: str               # path, "[heap]", "" ...
    vmflags: set[str] = dataclasses.field(default_factory=set)
    status: int = 0
    flags: int = 0
    madv: int = 0

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def prot(self) -> int:
        return ((PROT_READ if self.perms[0] == "r" else 0) |
                (PROT_WRITE if self.perms[1] == "w" else 0) |
                (PROT_EXEC if self.perms[2] == "x" else 0))

    @property
    def shared(self) -> bool:
        return self.perms[3] == "s"

    @property
    def is_file(self) -> bool:
        return bool(self.status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED))

    @property
    def is_special(self) -> bool:
        """vdso/vvar: moved at restore, never mapped nor filled."""
        return bool(self.status & (VMA_AREA_VDSO | VMA_AREA_VVAR))

    @property
    def dumps_pages(self) -> bool:
        """Private memory whose contents go to the pages image."""
        return bool(self.status & VMA_AREA_REGULAR) and not self.is_special \
            and not self.shared

    def describe(self) -> str:
        return f"{self.start:#x}-{self.end:#x} {self.perms} {self.name}".strip()


def parse_smaps(text: str) -> list[Vma]:
    """The mappings of an smaps text, in address order, unclassified."""
    vmas: list[Vma] = []
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            vmas.append(Vma(int(m[1], 16), int(m[2], 16), m[3],
                            int(m[4], 16), int(m[5], 16), int(m[6], 16),
                            int(m[7]), m[8]))
        elif line.startswith("VmFlags:") and vmas:
            vmas[-1].vmflags = set(line.split()[1:])
    return vmas


def classify(vmas: list[Vma], start_brk: int, brk: int,
             start_stack: int) -> None:
    """Fill status, mmap flags and madvise bits of each mapping."""
    for v in vmas:
        v.madv = 0
        for flag, advice in VMFLAG_MADVICE.items():
            if flag in v.vmflags:
                v.madv |= 1 << advice
        v.flags = MAP_SHARED if v.shared else MAP_PRIVATE
        if "gd" in v.vmflags:
            v.flags |= MAP_GROWSDOWN
        if "nr" in v.vmflags:
            v.flags |= MAP_NORESERVE
        if "lo" in v.vmflags and "lf" not in v.vmflags:
            # mlock()ed: mapped locked again (and so populated, as mlock
            # did).  Lock-on-fault (mlock2 MLOCK_ONFAULT) is left out: a
            # MAP_LOCKED mapping would be populated whole.
            v.flags |= MAP_LOCKED
        if v.name == "[vsyscall]":
            v.status = VMA_AREA_VSYSCALL
            continue
        if v.name in VDSO_NAMES:
            v.status = VMA_AREA_REGULAR | VMA_AREA_VDSO | VMA_ANON_PRIVATE
            v.flags |= MAP_ANONYMOUS
            continue
        if v.name in VVAR_NAMES:
            v.status = VMA_AREA_REGULAR | VMA_AREA_VVAR | VMA_ANON_PRIVATE
            v.flags |= MAP_ANONYMOUS
            continue
        if v.shared and (v.name == "/dev/zero (deleted)" or
                         v.name.startswith("/SYSV")):
            # Shared anonymous memory (and SysV shm) live in shmem files.
            v.status = VMA_AREA_REGULAR | VMA_ANON_SHARED
            if v.name.startswith("/SYSV"):
                v.status |= VMA_AREA_SYSVIPC
            continue
        if v.inode == 0 and not v.name.startswith("/"):
            v.flags |= MAP_ANONYMOUS
            if v.shared:
                v.status = VMA_AREA_REGULAR | VMA_ANON_SHARED
            else:
                v.status = VMA_AREA_REGULAR | VMA_ANON_PRIVATE
            if v.name == "[heap]" or (start_brk <= v.start < max(brk, start_brk + 1)
                                      and not v.shared):
                v.status |= VMA_AREA_HEAP
            if v.start <= start_stack < v.end or v.name == "[stack]":
                v.status |= VMA_AREA_STACK
            continue
        if v.shared:
            v.status = VMA_AREA_REGULAR | VMA_FILE_SHARED
        else:
            v.status = VMA_AREA_REGULAR | VMA_FILE_PRIVATE


def read_vmas(pid: int, start_brk: int, brk: int,
              start_stack: int) -> list[Vma]:
    with open(f"/proc/{pid}/smaps", encoding="utf-8",
              errors="surrogateescape") as f:
        vmas = parse_smaps(f.read())
    classify(vmas, start_brk, brk, start_stack)
    return vmas


def map_file_path(pid: int, vma: Vma) -> str:
    """/proc/PID/map_files/START-END: the exact file a mapping maps."""
    return f"/proc/{pid}/map_files/{vma.start:x}-{vma.end:x}"


def file_name(pid: int, vma: Vma) -> str:
    """The path of a file mapping, without the " (deleted)" suffix."""
    try:
        return os.readlink(map_file_path(pid, vma))
    except OSError:
        return vma.name
