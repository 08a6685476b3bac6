"""Namespaces: setns(2) and the CLONE_NEW* types it takes."""

from __future__ import annotations

import os

from compel.native._libc import sys

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000


def unshare(flags: int) -> None:
    """Give the calling thread new namespaces of the CLONE_NEW* kinds in
    `flags` (Python 3.11 has no os.unshare)."""
    sys("unshare", flags)


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling thread into the namespace `fd` refers to."""
    sys("setns", fd, nstype)


def same_namespace(pid: int, kind: str, other: int | str = "self") -> bool:
    """Whether `pid` and `other` share their `kind` ("net", "mnt", ...)."""
    a = os.stat(f"/proc/{pid}/ns/{kind}")
    b = os.stat(f"/proc/{other}/ns/{kind}")
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
