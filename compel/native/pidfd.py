"""pidfds and signals to one thread."""

from __future__ import annotations

from compel.native._libc import sys

PIDFD_NONBLOCK = 0o4000
PIDFD_THREAD = 0o200  # = O_EXCL, since 6.9


def pidfd_open(pid: int, flags: int = 0) -> int:
    return sys("pidfd_open", pid, flags)


def pidfd_send_signal(pidfd: int, sig: int, flags: int = 0) -> None:
    sys("pidfd_send_signal", pidfd, sig, None, flags)


def pidfd_getfd(pidfd: int, targetfd: int) -> int:
    """Duplicate fd `targetfd` of the pidfd's process into ours."""
    return sys("pidfd_getfd", pidfd, targetfd, 0)


def tgkill(tgid: int, tid: int, sig: int) -> None:
    sys("tgkill", tgid, tid, sig)
