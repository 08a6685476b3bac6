"""epoll calls with the full struct epoll_event, and kcmp's epoll-target
comparison.

Python's select.epoll registers an fd with its own number as the event's
data; a checkpointed program may have registered any 64-bit value (a
pointer, a token), which must come back unchanged, so criu calls
epoll_ctl(2) itself.  KCMP_EPOLL_TFD tells whether the file an epoll
watches under fd number N is still the file at fd N of a task: the dump's
proof that a target named by number is the file the program registered.
"""

from __future__ import annotations

import ctypes
import platform

from compel.native._libc import sys

EPOLL_CLOEXEC = 0o2000000

EPOLL_CTL_ADD = 1
EPOLL_CTL_DEL = 2
EPOLL_CTL_MOD = 3

EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31

KCMP_EPOLL_TFD = 7


class EpollEvent(ctypes.Structure):
    """One event: registered with epoll_ctl, returned by epoll_wait.

    struct epoll_event {
        __poll_t events;
        __u64    data;
    } EPOLL_PACKED;

    EPOLL_PACKED is __attribute__((packed)) on x86_64 only (12 bytes there,
    16 elsewhere): the x86_64 ABI kept the i386 layout.
    """

    if platform.machine() == "x86_64":
        _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


class KcmpEpollSlot(ctypes.Structure):
    """Which target of which epoll kcmp(KCMP_EPOLL_TFD) compares with.

    struct kcmp_epoll_slot {
        __u32 efd;      /* epoll file descriptor */
        __u32 tfd;      /* target file number */
        __u32 toff;     /* target offset within same numbered sequence */
    };

    toff counts the targets registered under the same fd number before
    this one, in the order /proc/PID/fdinfo lists them (both walk the
    epoll's tree the same way).
    """

    _fields_ = [("efd", ctypes.c_uint32), ("tfd", ctypes.c_uint32),
                ("toff", ctypes.c_uint32)]


def epoll_create1(flags: int = EPOLL_CLOEXEC) -> int:
    return sys("epoll_create1", flags)


def epoll_ctl(epfd: int, op: int, fd: int, events: int = 0,
              data: int = 0) -> None:
    """epoll_ctl(2) with any events mask and 64-bit data."""
    ev = EpollEvent(events & 0xFFFFFFFF, data & 0xFFFFFFFFFFFFFFFF)
    sys("epoll_ctl", epfd, op, fd, ctypes.byref(ev))


def epoll_wait(epfd: int, maxevents: int = 64,
               timeout_ms: int = 0) -> list[tuple[int, int]]:
    """(events, data) of each ready target; [] after the timeout."""
    arr = (EpollEvent * maxevents)()
    n = sys("epoll_wait", epfd, ctypes.byref(arr), maxevents, timeout_ms)
    return [(arr[i].events, arr[i].data) for i in range(n)]


def same_target(pid: int, fd: int, epoll_pid: int, efd: int, tfd: int,
                toff: int = 0) -> bool:
    """Is pid's fd `fd` the file that epoll_pid's epoll `efd` watches as
    its toff-th target registered under fd number tfd?

    Raises OSError: EBADF if pid has no fd `fd` (or epoll_pid no `efd`),
    ENOENT if the epoll has no such target, EINVAL if efd is no epoll.
    """
    slot = KcmpEpollSlot(efd, tfd, toff)
    return sys("kcmp", pid, epoll_pid, KCMP_EPOLL_TFD, fd,
               ctypes.addressof(slot)) == 0
