"""A task's resource limits (core-PID.img tc.rlimits, 16 entries).

Dump reads /proc/PID/limits: prlimit() on another user's task needs
CAP_SYS_RESOURCE, which root lacks on some systems (this one), while the
limits file is readable.  Restore sets the limits on the new task itself
(setrlimit on oneself needs no capability except to raise a hard limit
above the current one).  A limit that cannot be set is reported in the log
as a warning naming the resource, its value and the reason, and the restore
goes on: CRIU's restorer also ignores setrlimit failures.
"""

from __future__ import annotations

import resource

from criu.dump import proc
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "rlimits"

RLIMIT_NAMES = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc",
                "nofile", "memlock", "as", "locks", "sigpending", "msgqueue",
                "nice", "rtprio", "rttime")
RLIM_INFINITY = proc.RLIM_INFINITY


def dump(ctx: DumpContext, task: DumpTask) -> None:
    from images.pb import core_pb2, rlimit_pb2
    limits = proc.limits(task.pid)
    task.core.tc.rlimits.CopyFrom(core_pb2.task_rlimits_entry(rlimits=[
        rlimit_pb2.rlimit_entry(cur=cur, max=hard) for cur, hard in limits]))


def _show(value: int) -> str:
    return "unlimited" if value == RLIM_INFINITY else str(value)


def _py(value: int) -> int:
    """The resource module spells RLIM_INFINITY as -1."""
    return resource.RLIM_INFINITY if value == RLIM_INFINITY else value


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    tc = task.core.tc
    if not tc.HasField("rlimits"):
        return
    failed = 0
    for res, lim in enumerate(tc.rlimits.rlimits):
        name = RLIMIT_NAMES[res] if res < len(RLIMIT_NAMES) else str(res)
        want = (_py(lim.cur), _py(lim.max))
        try:
            if resource.getrlimit(res) == want:
                continue
            resource.setrlimit(res, want)
        except (OSError, ValueError) as e:
            failed += 1
            kept = _closest(res, lim.cur)
            reason = getattr(e, "strerror", None) or str(e)
            hint = ""
            if isinstance(e, (PermissionError, ValueError)):
                hint = (" (raising a hard limit needs CAP_SYS_RESOURCE, "
                        "which criu lacks here)")
            ctx.log.warning("task %d: rlimit %s: cannot set soft %s hard %s:"
                            " %s%s; set soft %s hard %s instead", task.pid,
                            name, _show(lim.cur), _show(lim.max), reason,
                            hint, *(_show(v) for v in kept))
    if failed:
        ctx.log.warning("task %d: %d rlimits could not be restored exactly",
                        task.pid, failed)


def _closest(res: int, soft: int) -> tuple[int, int]:
    """Keep the hard limit we have, bring the soft one as near as allowed;
    return the (soft, hard) now in force (RLIM_INFINITY spelled as ours)."""
    _, hard = resource.getrlimit(res)
    hard_value = RLIM_INFINITY if hard == resource.RLIM_INFINITY else hard
    new_soft = min(soft, hard_value)
    try:
        resource.setrlimit(res, (_py(new_soft), hard))
    except (OSError, ValueError):
        pass
    cur, hard = resource.getrlimit(res)
    return tuple(RLIM_INFINITY if v == resource.RLIM_INFINITY else v
                 for v in (cur, hard))  # type: ignore[return-value]
