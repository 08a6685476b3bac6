"""The process tree: pstree.img (pid, ppid, pgid, sid, threads of every
task) on dump; the session and process group of each new task on restore.

A tree whose root is not a session leader was started from a shell: like
CRIU, dump refuses it unless --shell-job says the session (and its
terminal) stays outside, and restore then keeps criu's own session.
"""

from __future__ import annotations

import os

from criu.errors import DumpError, RestoreError
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "pstree"
FOR_ZOMBIES = True


def dump(ctx: DumpContext, task: DumpTask) -> None:
    """A session or group led from outside the tree belongs to a shell
    (--shell-job); one whose leader is dead is made again at restore with
    a helper task, as CRIU does."""
    pids = {t.pid for t in ctx.tasks}
    if task.pid == ctx.root_pid and task.sid != task.pid:
        if _leader_outside(task.sid, pids) and not ctx.opts.shell_job:
            raise DumpError(f"task {task.pid}: not a session leader (its "
                            f"session {task.sid} is outside the dumped "
                            "tree); use --shell-job")
    if task.pgid != task.sid and _leader_outside(task.pgid, pids) and \
            not ctx.opts.shell_job:
        raise DumpError(f"task {task.pid}: its process group {task.pgid} is "
                        "outside the dumped tree; use --shell-job")


def _leader_outside(pid: int, pids: set[int]) -> bool:
    """Whether pid, a session or group id, is a live task not dumped."""
    return pid not in pids and os.path.exists(f"/proc/{pid}")


def dump_finish(ctx: DumpContext) -> None:
    """pstree.img, parents before children (the order restore forks in)."""
    from images.pb import pstree_pb2
    ctx.images.write("pstree.img", [
        pstree_pb2.pstree_entry(pid=t.pid, ppid=t.ppid, pgid=t.pgid,
                                sid=t.sid, threads=t.threads)
        for t in ctx.tasks])


def enter_session(ctx: RestoreContext, task: RestoreTask) -> None:
    """Right after the task is forked, before its children are: a session
    leader starts its session, a group leader its group, so that the
    children inherit them as they did."""
    pids = {t.pid for t in ctx.tasks}
    where = f"task {task.pid}"
    try:
        if task.sid == task.pid:
            if os.getsid(0) != task.pid:
                os.setsid()
        elif task.sid not in pids and not ctx.opts.shell_job:
            raise RestoreError(f"{where}: its session {task.sid} is outside "
                               "the restored tree; use --shell-job")
        if task.pgid == task.pid and os.getpgid(0) != task.pid:
            os.setpgid(0, 0)
    except OSError as e:
        raise RestoreError(f"{where}: cannot restore session {task.sid}: "
                           f"{e.strerror}") from e
    # The session's controlling terminal, taken by its leader now: only
    # the children forked from here on inherit it (the tty kind).
    from criu.resources import fdtypes
    for hook in fdtypes.hooks("enter_session"):
        hook(ctx, task)


def join_group(ctx: RestoreContext, task: RestoreTask) -> None:
    """Once every task exists (its group's leader may be a cousin forked
    after it): join the dumped process group."""
    pids = {t.pid for t in ctx.tasks}
    where = f"task {task.pid}"
    if task.pgid != task.pid and task.pgid in pids and \
            os.getpgid(0) != task.pgid:
        try:
            os.setpgid(0, task.pgid)
        except OSError as e:
            raise RestoreError(f"{where}: cannot join process group "
                               f"{task.pgid}: {e.strerror}") from e
    ctx.log.debug("%s: sid %d pgid %d", where, os.getsid(0), os.getpgid(0))


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    """The pipeline joins the process group between its stages (see
    criu/restore/pipeline.py); nothing is left for this hook."""
