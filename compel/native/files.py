"""File-descriptor calls used by criu's files dump: kcmp, tee, terminal
window size, personality.

kcmp tells whether two fds (possibly of two tasks) share one open file
description; tee copies a pipe's contents without consuming them.
"""

from __future__ import annotations

import ctypes
import fcntl

from compel.native._libc import sys

KCMP_FILE = 0
KCMP_VM = 1
KCMP_FILES = 2
KCMP_FS = 3
KCMP_SIGHAND = 4

TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
TIOCGPGRP = 0x540F
TIOCGSID = 0x5429
TIOCGPTN = 0x80045430

F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032

F_SETSIG = 10
F_GETSIG = 11
F_SETOWN_EX = 15
F_GETOWN_EX = 16
F_GETOWNER_UIDS = 17                # CONFIG_CHECKPOINT_RESTORE
F_OWNER_TID = 0
F_OWNER_PID = 1
F_OWNER_PGRP = 2


class Winsize(ctypes.Structure):
    """A terminal's size.

    struct winsize {
        unsigned short ws_row;
        unsigned short ws_col;
        unsigned short ws_xpixel;
        unsigned short ws_ypixel;
    };
    """

    _fields_ = [("ws_row", ctypes.c_ushort), ("ws_col", ctypes.c_ushort),
                ("ws_xpixel", ctypes.c_ushort), ("ws_ypixel", ctypes.c_ushort)]


class FOwnerEx(ctypes.Structure):
    """Who gets SIGIO/SIGURG of an open file description (F_GETOWN_EX).

    struct f_owner_ex {
        int   type;     /* F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP */
        pid_t pid;
    };
    """

    _fields_ = [("type", ctypes.c_int), ("pid", ctypes.c_int)]


def get_owner(fd: int) -> tuple[int, int]:
    """(type, pid) of the description's owner; pid 0: none."""
    raw = fcntl.fcntl(fd, F_GETOWN_EX, bytes(ctypes.sizeof(FOwnerEx)))
    owner = FOwnerEx.from_buffer_copy(raw)
    return owner.type, owner.pid


def set_owner(fd: int, owner_type: int, pid: int) -> None:
    fcntl.fcntl(fd, F_SETOWN_EX, bytes(FOwnerEx(owner_type, pid)))


def owner_uids(fd: int) -> tuple[int, int]:
    """(uid, euid) recorded when the owner was set: the kernel checks
    them against the receiver's before sending it the signal."""
    raw = fcntl.fcntl(fd, F_GETOWNER_UIDS, bytes(8))
    uid, euid = (ctypes.c_uint32 * 2).from_buffer_copy(raw)
    return int(uid), int(euid)


F_OFD_GETLK = 36
F_OFD_SETLK = 37


class FLock(ctypes.Structure):
    """A byte-range lock (F_SETLK, F_OFD_SETLK).

    struct flock {
        short l_type;    /* F_RDLCK, F_WRLCK, F_UNLCK */
        short l_whence;
        off_t l_start;
        off_t l_len;     /* 0: to the end of the file, however long */
        pid_t l_pid;     /* 0 for OFD locks */
    };
    """

    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short),
                ("l_start", ctypes.c_int64), ("l_len", ctypes.c_int64),
                ("l_pid", ctypes.c_int)]


def set_lock(fd: int, cmd: int, lock_type: int, start: int,
             length: int) -> None:
    """Take a byte-range lock without waiting (cmd F_SETLK or
    F_OFD_SETLK); BlockingIOError/PermissionError when another holds it."""
    fcntl.fcntl(fd, cmd, bytes(FLock(lock_type, 0, start, length, 0)))


def kcmp(pid1: int, pid2: int, kind: int, idx1: int = 0, idx2: int = 0) -> int:
    """0 if equal, 1/2 for an ordering, 3 if different (not orderable)."""
    return sys("kcmp", pid1, pid2, kind, idx1, idx2)


def same_file(pid1: int, fd1: int, pid2: int, fd2: int) -> bool:
    """Do these two fds share one open file description?"""
    return kcmp(pid1, pid2, KCMP_FILE, fd1, fd2) == 0


def tee(fd_in: int, fd_out: int, length: int, flags: int = 0) -> int:
    """Duplicate up to length bytes from pipe fd_in into pipe fd_out."""
    return sys("tee", fd_in, fd_out, length, flags)


def get_winsize(fd: int) -> Winsize:
    ws = Winsize()
    fcntl.ioctl(fd, TIOCGWINSZ, ws)  # type: ignore[call-overload]
    return ws


def set_winsize(fd: int, ws: Winsize) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, ws)  # type: ignore[call-overload]


def ioctl_int(fd: int, request: int) -> int:
    """An ioctl that fills one int (TIOCGPGRP, TIOCGSID, TIOCGPTN)."""
    value = ctypes.c_int(0)
    fcntl.ioctl(fd, request, value)  # type: ignore[call-overload]
    return value.value


def personality(persona: int = 0xFFFFFFFF) -> int:
    """personality(2); the default argument only queries."""
    return sys("personality", persona)
