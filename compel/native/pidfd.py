"""pidfds and signals to one thread."""

from __future__ import annotations

import os
import signal

from compel.native._libc import sys

PIDFD_NONBLOCK = 0o4000
PIDFD_THREAD = 0o200  # = O_EXCL, since 6.9
PIDFD_SIGNAL_THREAD = 1 << 0  # pidfd_send_signal flags, since 6.9


def pidfd_open(pid: int, flags: int = 0) -> int:
    return sys("pidfd_open", pid, flags)


def pidfd_send_signal(pidfd: int, sig: int, flags: int = 0) -> None:
    sys("pidfd_send_signal", pidfd, sig, None, flags)


def pidfd_getfd(pidfd: int, targetfd: int) -> int:
    """Duplicate fd `targetfd` of the pidfd's process into ours."""
    return sys("pidfd_getfd", pidfd, targetfd, 0)


def fd_of(pid: int, fd: int) -> int:
    """Our own fd of the open file description at fd of process pid
    (pidfd_open, then pidfd_getfd): what criu reads a task's socket,
    timer or terminal state through."""
    handle = pidfd_open(pid)
    try:
        return pidfd_getfd(handle, fd)
    finally:
        os.close(handle)


def tgkill(tgid: int, tid: int, sig: int) -> None:
    sys("tgkill", tgid, tid, sig)


def spawn_dying() -> int:
    """A child that kills itself (SIGKILL) at once; its pid, not yet reaped.

    What a pidfd of an exited process needs: a struct pid whose task is
    gone.  pidfd_open() works on the child until the caller reaps it
    (reap_dying()); every pidfd opened by then stays, like the dumped one,
    a pidfd of a dead process.  The child is clone3()d with CLONE_UNTRACED
    (a tracer of the caller, e.g. criu during a restore, does not inherit
    it) and exit signal 0 (its death sends the caller no SIGCHLD, which
    would be left pending in a process being restored).
    """
    from compel.native.clone import CLONE_UNTRACED, CloneArgs, python_fork
    pid = python_fork(CloneArgs(flags=CLONE_UNTRACED, exit_signal=0))
    if pid == 0:
        try:
            sys("kill", sys("getpid"), signal.SIGKILL)
        finally:
            os._exit(1)
    return pid


def reap_dying(pid: int) -> None:
    """Wait for a spawn_dying() child (exit signal 0: __WALL) and reap it."""
    from compel.native.wait import __WALL
    while True:
        try:
            os.waitpid(pid, __WALL)
            return
        except InterruptedError:
            continue
