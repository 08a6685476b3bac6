"""Timers of a task: interval timers (setitimer) and POSIX timers
(timer_create), in core-PID.img tc.timers as CRIU stores them.

Dump asks the task itself (getitimer, timer_gettime, timer_getoverrun run
inside it by compel) for the time left and the interval of each timer;
which POSIX timers exist, their clock, signal, value and notification come
from /proc/PID/timers.

Restore hands them to the restorer blob, which arms them last of the
process-wide steps: the POSIX timers with their very ids
(prctl(PR_TIMER_CREATE_RESTORE_IDS), Linux 6.17+), after the threads a
SIGEV_THREAD_ID timer may name.  An overrun count cannot be set again; a
timer dumped with one comes back without it (logged).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from criu.dump import proc
from criu.errors import DumpError
from criu.resources.base import (DumpContext, DumpTask, RestoreContext,
                                 RestoreTask)
from criu.restorer import args as ra

NAME = "timers"

ITIMERVAL_SIZE = 32          # struct itimerval: two struct timeval
ITIMERSPEC_SIZE = 32         # struct itimerspec: two struct timespec
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
_NOTIFY = {"signal": SIGEV_SIGNAL, "none": SIGEV_NONE,
           "thread": SIGEV_THREAD}


@dataclasses.dataclass
class ProcTimer:
    """One timer of /proc/PID/timers."""

    id: int
    signo: int
    sival: int
    notify: int
    tid: int
    clock_id: int


def parse_proc_timers(text: str) -> list[ProcTimer]:
    """The records of /proc/PID/timers:
        ID: 2
        signal: 10/0000000000001234
        notify: signal/pid.4205     (or thread/..., none/..., signal/tid.N)
        ClockID: 1
    """
    out: list[ProcTimer] = []
    cur: dict[str, str] = {}

    def flush() -> None:
        if not cur:
            return
        signo, _, value = cur["signal"].partition("/")
        how, _, target = cur["notify"].partition("/")
        kind, _, who = target.partition(".")
        notify = _NOTIFY[how] | (SIGEV_THREAD_ID if kind == "tid" else 0)
        out.append(ProcTimer(int(cur["ID"]), int(signo), int(value, 16),
                             notify, int(who or 0), int(cur["ClockID"])))
        cur.clear()

    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "ID":
            flush()
        cur[key.strip()] = value.strip()
    flush()
    return out


def dump(ctx: DumpContext, task: DumpTask) -> None:
    from images.pb import timer_pb2
    seized = task.seized
    timers = task.core.tc.timers
    posix = parse_proc_timers(proc.read_text(task.pid, "timers"))
    with task.remote_page() as page:
        for which in range(3):
            seized.remote_syscall_checked(
                "getitimer", which, page + which * ITIMERVAL_SIZE)
        data = seized.read_memory(page, 3 * ITIMERVAL_SIZE)
        for which, entry in enumerate((timers.real, timers.virt,
                                       timers.prof)):
            isec, iusec, vsec, vusec = struct.unpack_from(
                "<4q", data, which * ITIMERVAL_SIZE)
            entry.isec, entry.iusec, entry.vsec, entry.vusec = \
                isec, iusec, vsec, vusec
        for t in posix:
            seized.remote_syscall_checked("timer_gettime", t.id, page)
            overrun = seized.remote_syscall_checked("timer_getoverrun", t.id)
            isec, insec, vsec, vnsec = struct.unpack(
                "<4q", seized.read_memory(page, ITIMERSPEC_SIZE))
            entry = timer_pb2.posix_timer_entry(
                it_id=t.id, clock_id=t.clock_id & 0xFFFFFFFF,
                si_signo=t.signo,
                it_sigev_notify=t.notify, sival_ptr=t.sival,
                overrun=overrun, isec=isec, insec=insec, vsec=vsec,
                vnsec=vnsec)
            if t.notify & SIGEV_THREAD_ID:
                if t.tid not in task.threads:
                    raise DumpError(f"task {task.pid}: POSIX timer {t.id} "
                                    f"signals thread {t.tid}, which is not "
                                    "one of the task's")
                entry.notify_thread_id = t.tid
            timers.posix.append(entry)
    if posix:
        ctx.log.info("task %d: %d POSIX timer(s)", task.pid, len(posix))


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class TimersPlan:
    itimers: list[dict[str, int]]           # rst_itimer: real, virt, prof
    posix: list[dict[str, int]]             # rst_posix_timer


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    tc = task.core.tc
    itimers = [dict(isec=0, iusec=0, vsec=0, vusec=0)] * 3
    posix: list[dict[str, int]] = []
    if tc.HasField("timers"):
        t = tc.timers
        itimers = [dict(isec=e.isec, iusec=e.iusec, vsec=e.vsec,
                        vusec=e.vusec) for e in (t.real, t.virt, t.prof)]
        for it in itimers:
            if not it["vsec"] and not it["vusec"] and \
                    (it["isec"] or it["iusec"]):
                # Expired, its signal pending: the kernel re-arms it when
                # that signal is taken.  Armed to fire at once instead
                # (the signal merges with the pending one), so it keeps
                # its interval.
                it["vusec"] = 1
        for p in sorted(t.posix, key=lambda p: p.it_id):
            if p.overrun:
                ctx.log.info("task %d: POSIX timer %d: overrun %d is not "
                             "restored", task.pid, p.it_id, p.overrun)
            posix.append(dict(
                id=p.it_id, clock_id=p.clock_id, signo=p.si_signo,
                notify=p.it_sigev_notify, sival=p.sival_ptr,
                tid=p.notify_thread_id if p.HasField("notify_thread_id")
                else 0, isec=p.isec, insec=p.insec, vsec=p.vsec,
                vnsec=p.vnsec))
    task.restorer_args.timers = TimersPlan(itimers, posix)


def restorer_fields(task: RestoreTask, block: ra.RestorerBlock
                    ) -> dict[str, Any]:
    """This module's part of the restorer's arguments."""
    plan = getattr(task.restorer_args, "timers", None)
    if plan is None:
        return {}
    return dict(itimers=plan.itimers,
                posix_timers=block.add_array(ra.RST_POSIX_TIMER, plan.posix),
                nr_posix_timers=len(plan.posix))
