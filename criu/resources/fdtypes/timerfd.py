"""timerfds (timerfd_create(2)): timerfd_entry in files.img, as CRIU
writes it: file flags, clock, the expirations counted but not yet read
(ticks), the flags given to timerfd_settime (TFD_TIMER_ABSTIME,
TFD_TIMER_CANCEL_ON_SET), the time left to the next expiry (vsec, vnsec:
always relative, also for an absolute timer) and the period (isec, insec).

Dump reads /proc/PID/fdinfo/N ("clockid:", "ticks:", "settime flags:"
(octal), "it_value: (s, ns)", "it_interval: (s, ns)").  A periodic timer
that expired and was not read since is not re-armed by the kernel until
the next read() or timerfd_gettime(): its fdinfo then shows no time left
(it_value (0, 0)) and a single tick however many periods went by.  Imaged
as is, restore would disarm it (timerfd_settime with a zero value) and
the timer would never tick again, so dump first calls timerfd_gettime() on
criu's own copy of the file (pidfd_getfd): the kernel moves the timer to
its next expiry and adds the periods missed to its ticks, as the task's
next read() would do, and the fdinfo read again says the real time left
and count.  (The kernel lets the timer run while the tree is frozen; that
is the time the task will see passed when it reads.)

Restore, in open(): timerfd_create(clock, TFD_CLOEXEC), timerfd_settime
with the dumped settime flags, the time left and the period, then
TFD_IOC_SET_TICKS for the ticks not read (settime resets them to 0), then
the file flags.  Time left is counted from the restore, as CRIU does: the
time the tree spent dumped does not count.  For an absolute timer
(TFD_TIMER_ABSTIME, any clock) the expiry given is the clock's time now
plus the time left, so the timer stays absolute (and a
TFD_TIMER_CANCEL_ON_SET one on CLOCK_REALTIME is cancelled again when the
clock is set); CRIU adds only the seconds of the clock to the time left,
here the nanoseconds too.  A disarmed timer keeps its flags and period.

Not kept: that a TFD_TIMER_CANCEL_ON_SET timer was already cancelled (its
next read() would fail with ECANCELED); timers in a time namespace.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import re
import time
from typing import Any, Callable

from compel.native import fdkinds
from compel.native import pidfd as npidfd
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 17                        # fd_types.TIMERFD
LINK = "anon_inode:[timerfd]"
NSEC = fdkinds.NSEC_PER_SEC
SETTLE_TRIES = 3


@dataclasses.dataclass(frozen=True)
class TimerfdInfo:
    """What /proc/PID/fdinfo/N says of a timerfd."""

    clockid: int
    ticks: int
    settime_flags: int
    value: tuple[int, int]          # time left: (s, ns); (0, 0) disarmed
    interval: tuple[int, int]       # period: (s, ns); (0, 0) one-shot

    def expired_unarmed(self) -> bool:
        """Maybe a periodic timer that expired and waits for a read() or
        timerfd_gettime() to be moved to its next expiry: no time left,
        a period and ticks.  (A timer disarmed with a period kept shows
        no time left too, but no ticks: timerfd_settime zeroes them.)"""
        return self.value == (0, 0) and self.interval != (0, 0) and \
            self.ticks > 0


_PAIR_RE = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def _pair(fields: dict[str, str], key: str) -> tuple[int, int]:
    m = _PAIR_RE.fullmatch(fields[key])
    if m is None:
        raise ValueError(f"unexpected {key}: {fields[key]!r}")
    return int(m.group(1)), int(m.group(2))


def parse_fdinfo(text: str) -> TimerfdInfo:
    """A timerfd's state from its fdinfo; ValueError if a line is missing
    or malformed."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("clockid", "ticks", "settime flags", "it_value",
                           "it_interval") if k not in fields]
    if missing:
        raise ValueError(f"no {missing[0]}: line in its fdinfo")
    try:
        return TimerfdInfo(clockid=int(fields["clockid"]),
                           ticks=int(fields["ticks"]),
                           settime_flags=int(fields["settime flags"], 8),
                           value=_pair(fields, "it_value"),
                           interval=_pair(fields, "it_interval"))
    except ValueError as e:
        raise ValueError(f"unexpected timerfd fdinfo: {e}") from e


def clock_name(clockid: int) -> str:
    return fdkinds.CLOCK_NAMES.get(clockid, f"clock {clockid}")


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


# ---------------------------------------------------------------- dump side
def settle(ti: TimerfdInfo, gettime: Callable[[], int],
           reread: Callable[[], TimerfdInfo],
           tries: int = SETTLE_TRIES) -> TimerfdInfo:
    """The timer's state with an expired periodic timer moved to its next
    expiry (gettime() on the same file: its time left after the move, 0
    for a disarmed timer, which stays as it is; then reread() of its
    fdinfo).  It may expire again in between: tried a few times, then its
    time left is taken as one period (a period so short is within the
    time the dump itself takes)."""
    for _ in range(tries):
        if not ti.expired_unarmed():
            return ti
        if not gettime():
            return ti
        ti = reread()
    if ti.expired_unarmed():
        ti = dataclasses.replace(ti, value=ti.interval)
    return ti


def _read_fdinfo(pid: int, fd: int) -> TimerfdInfo:
    with io.open(f"/proc/{pid}/fdinfo/{fd}") as f:
        return parse_fdinfo(f.read())


def _settled(pid: int, fd: int, ti: TimerfdInfo) -> TimerfdInfo:
    if not ti.expired_unarmed():
        return ti
    copy = npidfd.fd_of(pid, fd)

    def gettime() -> int:
        return fdkinds.timerfd_gettime(copy)[0]

    try:
        return settle(ti, gettime, lambda: _read_fdinfo(pid, fd))
    finally:
        os.close(copy)


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import timerfd_pb2
    where = files.where(task.pid, info.fd)
    try:
        ti = _settled(task.pid, info.fd, parse_fdinfo(info.text))
    except ValueError as e:
        raise DumpError(f"{where}: timerfd: {e}") from e
    except OSError as e:
        raise DumpError(f"{where}: timerfd: cannot read its time left: "
                        f"{e.strerror}") from e
    entry = timerfd_pb2.timerfd_entry(
        id=files.new_id(ctx), flags=files.file_flags(info),
        fown=files.fown(), clockid=ti.clockid, ticks=ti.ticks,
        settime_flags=ti.settime_flags, vsec=ti.value[0], vnsec=ti.value[1],
        isec=ti.interval[0], insec=ti.interval[1])
    ctx.log.info("%s: timerfd on %s, %d ticks unread, time left %d.%09d s, "
                 "period %d.%09d s, settime flags %#x", where,
                 clock_name(ti.clockid), ti.ticks, *ti.value, *ti.interval,
                 ti.settime_flags)
    return files.add_file(ctx, FD_TYPE, tfd=entry)


# ------------------------------------------------------------- restore side
def expiry(tfe: Any, now: Callable[[int], int]) -> int:
    """The it_value to give timerfd_settime, in ns: the time left, or for
    an absolute timer the clock's time now plus the time left; 0 (disarm)
    for a timer with no time left."""
    left = tfe.vsec * NSEC + tfe.vnsec
    if left and tfe.settime_flags & fdkinds.TFD_TIMER_ABSTIME:
        return now(tfe.clockid) + left
    return int(left)


def check(tfe: Any) -> str:
    """What is wrong with an entry ("" if nothing): checked before any
    timer is made, so that a bad one is named rather than errno'ed."""
    if tfe.vnsec >= NSEC or tfe.insec >= NSEC:
        return (f"nanoseconds out of range (time left {tfe.vsec}.{tfe.vnsec},"
                f" period {tfe.isec}.{tfe.insec})")
    if tfe.settime_flags & ~fdkinds.TFD_SETTIME_FLAGS:
        return f"unknown settime flags {tfe.settime_flags:#x}"
    if tfe.vsec >= 1 << 62 or tfe.isec >= 1 << 62:
        return f"time beyond what a timer holds ({tfe.vsec} s, {tfe.isec} s)"
    return ""


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A new timerfd on the dumped clock, armed for the time left, with
    its unread ticks."""
    tfe = entry.tfd
    where = f"{files.where(task.pid, fd)}: timerfd on {clock_name(tfe.clockid)}"
    bad = check(tfe)
    if bad:
        raise RestoreError(f"{where}: {bad}")
    try:
        new = fdkinds.timerfd_create(tfe.clockid, fdkinds.TFD_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{where}: cannot create the timer: "
                           f"{e.strerror}") from e
    try:
        _arm(tfe, new)
        fcntl.fcntl(new, fcntl.F_SETFL, tfe.flags & ~files.OPEN_ONLY_FLAGS)
    except OSError as e:
        os.close(new)
        raise RestoreError(f"{where}: {e.strerror}") from e
    ctx.log.debug("%s: %d ticks, time left %d.%09d s, period %d.%09d s, "
                  "settime flags %#x", where, tfe.ticks, tfe.vsec, tfe.vnsec,
                  tfe.isec, tfe.insec, tfe.settime_flags)
    return new


def _arm(tfe: Any, fd: int) -> None:
    """settime, then the ticks (settime zeroes them)."""
    value = expiry(tfe, time.clock_gettime_ns)
    interval = tfe.isec * NSEC + tfe.insec
    fdkinds.timerfd_settime(fd, tfe.settime_flags, value, interval)
    if tfe.ticks:
        fdkinds.timerfd_set_ticks(fd, tfe.ticks)
