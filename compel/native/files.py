"""File-descriptor calls used by criu's files dump: kcmp, tee, terminal
window size, personality.

kcmp tells whether two fds (possibly of two tasks) share one open file
description; tee copies a pipe's contents without consuming them.
"""

from __future__ import annotations

import ctypes
import fcntl
import os

from compel.native._libc import sys

KCMP_FILE = 0
KCMP_VM = 1
KCMP_FILES = 2
KCMP_FS = 3
KCMP_SIGHAND = 4

TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
TIOCGPGRP = 0x540F
TIOCSPGRP = 0x5410
TIOCGSID = 0x5429
TIOCSCTTY = 0x540E
TIOCEXCL = 0x540C
TIOCGEXCL = 0x80045440
TIOCPKT = 0x5420                    # master only: packet mode on/off
TIOCGPKT = 0x80045438
TIOCGPTN = 0x80045430               # master only: the pty's index N
TIOCSPTLCK = 0x40045431             # master only: lock/unlock /dev/pts/N
TIOCGPTLCK = 0x80045439
TIOCGPTPEER = 0x5441                # master only: open the slave, flags
TCGETS = 0x5401
TCSETS = 0x5402
TIOCGLCKTRMIOS = 0x5456
TIOCSLCKTRMIOS = 0x5457             # needs CAP_SYS_ADMIN
FIONREAD = 0x541B                   # TIOCINQ
KERNEL_NCCS = 19

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


class KTermios(ctypes.Structure):
    """A terminal's modes as the TCGETS/TCSETS ioctls take them (the
    kernel's, not glibc's larger struct termios: no speed fields, the
    speeds are the CBAUD bits of c_cflag).

    struct termios {
        tcflag_t c_iflag;       /* unsigned int */
        tcflag_t c_oflag;
        tcflag_t c_cflag;
        tcflag_t c_lflag;
        cc_t     c_line;        /* line discipline, unsigned char */
        cc_t     c_cc[NCCS];    /* NCCS = 19 */
    };
    """

    _fields_ = [("c_iflag", ctypes.c_uint), ("c_oflag", ctypes.c_uint),
                ("c_cflag", ctypes.c_uint), ("c_lflag", ctypes.c_uint),
                ("c_line", ctypes.c_ubyte),
                ("c_cc", ctypes.c_ubyte * KERNEL_NCCS)]


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


AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000


def link_fd(fd: int, path: str) -> None:
    """A new name for the file open at fd, also one deleted under the
    name it was opened by (linkat AT_EMPTY_PATH: CAP_DAC_READ_SEARCH)."""
    sys("linkat", fd, b"", AT_FDCWD, os.fsencode(path), AT_EMPTY_PATH)


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
    fcntl.ioctl(fd, TIOCGWINSZ, ws)
    return ws


def set_winsize(fd: int, ws: Winsize) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, ws)


def ioctl_int(fd: int, request: int) -> int:
    """An ioctl that fills one int (TIOCGPGRP, TIOCGSID, TIOCGPTN,
    TIOCGPTLCK, TIOCGPKT, TIOCGEXCL)."""
    value = ctypes.c_int(0)
    fcntl.ioctl(fd, request, value)
    return value.value


def ioctl_set_int(fd: int, request: int, value: int) -> None:
    """An ioctl that reads one int through a pointer (TIOCSPGRP,
    TIOCSPTLCK, TIOCPKT)."""
    fcntl.ioctl(fd, request, ctypes.c_int(value))


def ioctl_arg(fd: int, request: int, arg: int = 0) -> int:
    """An ioctl whose argument is a plain number (TIOCSCTTY's steal flag,
    TIOCGPTPEER's open flags, TIOCEXCL); its return value."""
    return fcntl.ioctl(fd, request, arg)


def get_termios(fd: int, locked: bool = False) -> KTermios:
    """TCGETS, or TIOCGLCKTRMIOS (which bits TCSETS may not change)."""
    t = KTermios()
    fcntl.ioctl(fd, TIOCGLCKTRMIOS if locked else TCGETS, t)
    return t


def set_termios(fd: int, t: KTermios, locked: bool = False) -> None:
    """TCSETS (at once, like tcsetattr TCSANOW), or TIOCSLCKTRMIOS."""
    fcntl.ioctl(fd, TIOCSLCKTRMIOS if locked else TCSETS, t)


def personality(persona: int = 0xFFFFFFFF) -> int:
    """personality(2); the default argument only queries."""
    return sys("personality", persona)
