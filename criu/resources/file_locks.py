"""File locks held by the tree: flock(), POSIX (fcntl F_SETLK) and OFD
(F_OFD_SETLK) locks, in filelocks.img (file_lock_entry: kind, type, the
task that takes it again, the fd it is taken through, range).

Dump reads each fd's locks from its fdinfo ("lock:" lines, which name the
locks set through that open file description, and for POSIX locks only
the owner's); a lock is imaged once, for the first task and fd that show
it.  Like CRIU, a tree holding locks is refused unless --file-locks says
the locks are to be dumped (a lock is usually a promise to other programs
that the restore must keep).  Restore takes every lock again inside its
task once the fds are in place, without waiting: a lock someone else took
meanwhile fails the restore with one line.

Leases (F_SETLEASE) are imaged like CRIU's: flag FL_LEASE, type F_RDLCK
or F_WRLCK, taken again with F_SETLEASE through the same fd by the task
that holds the description, before its creds are applied (a lease needs
the file's owner or CAP_LEASE).  F_SETLEASE makes the caller the SIGIO
owner of the description, so the owner restored before is put back.  A
lease being broken (fdinfo "BREAKING", CRIU's LEASE_BREAKING bit) is
refused at dump in one line: CRIU takes the lease and then opens the file
a conflicting way to start breaking it again, which this implementation
does not do.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from typing import Any, Optional

from compel.native import files as nfiles
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "file_locks"

# file_lock_entry.flag and .type (CRIU's values).
FL_POSIX = 1
FL_FLOCK = 2
FL_OFD = 4
FL_LEASE = 8
F_RDLCK = 0
F_WRLCK = 1
F_SETLEASE = 1024
LEASE_BREAKING = 4      # CRIU's bit in .type for a lease being broken

_KINDS = {"POSIX": FL_POSIX, "FLOCK": FL_FLOCK, "OFDLCK": FL_OFD,
          "LEASE": FL_LEASE}
_TYPES = {"READ": F_RDLCK, "WRITE": F_WRLCK}
_DUMP_KEY = "file_locks.dump"


@dataclasses.dataclass(frozen=True)
class LockLine:
    """One "lock:" line of an fdinfo."""

    kind: str           # POSIX, FLOCK, OFDLCK, LEASE...
    mode: str           # ADVISORY, MANDATORY, BREAKING...
    type: str           # READ, WRITE, UNLCK
    pid: int            # the owner (-1 for OFD locks)
    start: int
    end: Optional[int]  # None: to the end of the file

    @property
    def length(self) -> int:
        return 0 if self.end is None else self.end - self.start + 1


def parse_locks(fdinfo_text: str) -> list[LockLine]:
    """The locks of an fdinfo; lines of tasks waiting for one ("->") are
    not locks held."""
    out = []
    for line in fdinfo_text.splitlines():
        if not line.startswith("lock:") or "->" in line:
            continue
        words = line.split(":", 2)[2].split()
        # KIND MODE TYPE PID MAJ:MIN:INO START END
        if len(words) < 7:
            raise ValueError(f"unexpected lock line {line!r}")
        end = None if words[6] == "EOF" else int(words[6])
        out.append(LockLine(words[0], words[1], words[2], int(words[3]),
                            int(words[5]), end))
    return out


def dump(ctx: DumpContext, task: DumpTask) -> None:
    from images.pb import file_lock_pb2
    taken: dict[Any, Any] = ctx.registry.setdefault(_DUMP_KEY, {})
    fds = task.scratch.get(files.SCRATCH_FDS, {})
    for fd, (info, file_id) in sorted(fds.items()):
        where = f"{files.where(task.pid, fd)}: {info.target}"
        try:
            locks = parse_locks(info.text)
        except ValueError as e:
            raise DumpError(f"{where}: {e}") from e
        for lock in locks:
            if lock.kind == "LEASE" and lock.mode != "ACTIVE":
                raise DumpError(f"{where}: holds a lease being broken "
                                f"({lock.mode}, to {lock.type}): leases "
                                "being broken are not supported")
            if lock.kind not in _KINDS or lock.type not in _TYPES:
                raise DumpError(f"{where}: a {lock.kind} {lock.type} lock "
                                "is not supported yet")
            if not ctx.opts.file_locks:
                raise DumpError(f"{where}: holds a {lock.kind} lock; use "
                                "--file-locks to dump it")
            if lock.kind == "POSIX":
                # The process's own: fcntl locks belong to a process.
                key: Any = ("POSIX", lock.pid, info.st.st_dev,
                            info.st.st_ino, lock.start, lock.end)
                pid = lock.pid
            else:
                # The description's (flock, OFD locks, leases): whoever
                # holds it takes it again.
                key = (lock.kind, file_id, lock.start, lock.end)
                pid = task.pid
            if key in taken:
                continue
            taken[key] = file_lock_pb2.file_lock_entry(
                flag=_KINDS[lock.kind], type=_TYPES[lock.type], pid=pid,
                fd=fd, start=lock.start, len=lock.length)
            ctx.log.info("%s: %s %s lock [%d, %s]", where, lock.kind,
                         lock.type, lock.start,
                         "EOF" if lock.end is None else lock.end)


def dump_finish(ctx: DumpContext) -> None:
    taken = ctx.registry.get(_DUMP_KEY)
    if taken:
        ctx.images.write("filelocks.img", list(taken.values()))


# ------------------------------------------------------------- restore side
def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    """This task's locks, taken through its fds (now in place)."""
    if not ctx.images.exists("filelocks.img"):
        return
    for fle in ctx.images.read("filelocks.img"):
        if fle.pid == task.pid:
            _take(task, fle)


def _take(task: RestoreTask, fle: Any) -> None:
    where = files.where(task.pid, fle.fd)
    kind = {v: k for k, v in _KINDS.items()}.get(fle.flag & 0xF, "?")
    try:
        if fle.flag & FL_FLOCK:
            op = fcntl.LOCK_EX if fle.type == F_WRLCK else fcntl.LOCK_SH
            fcntl.flock(fle.fd, op | fcntl.LOCK_NB)
        elif fle.flag & FL_POSIX:
            nfiles.set_lock(fle.fd, fcntl.F_SETLK, fle.type, fle.start,
                            fle.len)
        elif fle.flag & FL_OFD:
            nfiles.set_lock(fle.fd, nfiles.F_OFD_SETLK, fle.type, fle.start,
                            fle.len)
        elif fle.flag & FL_LEASE:
            _take_lease(task, fle)
        else:
            raise RestoreError(f"{where}: lock kind {fle.flag:#x} is not "
                               "supported")
    except OSError as e:
        why = ("the file is open elsewhere in a conflicting way now?"
               if fle.flag & FL_LEASE else "another process holds it now?")
        raise RestoreError(f"{where}: cannot take its {kind} lock again "
                           f"({os.strerror(e.errno) if e.errno else e}: "
                           f"{why})") from e


def _take_lease(task: RestoreTask, fle: Any) -> None:
    """F_SETLEASE through the fd; the SIGIO owner it sets is put back."""
    where = files.where(task.pid, fle.fd)
    if fle.type & LEASE_BREAKING or fle.type not in (F_RDLCK, F_WRLCK):
        raise RestoreError(f"{where}: lease type {fle.type:#x} is not "
                           "supported (a lease being broken?)")
    owner = nfiles.get_owner(fle.fd)
    fcntl.fcntl(fle.fd, F_SETLEASE, fle.type)
    if owner[1]:
        nfiles.set_owner(fle.fd, owner[0], owner[1])
