"""memfd_create(2) flags and file seals (fcntl F_ADD_SEALS/F_GET_SEALS).

memfd_create itself is compel.native.memory.memfd_create.
"""

from __future__ import annotations

import fcntl

MFD_CLOEXEC = 0x0001
MFD_ALLOW_SEALING = 0x0002
MFD_HUGETLB = 0x0004
MFD_NOEXEC_SEAL = 0x0008   # since 6.3: mode 0666 and F_SEAL_EXEC
MFD_EXEC = 0x0010

F_LINUX_SPECIFIC_BASE = 1024
F_ADD_SEALS = F_LINUX_SPECIFIC_BASE + 9
F_GET_SEALS = F_LINUX_SPECIFIC_BASE + 10

F_SEAL_SEAL = 0x0001           # no further seals
F_SEAL_SHRINK = 0x0002
F_SEAL_GROW = 0x0004
F_SEAL_WRITE = 0x0008
F_SEAL_FUTURE_WRITE = 0x0010   # since 5.1
F_SEAL_EXEC = 0x0020           # since 6.3


def get_seals(fd: int) -> int:
    """The file's seals; a memfd made without MFD_ALLOW_SEALING says
    F_SEAL_SEAL."""
    return fcntl.fcntl(fd, F_GET_SEALS)


def add_seals(fd: int, seals: int) -> None:
    fcntl.fcntl(fd, F_ADD_SEALS, seals)
