"""Per-task facts of the core image that no other resource owns: comm,
personality, task state and flags, scheduling, oom_score_adj, loginuid,
child-subreaper, parent-death signal (core-PID.img tc.* and
thread_core.*).

Restore applies them in the new task directly; a value the kernel refuses
(e.g. lowering oom_score_adj needs CAP_SYS_RESOURCE) is logged as a warning
naming the field and the reason, and the restore goes on, like CRIU.
"""

from __future__ import annotations

import os
from typing import Callable

from compel.native import files as nfiles
from compel.native import prctl as nprctl
from criu.dump import proc
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "task"
FOR_ZOMBIES = True

# compel/CRIU task states (facts of the image format).
TASK_ALIVE = 1
TASK_DEAD = 2
TASK_STOPPED = 3
TASK_ZOMBIE = 6

AUDIT_UNSET = 0xFFFFFFFF


def dump(ctx: DumpContext, task: DumpTask) -> None:
    tc = task.core.tc
    if task.zombie:
        # All a zombie still has: its name and the status its parent reaps.
        tc.task_state = TASK_DEAD
        tc.exit_code = task.exit_code
        tc.comm = proc.read_text(task.pid, "comm")
        return
    st = proc.stat(task.pid)
    tc.task_state = TASK_STOPPED if task.was_stopped else TASK_ALIVE
    tc.exit_code = 0
    tc.flags = st.flags
    tc.comm = proc.read_text(task.pid, "comm")
    tc.personality = int(proc.read_text(task.pid, "personality"), 16)
    tc.oom_score_adj = proc.read_int(task.pid, "oom_score_adj")
    if os.path.exists(f"/proc/{task.pid}/loginuid"):   # absent without audit
        tc.loginuid = proc.read_int(task.pid, "loginuid")
    if task.seized is not None:
        subreaper, pdeath = _ask_inside(task)
        tc.child_subreaper = bool(subreaper)
        task.core.thread_core.pdeath_sig = pdeath
    task.core.thread_core.comm = tc.comm
    for tid in task.threads:
        _dump_sched(task.pid, tid, task.thread_cores[tid].thread_core)
    if task.seized is not None and len(task.threads) > 1:
        # The parent-death signal is per thread too.
        with task.remote_page() as page:
            for tid in task.threads[1:]:
                task.seized.remote_syscall_checked(
                    "prctl", nprctl.PR_GET_PDEATHSIG, page, 0, 0, 0, tid=tid)
                task.thread_cores[tid].thread_core.pdeath_sig = \
                    int.from_bytes(task.seized.read_memory(page, 4),
                                   "little", signed=True)
    ctx.log.info("task %d: comm %r, personality %#x, state %d", task.pid,
                 tc.comm, tc.personality, tc.task_state)


def _dump_sched(pid: int, tid: int, th: object) -> None:
    """Policy (with SCHED_RESET_ON_FORK), priority and nice of a thread,
    all per thread in the kernel, asked from criu."""
    st = proc.stat(pid, tid)
    try:
        policy = os.sched_getscheduler(tid)
        prio = os.sched_getparam(tid).sched_priority
    except OSError:
        policy, prio = st.policy, st.rt_priority
    th.sched_nice = st.nice  # type: ignore[attr-defined]
    th.sched_policy = policy  # type: ignore[attr-defined]
    th.sched_prio = prio  # type: ignore[attr-defined]


def apply_sched(tid: int, th: object) -> None:
    """Set a thread's scheduling as dumped, from outside it (criu's main
    process, once every thread exists): root may for any thread."""
    if not th.HasField("sched_policy"):  # type: ignore[attr-defined]
        return
    policy = th.sched_policy  # type: ignore[attr-defined]
    os.sched_setscheduler(tid, policy,
                          os.sched_param(th.sched_prio))  # type: ignore[attr-defined]
    os.setpriority(os.PRIO_PROCESS, tid, th.sched_nice)  # type: ignore[attr-defined]


def _ask_inside(task: DumpTask) -> tuple[int, int]:
    """(child subreaper flag, parent-death signal): both prctls answer
    through a pointer, so they run in the task on a page mapped for it."""
    seized = task.seized
    with task.remote_page() as page:
        seized.remote_syscall_checked(
            "prctl", nprctl.PR_GET_CHILD_SUBREAPER, page, 0, 0, 0)
        seized.remote_syscall_checked(
            "prctl", nprctl.PR_GET_PDEATHSIG, page + 4, 0, 0, 0)
        data = seized.read_memory(page, 8)
    return (int.from_bytes(data[:4], "little", signed=True),
            int.from_bytes(data[4:], "little", signed=True))


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    tc = task.core.tc
    where = f"task {task.pid}"
    _try(ctx, where, "comm", lambda: _write_self("comm", tc.comm))
    if tc.personality != nfiles.personality():
        _try(ctx, where, "personality",
             lambda: nfiles.personality(tc.personality))
    if tc.HasField("oom_score_adj"):
        _try(ctx, where, "oom_score_adj",
             lambda: _write_self("oom_score_adj", str(tc.oom_score_adj)))
    if (tc.HasField("loginuid") and tc.loginuid != AUDIT_UNSET and
            _read_self("loginuid") != str(tc.loginuid)):
        _try(ctx, where, "loginuid",
             lambda: _write_self("loginuid", str(tc.loginuid)))
    if tc.child_subreaper:
        _try(ctx, where, "child_subreaper",
             lambda: nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 1))
    th = task.core.thread_core
    if th.pdeath_sig and task.ppid == 0:
        # Its parent now is criu: the signal would fire when criu exits.
        ctx.log.warning("%s: parent death signal %d not restored: the "
                        "task's parent is outside the restored tree",
                        where, th.pdeath_sig)
    # The signal itself is set by the restorer, after the credentials.
    # Scheduling is set by criu once all threads exist (apply_sched).


def _read_self(name: str) -> str:
    with open(f"/proc/self/{name}") as f:
        return f.read().strip()


def _write_self(name: str, value: str) -> None:
    with open(f"/proc/self/{name}", "w") as f:
        f.write(value)


def _try(ctx: RestoreContext, where: str, what: str,
         fn: Callable[[], object]) -> None:
    try:
        fn()
    except OSError as e:
        ctx.log.warning("%s: cannot restore %s: %s", where, what,
                        e.strerror or e)
