"""Seizing a process tree: every task from the root down, frozen under
ptrace, re-scanned until no task appears any more.

Top-down order makes the walk converge: a seized task cannot fork, so once
a parent is frozen its list of children only changes through children not
yet seized; the walk seizes those next and reads their children in turn.
A last pass over every seized task's children catches what was forked
while the walk went on.  Zombies cannot be traced: they are recorded from
/proc (pgid, sid, exit code) and recreated as zombies at restore.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import compel
from compel import proc as cproc
from compel.errors import CompelError, ZombieTaskError
from criu.dump import proc
from criu.errors import DumpError
from criu.resources.base import DumpContext, DumpTask


def seize_tree(ctx: DumpContext, new_core: Callable[[], Any],
               infect: Callable[[Any], Any]) -> None:
    """Fill ctx.tasks (root first, parents before children)."""
    root = ctx.root_pid
    if not os.path.exists(f"/proc/{root}"):
        raise DumpError(f"task {root}: no such process")
    if root == os.getpid():
        raise DumpError(f"task {root}: criu cannot dump itself")
    queue: list[tuple[int, int]] = [(root, 0)]
    known: set[int] = set()
    while True:
        while queue:
            pid, ppid = queue.pop(0)
            if pid in known:
                continue
            task = _seize_one(ctx, pid, ppid, new_core, infect)
            known.add(pid)
            ctx.tasks.append(task)
            queue += [(kid, pid) for kid in _children(task)]
        # Forked while the walk went on (by tasks seized after their parent
        # read its list): one more look at everybody, until nothing is new.
        queue = [(kid, t.pid) for t in ctx.tasks for kid in _children(t)
                 if kid not in known]
        if not queue:
            break
    for task in ctx.tasks:
        task.children = [k for k in _children(task)]
    ctx.log.info("Seized %d task(s): %s", len(ctx.tasks),
                 ", ".join(str(t.pid) for t in ctx.tasks))


def _children(task: DumpTask) -> list[int]:
    try:
        return proc.children(task.pid)
    except DumpError:
        if task.zombie:
            return []
        raise


def _seize_one(ctx: DumpContext, pid: int, ppid: int,
               new_core: Callable[[], Any],
               infect: Callable[[Any], Any]) -> DumpTask:
    if pid == os.getpid():
        raise DumpError(f"task {pid}: criu itself is in the tree of "
                        f"{ctx.root_pid}")
    if _leader_gone(pid):
        raise DumpError(f"task {pid}: its leader thread has exited while "
                        "other threads run on: not supported yet")
    if _in_vfork(pid):
        raise DumpError(f"task {pid}: is waiting in vfork() for its child, "
                        "which shares its memory: not supported yet")
    try:
        seized = compel.seize(pid)
    except ZombieTaskError:
        return _zombie(ctx, pid, ppid, new_core)
    except CompelError as e:
        if ctx.tasks:
            raise DumpError(f"{e}") from e
        raise DumpError(f"{e} (nothing was changed)") from e
    st = proc.stat(pid)
    task = DumpTask(pid=pid, ppid=ppid, pgid=st.pgid, sid=st.sid,
                    threads=sorted(seized.threads), core=new_core(),
                    seized=seized, was_stopped=seized.was_stopped)
    task.threads.remove(seized.main_tid)
    task.threads.insert(0, seized.main_tid)
    task.thread_cores = {tid: (task.core if tid == pid else new_core())
                         for tid in task.threads}
    task._infect = lambda: infect(seized)
    ctx.log.info("Seized task %d (%d thread%s)", pid, len(task.threads),
                 "" if len(task.threads) == 1 else "s")
    return task


def _leader_gone(pid: int) -> bool:
    """A zombie leader thread with live threads (pthread_exit in main)."""
    try:
        st = cproc.status(pid)
    except CompelError:
        return False
    return st.get("State", "?")[:1] == "Z" and int(st.get("Threads", "1")) > 1


def _in_vfork(pid: int) -> bool:
    """A vfork() parent sleeps unstoppably until its child execs or exits:
    ptrace could never stop it (the dump would hang)."""
    try:
        if cproc.state(pid) != "D":
            return False
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
    except (OSError, CompelError):
        return False
    if "vfork" in wchan:
        return True
    # Or asleep in clone itself (kernel_clone waits for the vfork child):
    # a child sharing its memory says so.
    from compel.native import files as nfiles
    try:
        kids = proc.children(pid)
    except DumpError:
        return False
    for kid in kids:
        try:
            if nfiles.kcmp(pid, kid, nfiles.KCMP_VM) == 0:
                return True
        except OSError:
            continue
    return False


def _zombie(ctx: DumpContext, pid: int, ppid: int,
            new_core: Callable[[], Any]) -> DumpTask:
    """A zombie: nothing to freeze, its exit status is all that is left."""
    if pid == ctx.root_pid:
        raise DumpError(f"task {pid}: is a zombie: nothing to dump")
    st = proc.stat(pid)
    task = DumpTask(pid=pid, ppid=ppid, pgid=st.pgid, sid=st.sid,
                    threads=[pid], core=new_core(), zombie=True,
                    exit_code=_exit_code(pid))
    task.thread_cores = {pid: task.core}
    ctx.log.info("Task %d is a zombie (exit status %#x)", pid,
                 task.exit_code)
    return task


def _exit_code(pid: int) -> int:
    """The wait status a zombie will report (/proc/PID/stat field 52)."""
    text = proc.read_text(pid, "stat")
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[52 - 3])
