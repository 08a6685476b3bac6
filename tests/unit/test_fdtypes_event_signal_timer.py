"""eventfd, signalfd and timerfd kinds without root: fdinfo parsing on
sample text, the timerfd settling of an expired periodic timer, the
expiry given at restore, and each kind imaged from this process's own fds
and made again from the image (counter and mode, mask, clock, ticks, time
left, period); bad images give one-line RestoreErrors."""

from __future__ import annotations

import fcntl
import logging
import os
import pathlib
import signal
import struct
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from compel.native import fdkinds
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.imagedir import ImageDir
from criu.options import Options
from criu.resources import fdtypes, files
from criu.resources.base import DumpContext, RestoreContext
from criu.resources.fdtypes import eventfd, signalfd, timerfd

EVENTFD_INFO = """\
pos:\t0
flags:\t04002
mnt_id:\t17
ino:\t1038
eventfd-count:                5
eventfd-id: 1
eventfd-semaphore: 1
"""

EVENTFD_OLD = """\
pos:\t0
flags:\t02
mnt_id:\t15
ino:\t1038
eventfd-count: fffffffffffffffe
"""

SIGNALFD_INFO = """\
pos:\t0
flags:\t02004002
mnt_id:\t17
ino:\t1038
sigmask:\t0000000200000200
"""

TIMERFD_INFO = """\
pos:\t0
flags:\t02
mnt_id:\t17
ino:\t1038
clockid: 0
ticks: 3
settime flags: 03
it_value: (99, 781311718)
it_interval: (1, 7)
"""


def test_kinds_are_in_the_table() -> None:
    from images.pb import fdinfo_pb2
    assert fdtypes.by_type(fdinfo_pb2.EVENTFD) is eventfd
    assert fdtypes.by_type(fdinfo_pb2.SIGNALFD) is signalfd
    assert fdtypes.by_type(fdinfo_pb2.TIMERFD) is timerfd


def test_uapi_values() -> None:
    assert fdkinds.TFD_IOC_SET_TICKS == 0x40085400
    assert fdkinds.EFD_SEMAPHORE == 1
    assert (fdkinds.CLOCK_REALTIME, fdkinds.CLOCK_MONOTONIC,
            fdkinds.CLOCK_BOOTTIME) == (time.CLOCK_REALTIME,
                                        time.CLOCK_MONOTONIC,
                                        time.CLOCK_BOOTTIME)


def test_eventfd_fdinfo() -> None:
    assert eventfd.parse_fdinfo(EVENTFD_INFO) == eventfd.EventfdInfo(
        count=5, semaphore=True)
    # before 6.5: no semaphore line; the count is hex
    assert eventfd.parse_fdinfo(EVENTFD_OLD) == eventfd.EventfdInfo(
        count=fdkinds.EVENTFD_MAX, semaphore=None)
    assert eventfd.parse_fdinfo(
        EVENTFD_INFO.replace("semaphore: 1", "semaphore: 0")).semaphore \
        is False
    with pytest.raises(ValueError):
        eventfd.parse_fdinfo("pos:\t0\nflags:\t02\n")
    with pytest.raises(ValueError):
        eventfd.parse_fdinfo("eventfd-count: zz\n")


def test_signalfd_fdinfo() -> None:
    mask = signalfd.parse_fdinfo(SIGNALFD_INFO)
    assert mask == 1 << (signal.SIGUSR1 - 1) | 1 << 33
    assert signalfd.signals(mask) == [signal.SIGUSR1, 34]
    with pytest.raises(ValueError):
        signalfd.parse_fdinfo("pos:\t0\n")


def test_timerfd_fdinfo() -> None:
    ti = timerfd.parse_fdinfo(TIMERFD_INFO)
    assert ti == timerfd.TimerfdInfo(clockid=0, ticks=3, settime_flags=3,
                                     value=(99, 781311718), interval=(1, 7))
    # settime flags are octal
    assert timerfd.parse_fdinfo(TIMERFD_INFO.replace(
        "flags: 03", "flags: 010")).settime_flags == 8
    with pytest.raises(ValueError, match="no ticks: line"):
        timerfd.parse_fdinfo(TIMERFD_INFO.replace("ticks: 3\n", ""))
    with pytest.raises(ValueError, match="it_value"):
        timerfd.parse_fdinfo(TIMERFD_INFO.replace("(99, 781311718)", "99"))


def _ti(value: tuple[int, int], interval: tuple[int, int],
        ticks: int) -> timerfd.TimerfdInfo:
    return timerfd.TimerfdInfo(clockid=1, ticks=ticks, settime_flags=0,
                               value=value, interval=interval)


def test_settle_leaves_armed_and_disarmed_timers_alone() -> None:
    def never() -> Any:
        raise AssertionError("the timer was touched")
    for ti in (_ti((1, 0), (1, 0), 4),        # armed periodic
               _ti((0, 0), (0, 0), 1),        # one-shot, fired
               _ti((0, 0), (2, 0), 0)):       # disarmed, period kept
        assert timerfd.settle(ti, never, never) == ti


def test_settle_moves_an_expired_periodic_timer() -> None:
    expired = _ti((0, 0), (0, 100), 1)
    moved = _ti((0, 40), (0, 100), 7)
    calls: list[str] = []

    def gettime() -> int:
        calls.append("gettime")
        return 40

    def reread() -> timerfd.TimerfdInfo:
        calls.append("reread")
        return moved
    assert timerfd.settle(expired, gettime, reread) == moved
    assert calls == ["gettime", "reread"]
    # gettime says disarmed (a timer given ticks by TFD_IOC_SET_TICKS)
    assert timerfd.settle(expired, lambda: 0, reread) == expired
    # expires again each time: one period left
    assert timerfd.settle(expired, lambda: 1, lambda: expired).value == \
        (0, 100)


def test_expiry() -> None:
    from images.pb import timerfd_pb2

    def entry(flags: int, vsec: int, vnsec: int) -> Any:
        return timerfd_pb2.timerfd_entry(
            id=1, flags=2, fown=files.fown(), clockid=0, ticks=0,
            settime_flags=flags, vsec=vsec, vnsec=vnsec, isec=0, insec=0)

    def now(clock: int) -> int:
        return 10 * fdkinds.NSEC_PER_SEC + 999_999_999
    assert timerfd.expiry(entry(0, 2, 5), now) == 2_000_000_005
    # absolute: the clock now plus the time left, nanoseconds carried
    assert timerfd.expiry(entry(fdkinds.TFD_TIMER_ABSTIME, 2, 5), now) == \
        13_000_000_004
    # no time left stays disarmed, absolute or not
    assert timerfd.expiry(entry(fdkinds.TFD_TIMER_ABSTIME, 0, 0), now) == 0
    assert timerfd.check(entry(0, 1, fdkinds.NSEC_PER_SEC)) != ""
    assert timerfd.check(entry(4, 1, 0)) == "unknown settime flags 0x4"
    assert timerfd.check(entry(3, 1, 0)) == ""


# ------------------------------------------------------------ round trips
def _dump_ctx(tmp: pathlib.Path) -> DumpContext:
    return DumpContext(opts=Options(),
                       images=ImageDir(tmp / "img", create=True),
                       log=logging.getLogger("test"), root_pid=0, tasks=[])


def _dump(tmp: pathlib.Path, kind: Any, fds: list[int]) -> list[Any]:
    """The file_entry of each fd, as dump images them."""
    ctx = _dump_ctx(tmp)
    task = SimpleNamespace(pid=os.getpid())
    try:
        ids = []
        for fd in fds:
            info = proc.fdinfo(os.getpid(), fd)
            assert fdtypes.matching(info) == kind
            ids.append(kind.dump(ctx, task, info))
        files.dump_finish(ctx)
        entries = {e.id: e for e in ctx.images.read("files.img")}
    finally:
        ctx.images.close()
    return [entries[i] for i in ids]


def _open(kind: Any, entry: Any, fd: int = 7) -> int:
    rctx = RestoreContext(opts=Options(), images=None,  # type: ignore[arg-type]
                          log=logging.getLogger("test"))
    opening = files.Opening(base=0)
    try:
        return int(kind.open(rctx, SimpleNamespace(pid=4242), entry, fd,
                             opening))
    finally:
        opening.close()


def _read_u64(fd: int) -> int:
    return int(struct.unpack("Q", os.read(fd, 8))[0])


def test_eventfd_round_trip(tmp_path: pathlib.Path) -> None:
    big = os.eventfd(0, os.EFD_NONBLOCK)
    sem = os.eventfd(3, os.EFD_SEMAPHORE)
    os.eventfd_write(big, 0x1234567890abcdef)
    try:
        e_big, e_sem = _dump(tmp_path, eventfd, [big, sem])
    finally:
        os.close(big)
        os.close(sem)
    assert e_big.efd.counter == 0x1234567890abcdef
    assert e_big.efd.flags == os.O_RDWR | os.O_NONBLOCK
    # EFD_SEMAPHORE in bit 0, O_WRONLY, which an eventfd never has
    assert e_sem.efd.flags == os.O_RDWR | eventfd.SEMAPHORE_BIT
    big, sem = _open(eventfd, e_big), _open(eventfd, e_sem)
    try:
        assert fcntl.fcntl(big, fcntl.F_GETFL) & ~os.O_LARGEFILE == \
            os.O_RDWR | os.O_NONBLOCK
        assert fcntl.fcntl(sem, fcntl.F_GETFL) & ~os.O_LARGEFILE == \
            os.O_RDWR
        assert fcntl.fcntl(big, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert _read_u64(big) == 0x1234567890abcdef
        with pytest.raises(BlockingIOError):
            _read_u64(big)
        assert [_read_u64(sem) for _ in range(3)] == [1, 1, 1]
    finally:
        os.close(big)
        os.close(sem)


def test_eventfd_counter_out_of_range(tmp_path: pathlib.Path) -> None:
    from images.pb import eventfd_pb2, fdinfo_pb2
    entry = fdinfo_pb2.file_entry(
        type=eventfd.FD_TYPE, id=1, efd=eventfd_pb2.eventfd_file_entry(
            id=1, flags=2, fown=files.fown(), counter=(1 << 64) - 1))
    with pytest.raises(RestoreError) as err:
        _open(eventfd, entry)
    assert str(err.value).startswith("task 4242: fd 7: eventfd: counter "
                                     "0xffffffffffffffff is beyond")
    assert "\n" not in str(err.value)


def test_signalfd_round_trip(tmp_path: pathlib.Path) -> None:
    mask = 1 << (signal.SIGUSR1 - 1) | 1 << (signal.SIGRTMIN + 2)
    fd = fdkinds.signalfd(mask, fdkinds.SFD_NONBLOCK | fdkinds.SFD_CLOEXEC)
    try:
        (entry,) = _dump(tmp_path, signalfd, [fd])
    finally:
        os.close(fd)
    assert entry.sgfd.sigmask == mask
    assert entry.sgfd.flags == os.O_RDWR | os.O_NONBLOCK
    new = _open(signalfd, entry)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        assert signalfd.parse_fdinfo(
            proc.fdinfo(os.getpid(), new).text) == mask
        with pytest.raises(BlockingIOError):
            os.read(new, 128)
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
        info = os.read(new, 128)
        assert struct.unpack_from("I", info)[0] == signal.SIGUSR1
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.close(new)


def test_timerfd_round_trip(tmp_path: pathlib.Path) -> None:
    """An absolute periodic timer expired 100 periods ago and never read:
    imaged with its missed periods and time left to the next one (not as
    the disarmed-looking fdinfo shows it), and made again with them."""
    sec = fdkinds.NSEC_PER_SEC
    periodic = fdkinds.timerfd_create(fdkinds.CLOCK_REALTIME,
                                      fdkinds.TFD_NONBLOCK)
    fdkinds.timerfd_settime(periodic, fdkinds.TFD_TIMER_ABSTIME,
                            time.clock_gettime_ns(time.CLOCK_REALTIME)
                            - 100 * sec, sec)
    fired = fdkinds.timerfd_create(fdkinds.CLOCK_MONOTONIC)
    fdkinds.timerfd_settime(fired, 0, 1000)
    idle = fdkinds.timerfd_create(fdkinds.CLOCK_BOOTTIME)
    fdkinds.timerfd_settime(idle, 0, 0, 7 * sec + 5)
    time.sleep(0.01)
    try:
        before = timerfd.parse_fdinfo(proc.fdinfo(os.getpid(),
                                                  periodic).text)
        assert before.value == (0, 0) and before.ticks == 1
        e_per, e_fired, e_idle = _dump(tmp_path, timerfd,
                                       [periodic, fired, idle])
    finally:
        for fd in (periodic, fired, idle):
            os.close(fd)
    tp = e_per.tfd
    assert (tp.clockid, tp.settime_flags, tp.isec, tp.insec) == \
        (0, fdkinds.TFD_TIMER_ABSTIME, 1, 0)
    assert tp.ticks >= 100 and 0 < tp.vsec * sec + tp.vnsec <= sec
    assert tp.flags == os.O_RDWR | os.O_NONBLOCK
    tf = e_fired.tfd
    assert (tf.ticks, tf.vsec, tf.vnsec, tf.isec, tf.insec) == (1, 0, 0, 0, 0)
    ti = e_idle.tfd
    assert (ti.clockid, ti.ticks, ti.vsec, ti.vnsec, ti.isec, ti.insec) == \
        (fdkinds.CLOCK_BOOTTIME, 0, 0, 0, 7, 5)

    new = [_open(timerfd, e) for e in (e_per, e_fired, e_idle)]
    try:
        now = timerfd.parse_fdinfo(proc.fdinfo(os.getpid(), new[0]).text)
        assert (now.clockid, now.settime_flags, now.interval) == \
            (0, fdkinds.TFD_TIMER_ABSTIME, (1, 0))
        left, period = fdkinds.timerfd_gettime(new[0])
        assert 0 < left <= sec and period == sec
        assert _read_u64(new[0]) >= 100
        assert _read_u64(new[1]) == 1
        assert fdkinds.timerfd_gettime(new[1]) == (0, 0)
        assert fdkinds.timerfd_gettime(new[2]) == (0, 7 * sec + 5)
        assert timerfd.parse_fdinfo(
            proc.fdinfo(os.getpid(), new[2]).text).ticks == 0
    finally:
        for fd in new:
            os.close(fd)


def test_timerfd_bad_images_are_one_line() -> None:
    from images.pb import fdinfo_pb2, timerfd_pb2

    def entry(**kw: int) -> Any:
        fields = dict(id=1, flags=2, clockid=1, ticks=0, settime_flags=0,
                      vsec=1, vnsec=0, isec=0, insec=0)
        fields.update(kw)
        return fdinfo_pb2.file_entry(
            type=timerfd.FD_TYPE, id=1, tfd=timerfd_pb2.timerfd_entry(
                fown=files.fown(), **fields))
    cases = {
        "task 4242: fd 7: timerfd on clock 42: cannot create the timer: "
        "timerfd_create: Invalid argument": entry(clockid=42),
        "task 4242: fd 7: timerfd on CLOCK_MONOTONIC: nanoseconds out of "
        "range": entry(insec=fdkinds.NSEC_PER_SEC),
        "task 4242: fd 7: timerfd on CLOCK_MONOTONIC: unknown settime "
        "flags 0x10": entry(settime_flags=0x10),
    }
    for prefix, bad in cases.items():
        with pytest.raises(RestoreError) as err:
            _open(timerfd, bad)
        assert str(err.value).startswith(prefix), str(err.value)
        assert "\n" not in str(err.value)


def test_dump_refuses_garbled_fdinfo() -> None:
    ctx = SimpleNamespace(log=logging.getLogger("test"))
    task = SimpleNamespace(pid=77)
    info = SimpleNamespace(fd=5, text="pos:\t0\n", flags=2)
    for kind, what in ((eventfd, "eventfd"), (signalfd, "signalfd"),
                       (timerfd, "timerfd")):
        with pytest.raises(DumpError, match=f"^task 77: fd 5: {what}: no "):
            kind.dump(ctx, task, info)
