"""A task's resource limits (core-PID.img tc.rlimits, 16 entries).

Dump reads /proc/PID/limits: prlimit() on another user's task needs
CAP_SYS_RESOURCE, which root lacks on some systems (this one), while the
limits file is readable.

Restore hands the limits to the restorer blob, which sets them on the task
itself once the target's memory is in place, as CRIU's restorer does: set
here, a low RLIMIT_AS, RLIMIT_DATA or RLIMIT_NOFILE of the target would
make criu's own remaining work in the new task fail (mapping the restorer,
opening /proc files).  Lowering a limit of oneself needs no capability;
raising a hard limit does (CAP_SYS_RESOURCE), so this hook raises the hard
limits that need it right away, and a limit that cannot be raised is
reported in the log as a warning naming the resource, its value and the
reason, and set as close as allowed: the restore goes on (CRIU's restorer
also ignores setrlimit failures).
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
    plan = []
    failed = 0
    for res, lim in enumerate(tc.rlimits.rlimits):
        cur, hard = _reachable(ctx, task, res, lim.cur, lim.max)
        if (cur, hard) != (lim.cur, lim.max):
            failed += 1
        plan.append(dict(resource=res, cur=cur, max=hard))
    task.restorer_args.rlimits = plan
    if failed:
        ctx.log.warning("task %d: %d rlimits could not be restored exactly",
                        task.pid, failed)


def _kernel(value: int) -> int:
    """RLIM_INFINITY as the image spells it (the resource module: -1)."""
    return RLIM_INFINITY if value == resource.RLIM_INFINITY else value


def _reachable(ctx: RestoreContext, task: RestoreTask, res: int, cur: int,
               hard: int) -> tuple[int, int]:
    """The (soft, hard) the blob will set for resource res: the dumped
    values, once the hard limit is raised here if it must be; if it cannot
    be, the hard limit in force and the soft one as near as allowed."""
    name = RLIMIT_NAMES[res] if res < len(RLIMIT_NAMES) else str(res)
    now_cur, now_hard = (_kernel(v) for v in resource.getrlimit(res))
    if cur > hard:
        reason, hint = "soft limit above hard limit", ""
    elif hard <= now_hard:
        return cur, hard                # lowering: the blob does it
    else:
        try:
            # Raise the hard limit only: criu's own soft limit stays.
            resource.setrlimit(res, (_py(now_cur), _py(hard)))
            return cur, hard
        except (OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            hint = (" (raising a hard limit needs CAP_SYS_RESOURCE, which "
                    "criu lacks here)")
    kept = (min(cur, now_hard), now_hard)
    ctx.log.warning("task %d: rlimit %s: cannot set soft %s hard %s: %s%s; "
                    "set soft %s hard %s instead", task.pid, name,
                    _show(cur), _show(hard), reason, hint,
                    *(_show(v) for v in kept))
    return kept
