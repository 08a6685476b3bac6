"""eventfd, signalfd and timerfd: the calls and uapi values criu needs to
remake them.

Python has os.eventfd but nothing for signalfd(2) or timerfd(2), and
neither exposes TFD_IOC_SET_TICKS, the ioctl (CONFIG_CHECKPOINT_RESTORE)
that puts back the expirations a timerfd counted but nobody read.  The
values are the kernel's uapi (linux/eventfd.h, signalfd.h, timerfd.h,
time.h), defined here so that nothing depends on the installed headers
(Debian 12 has 6.1's).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

from compel.native._libc import os_error, sys

# linux/eventfd.h (EFD_CLOEXEC/EFD_NONBLOCK are O_CLOEXEC/O_NONBLOCK)
EFD_SEMAPHORE = 1
EFD_CLOEXEC = os.O_CLOEXEC
EFD_NONBLOCK = os.O_NONBLOCK
EVENTFD_MAX = 0xFFFFFFFFFFFFFFFE        # ULLONG_MAX - 1: the largest count

# linux/signalfd.h
SFD_CLOEXEC = os.O_CLOEXEC
SFD_NONBLOCK = os.O_NONBLOCK

# linux/timerfd.h
TFD_CLOEXEC = os.O_CLOEXEC
TFD_NONBLOCK = os.O_NONBLOCK
TFD_TIMER_ABSTIME = 1 << 0
TFD_TIMER_CANCEL_ON_SET = 1 << 1
TFD_SETTIME_FLAGS = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET
# _IOW('T', 0, __u64): direction write (1) << 30 | size 8 << 16 | 'T' << 8
TFD_IOC_SET_TICKS = (1 << 30) | (8 << 16) | (ord("T") << 8) | 0

# linux/time.h: the clocks timerfd_create(2) accepts
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
CLOCK_NAMES = {CLOCK_REALTIME: "CLOCK_REALTIME",
               CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
               CLOCK_BOOTTIME: "CLOCK_BOOTTIME",
               CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
               CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM"}

NSEC_PER_SEC = 1_000_000_000


class Timespec(ctypes.Structure):
    """A time, or a time left.

    struct __kernel_timespec {
        __kernel_time64_t tv_sec;
        long long         tv_nsec;
    };
    """

    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_int64)]

    @classmethod
    def from_ns(cls, ns: int) -> "Timespec":
        return cls(ns // NSEC_PER_SEC, ns % NSEC_PER_SEC)

    def ns(self) -> int:
        return int(self.tv_sec) * NSEC_PER_SEC + int(self.tv_nsec)


class Itimerspec(ctypes.Structure):
    """A timer's setting: the first expiry and the period after it.

    struct __kernel_itimerspec {
        struct __kernel_timespec it_interval;
        struct __kernel_timespec it_value;
    };
    """

    _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]


# ------------------------------------------------------------------ signalfd
def signalfd(mask: int, flags: int = SFD_CLOEXEC, fd: int = -1) -> int:
    """signalfd4(2) with a 64-bit signal mask (bit N-1: signal N): a new
    signalfd (fd -1) or fd's mask changed."""
    sigset = ctypes.c_uint64(mask & 0xFFFFFFFFFFFFFFFF)
    return sys("signalfd4", fd, ctypes.byref(sigset), ctypes.sizeof(sigset),
               flags)


# ------------------------------------------------------------------- timerfd
def timerfd_create(clockid: int, flags: int = TFD_CLOEXEC) -> int:
    return sys("timerfd_create", clockid, flags)


def timerfd_settime(fd: int, flags: int, value_ns: int,
                    interval_ns: int = 0) -> tuple[int, int]:
    """Arm (value_ns > 0) or disarm (0) the timer; value_ns is a time on
    its clock with TFD_TIMER_ABSTIME, else a time from now.  Returns the
    old setting as (time left, interval) in ns."""
    new = Itimerspec(Timespec.from_ns(interval_ns), Timespec.from_ns(value_ns))
    old = Itimerspec()
    sys("timerfd_settime", fd, flags, ctypes.byref(new), ctypes.byref(old))
    return old.it_value.ns(), old.it_interval.ns()


def timerfd_gettime(fd: int) -> tuple[int, int]:
    """(time left, interval) in ns; (0, interval) when disarmed.

    A periodic timer that expired and was not read since is not re-armed
    by the kernel until read() or this call: here the kernel moves it to
    its next expiry, adding the periods missed to its ticks, as read()
    would, without taking the ticks.
    """
    cur = Itimerspec()
    sys("timerfd_gettime", fd, ctypes.byref(cur))
    return cur.it_value.ns(), cur.it_interval.ns()


def timerfd_set_ticks(fd: int, ticks: int) -> None:
    """TFD_IOC_SET_TICKS: the count of expirations read() will return (and
    the fd readable); EINVAL for 0, ENOTTY without
    CONFIG_CHECKPOINT_RESTORE."""
    try:
        fcntl.ioctl(fd, TFD_IOC_SET_TICKS, struct.pack("=Q", ticks))
    except OSError as e:
        raise os_error("ioctl(TFD_IOC_SET_TICKS)", e.errno or 0) from None
