"""pidfds (pidfd_open(2), clone's CLONE_PIDFD): pidfd_entry in files.img,
as CRIU writes it: the target's pid (nspid, -1 once the target was
reaped), the pidfs inode number, and the flags (PIDFD_NONBLOCK, and
PIDFD_THREAD, which is O_EXCL, since 6.9; O_RDWR, which every pidfd has,
left out as CRIU does).

Dump reads /proc/PID/fdinfo/N ("Pid:", "NSpid:", "ino:").  A pidfd must
refer to a process of the dumped tree, which restore recreates with its
pid: one of a process outside the tree is refused (as CRIU does: another
process with that pid may be there at restore, or none).  PIDFD_THREAD on
a thread other than the leader is refused too: threads are created by the
restorer blob, after the fds, so nothing could open it at restore.

Restore:
- a live target: pidfd_open(pid, flags) in the task, once the whole tree
  is forked (every task exists before any fd is opened).  A description
  held by several tasks is opened in criu before the tree exists: criu
  places a stand-in (/dev/null) that post_open() replaces in each task by
  a pidfd of the target, at the same fd numbers, close-on-exec kept.  The
  tasks then hold a description each (one pidfd's flags are no longer
  shared with the other task's) but every pidfd refers to the one process.
- a dead target ("Pid: -1"): a short-lived child is spawned (it kills
  itself at once and is reaped once every description is open), and each
  description of that dead process (same pidfs inode: shared_key) is
  pidfd_open()ed on it before it is reaped.  The pidfd then says what the
  dumped one said: readable (exited), ESRCH to pidfd_send_signal, and no
  child to waitid().  The exit status is not kept (our pidfd.proto has no
  field for it): PIDFD_GET_INFO reports SIGKILL, as with CRIU 4.2.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import stat
from typing import Any, Optional

from compel.native import pidfd as npidfd
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 20                        # fd_types.PIDFD
LINKS = ("anon_inode:[pidfd]",)     # pidfs (6.9+) still names it so
OPEN_FLAGS = npidfd.PIDFD_NONBLOCK | npidfd.PIDFD_THREAD
DEAD = -1


@dataclasses.dataclass(frozen=True)
class PidfdInfo:
    """What /proc/PID/fdinfo/N says of a pidfd."""

    pid: int                        # in criu's pid namespace; -1: reaped
    nspids: tuple[int, ...]         # outermost (criu's) first
    ino: int


def parse_fdinfo(text: str) -> PidfdInfo:
    """The target of a pidfd from its fdinfo; ValueError if it has no
    "Pid:" line (not a pidfd, or a kernel that does not say)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Pid" not in fields:
        raise ValueError("no Pid: line in its fdinfo")
    pid = int(fields["Pid"])
    nspids = tuple(int(x) for x in fields.get("NSpid", str(pid)).split())
    return PidfdInfo(pid=pid, nspids=nspids or (pid,),
                     ino=int(fields.get("ino", "0")))


def match(info: proc.FdInfo) -> bool:
    return info.target in LINKS or info.target.startswith("pidfd:")


# ---------------------------------------------------------------- dump side
def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import pidfd_pb2
    where = files.where(task.pid, info.fd)
    try:
        pi = parse_fdinfo(info.text)
    except ValueError as e:
        raise DumpError(f"{where}: pidfd: {e}") from e
    flags = files.file_flags(info) & ~os.O_ACCMODE
    if pi.pid != DEAD:
        _check_target(ctx, where, pi, flags)
    ino = pi.ino or info.st.st_ino
    entry = pidfd_pb2.pidfd_entry(
        id=files.new_id(ctx), ino=ino & 0xFFFFFFFF, flags=flags,
        nspid=pi.pid, fown=files.fown())
    ctx.log.info("%s: pidfd of %s, flags %#o", where,
                 "a reaped process" if pi.pid == DEAD else f"pid {pi.pid}",
                 flags)
    return files.add_file(ctx, FD_TYPE, pidfd=entry)


def _check_target(ctx: DumpContext, where: str, pi: PidfdInfo,
                  flags: int) -> None:
    """The target is a process (or, with PIDFD_THREAD, the leader thread)
    of the dumped tree, which restore recreates at its pid."""
    if len(pi.nspids) > 1:
        raise DumpError(f"{where}: pidfd of pid {pi.pid}: its target is in "
                        "a nested pid namespace, which is not supported yet")
    for t in ctx.tasks:
        if pi.pid == t.pid:
            return
        if pi.pid in t.threads:
            raise DumpError(
                f"{where}: pidfd of thread {pi.pid} of task {t.pid} "
                "(PIDFD_THREAD): not supported yet: threads are made after "
                "the fds on restore, so it could not be opened")
    what = "thread" if flags & npidfd.PIDFD_THREAD else "process"
    raise DumpError(f"{where}: pidfd of {what} {pi.pid}, which is outside "
                    "the dumped tree: not supported (restore could not "
                    "make it refer to that process)")


# ------------------------------------------------------------- restore side
def shared_key(entry: Any) -> Optional[tuple[str, int]]:
    """The pidfds of one reaped process are opened on one stand-in; a live
    target needs no key (pidfd_open of its pid is always the same one)."""
    pe = entry.pidfd
    return ("dead", int(pe.ino)) if pe.nspid == DEAD and pe.ino else None


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    pe, where = entry.pidfd, files.where(task.pid, fd)
    flags = pe.flags & OPEN_FLAGS
    if pe.nspid == DEAD:
        return _open_dead(pe, flags, where, opening)
    if os.getpid() != task.pid:
        # criu's collect phase (a description several tasks hold): the
        # target is not forked yet; post_open() puts the pidfd in place.
        return os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    return _open_live(pe, flags, where)


def _open_live(pe: Any, flags: int, where: str) -> int:
    try:
        return npidfd.pidfd_open(pe.nspid, flags)
    except OSError as e:
        raise RestoreError(f"{where}: cannot open a pidfd of pid "
                           f"{pe.nspid}: {e.strerror}") from e


def _open_dead(pe: Any, flags: int, where: str,
               opening: files.Opening) -> int:
    """A pidfd of a process that has exited and been reaped: opened on a
    child spawned to die, reaped once every description is open (the
    first description of a dead process spawns it, in opening.made)."""
    key = (FD_TYPE, "dead", pe.ino or id(pe))
    if key not in opening.made:
        try:
            pid = npidfd.spawn_dying()
        except OSError as e:
            raise RestoreError(f"{where}: pidfd of a reaped process: cannot "
                               f"spawn a process to stand for it: "
                               f"{e.strerror}") from e
        opening.made[key] = pid
        opening.on_close(lambda: npidfd.reap_dying(pid))
    try:
        return npidfd.pidfd_open(opening.made[key], flags)
    except OSError as e:
        raise RestoreError(f"{where}: pidfd of a reaped process: "
                           f"pidfd_open: {e.strerror}") from e


def post_open(ctx: RestoreContext, task: RestoreTask,
              placed: list[tuple[int, Any]]) -> None:
    """The pidfds criu could not open before the tree existed (open()
    left /dev/null in their place): one pidfd per description, dup2()ed
    at each of its fd numbers, close-on-exec as placed."""
    todo: dict[int, tuple[Any, list[int]]] = {}
    for fd, entry in placed:
        if entry.type != FD_TYPE or entry.pidfd.nspid == DEAD:
            continue
        if not stat.S_ISCHR(os.fstat(fd).st_mode):
            continue                    # a pidfd already
        todo.setdefault(entry.id, (entry, []))[1].append(fd)
    for entry, fds in todo.values():
        pe = entry.pidfd
        new = _open_live(pe, pe.flags & OPEN_FLAGS,
                         files.where(task.pid, fds[0]))
        try:
            for fd in fds:
                cloexec = fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
                os.dup2(new, fd, inheritable=not cloexec)
        finally:
            os.close(new)
        ctx.log.debug("task %d: fds %s: pidfd of pid %d", task.pid, fds,
                      pe.nspid)
