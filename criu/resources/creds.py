"""A task's credentials: uids, gids, groups, capabilities, securebits
(core-PID.img thread_core.creds, as current CRIU stores them).

Dump reads /proc/PID/status (ids, groups, capability sets) and asks the
task itself for its securebits (prctl(PR_GET_SECUREBITS) run inside it by
compel).  Restore cannot apply them from Python: dropping root before the
restorer blob has mapped the target's memory would leave it unable to, so
the entry goes to the restorer, which applies it last, as CRIU does.
"""

from __future__ import annotations

from typing import Any

from compel.native import prctl as nprctl
from criu.dump import proc
from criu.errors import DumpError
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "creds"
FOR_ZOMBIES = True
CAP_WORDS = 2           # capabilities are stored as u32 words, low first


def _cap_words(hex_text: str) -> list[int]:
    value = int(hex_text, 16)
    return [(value >> (32 * i)) & 0xFFFFFFFF for i in range(CAP_WORDS)]


def from_status(pid: int, status: dict[str, str]) -> Any:
    """A creds_entry from /proc/PID/status (secbits left 0)."""
    from images.pb import creds_pb2
    try:
        uid, euid, suid, fsuid = (int(x) for x in status["Uid"].split())
        gid, egid, sgid, fsgid = (int(x) for x in status["Gid"].split())
        groups = [int(x) for x in status.get("Groups", "").split()]
        entry = creds_pb2.creds_entry(
            uid=uid, gid=gid, euid=euid, egid=egid, suid=suid, sgid=sgid,
            fsuid=fsuid, fsgid=fsgid, groups=groups, secbits=0,
            cap_inh=_cap_words(status["CapInh"]),
            cap_prm=_cap_words(status["CapPrm"]),
            cap_eff=_cap_words(status["CapEff"]),
            cap_bnd=_cap_words(status["CapBnd"]))
        if "CapAmb" in status:
            entry.cap_amb.extend(_cap_words(status["CapAmb"]))
        # CRIU 4.x keeps the thread's NoNewPrivs here (set only when on);
        # thread_core_entry.no_new_privs says the same for our restore.
        if status.get("NoNewPrivs", "0").strip() == "1":
            entry.no_new_privs = 1
    except (KeyError, ValueError) as e:
        raise DumpError(f"task {pid}: creds: cannot parse /proc/{pid}/status:"
                        f" {e}") from e
    return entry


def dump(ctx: DumpContext, task: DumpTask) -> None:
    if task.zombie:
        # Who it died as: its parent sees that (e.g. reading its exit
        # status in /proc needs the same user).
        task.core.thread_core.creds.CopyFrom(
            from_status(task.pid, proc.status(task.pid)))
        return
    for tid in task.threads:
        # Credentials are per thread in the kernel: threads may differ.
        entry = from_status(task.pid, proc.status(task.pid, tid))
        entry.secbits = _securebits(task, tid)
        task.thread_cores[tid].thread_core.creds.CopyFrom(entry)
        ctx.log.info("task %d: thread %d: uid %d gid %d euid %d egid %d, "
                     "%d groups", task.pid, tid, entry.uid, entry.gid,
                     entry.euid, entry.egid, len(entry.groups))


def _securebits(task: DumpTask, tid: int) -> int:
    """The thread's securebits, which /proc does not show."""
    if task.seized is None:
        raise DumpError(f"task {task.pid}: creds: the task is not seized, "
                        "cannot read its securebits")
    ret = task.seized.remote_syscall("prctl", nprctl.PR_GET_SECUREBITS,
                                     0, 0, 0, 0, tid=tid)
    if ret < 0:
        raise DumpError(f"task {task.pid}: thread {tid}: creds: "
                        f"prctl(PR_GET_SECUREBITS) in the thread failed "
                        f"with {ret}")
    return ret


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    """Hand each thread's credentials to the restorer, which applies them
    in that thread, last."""
    creds = {}
    for tid in task.threads:
        tc = task.thread_cores[tid].thread_core
        if not tc.HasField("creds"):
            if tid == task.pid:
                ctx.log.warning("task %d: no creds in the core image; the "
                                "task keeps criu's", task.pid)
            continue
        creds[tid] = tc.creds
    task.restorer_args.creds = creds


def apply_here(creds: Any) -> None:
    """Become creds in this (Python) process: for a zombie, which exits
    before any restorer could apply them."""
    import os
    os.setgroups(list(creds.groups))
    os.setresgid(creds.gid, creds.egid, creds.sgid)
    os.setresuid(creds.uid, creds.euid, creds.suid)
    # The uid change made it non-dumpable, and the kernel keeps a dead
    # task's dumpability: its exit status in /proc would be hidden from
    # its own user.  /proc shows nothing of a zombie's (a dead task has no
    # mm), so it gets the default of a process that never changed ids.
    from compel.native import prctl as nprctl
    nprctl.prctl(nprctl.PR_SET_DUMPABLE, 1)
