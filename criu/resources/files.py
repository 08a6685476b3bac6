"""Open files of a task: fdinfo-ID.img (fd -> file id) and files.img (one
file_entry per open file description).

This module keeps what every kind of file shares: walking /proc/PID/fd,
open file descriptions shared by several fds (dup, fork: kcmp says so; they
get one file id and are restored as one description), fd flags
(close-on-exec), file flags and fown, files.img, and on restore placing the
fds at their numbers above criu's service fds, closing the rest, and
--inherit-fd.  Each kind of file (regular files, pipes, terminals...) is a
module of the fd-type table, criu/resources/fdtypes/, which says what each
kind provides; an fd no kind takes (fanotify, io_uring, ...) makes the dump
fail naming the task, the fd and what it is.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import stat
from types import ModuleType
from typing import Any, Callable, Optional

from compel.native import files as nfiles
from compel.native import pidfd as npidfd
from criu import log
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import fdtypes
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "files"

FD_CLOEXEC = fcntl.FD_CLOEXEC
# Flags the kernel forgets after open(); never reapplied at restore.
OPEN_ONLY_FLAGS = os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_NOCTTY

# task.scratch key: fd -> (proc.FdInfo, file id), filled by dump().
SCRATCH_FDS = "files.fds"

_DUMP_KEY = "files.dump"
_RESTORE_KEY = "files.restore"


def where(pid: int, fd: int) -> str:
    """How messages name an fd of a task."""
    return f"task {pid}: fd {fd}"


# ---------------------------------------------------------------- dump side
@dataclasses.dataclass
class _Seen:
    pid: int
    fd: int
    file_id: int
    kind: int
    dev_ino: tuple[int, int]


@dataclasses.dataclass
class _DumpState:
    """Everything collected over all tasks, written once by dump_finish()."""

    files: list[Any] = dataclasses.field(default_factory=list)  # file_entry
    # Descriptions seen so far, per (dev, inode), in kcmp's order of their
    # struct file (a binary search finds a description in a few kcmps).
    seen: dict[tuple[int, int], list[_Seen]] = dataclasses.field(
        default_factory=dict)


def _state(ctx: DumpContext) -> _DumpState:
    st = ctx.registry.get(_DUMP_KEY)
    if st is None:
        st = ctx.registry[_DUMP_KEY] = _DumpState()
    return st


def fown() -> Any:
    """An empty fown_entry, for a kind's entry; files.dump() fills in the
    description's owner and signal (F_SETOWN, F_SETSIG) afterwards."""
    from images.pb import fown_pb2
    return fown_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)


def _read_fown(pidfd: int, pid: int, fd: int) -> Optional[Any]:
    """The SIGIO owner and signal of pid's fd, read on criu's own copy of
    the description (pidfd_getfd); None when neither is set."""
    from images.pb import fown_pb2
    try:
        copy = npidfd.pidfd_getfd(pidfd, fd)
    except OSError as e:
        raise DumpError(f"{where(pid, fd)}: cannot read its owner: "
                        f"{e.strerror}") from e
    try:
        signum = fcntl.fcntl(copy, nfiles.F_GETSIG)
        owner_type, owner = nfiles.get_owner(copy)
        if not owner and not signum:
            return None
        uid, euid = nfiles.owner_uids(copy) if owner else (0, 0)
    finally:
        os.close(copy)
    return fown_pb2.fown_entry(uid=uid, euid=euid, signum=signum,
                               pid_type=owner_type, pid=owner)


def _kind_entry(entry: Any) -> Any:
    """The kind's own message in a file_entry (reg, pipe, ...)."""
    for field, value in entry.ListFields():
        if field.name not in ("type", "id"):
            return value
    return None


def entry_fown(entry: Any) -> Optional[Any]:
    """A file_entry's fown_entry, if its kind has one."""
    inner = _kind_entry(entry)
    if inner is None or "fown" not in inner.DESCRIPTOR.fields_by_name:
        return None
    return inner.fown


def file_flags(info: proc.FdInfo) -> int:
    """The open file description's flags as imaged: close-on-exec belongs
    to the fd (fdinfo_entry.flags), not to the file."""
    return info.flags & ~os.O_CLOEXEC


def new_id(ctx: DumpContext) -> int:
    """A fresh file id."""
    return ctx.next_id("file")


def add_file(ctx: DumpContext, fd_type: int, **kind_entry: Any) -> int:
    """Put a file_entry in files.img: its type and the kind's own entry
    (reg=..., pipe=..., tty=...), whose id is the file's; return the id."""
    from images.pb import fdinfo_pb2
    (msg,) = kind_entry.values()
    _state(ctx).files.append(fdinfo_pb2.file_entry(type=fd_type, id=msg.id,
                                                   **kind_entry))
    return msg.id


def dump(ctx: DumpContext, task: DumpTask) -> None:
    state = _state(ctx)
    tables: set[int] = ctx.registry.setdefault("files.tables", set())
    if task.ids.files_id in tables:
        # A table shared with its parent (CLONE_FILES): imaged once.
        ctx.log.info("task %d: fd table %d shared, imaged already",
                     task.pid, task.ids.files_id)
        return
    tables.add(task.ids.files_id)
    entries = []
    pidfd = npidfd.pidfd_open(task.pid)
    try:
        for fd in proc.fds(task.pid):
            entries.append(_dump_fd(ctx, state, task, pidfd, fd))
    finally:
        os.close(pidfd)
    ctx.images.write(f"fdinfo-{task.ids.files_id}.img", entries)


def _dump_fd(ctx: DumpContext, state: _DumpState, task: DumpTask,
             pidfd: int, fd: int) -> Any:
    """fd's fdinfo_entry; its description imaged by its kind the first
    time it is seen."""
    from images.pb import fdinfo_pb2
    info = proc.fdinfo(task.pid, fd)
    file_id, fd_type = _shared_with(state, task.pid, info)
    if file_id is None:
        kind = kind_of(task.pid, info)
        file_id, fd_type = kind.dump(ctx, task, info), kind.FD_TYPE
        _remember(state, _Seen(task.pid, fd, file_id, fd_type,
                               (info.st.st_dev, info.st.st_ino)))
        # An O_PATH handle has no owner (and fcntl refuses to say so).
        owner = None if info.flags & os.O_PATH else \
            _read_fown(pidfd, task.pid, fd)
        if owner is not None:
            entry = next(e for e in reversed(state.files) if e.id == file_id)
            fown_entry = entry_fown(entry)
            if fown_entry is None:
                raise DumpError(f"{where(task.pid, fd)}: {info.target}: "
                                "has an owner for SIGIO, which this kind "
                                "of file cannot keep")
            fown_entry.CopyFrom(owner)
    ctx.log.debug("task %d: fd %d: %s -> file id %d", task.pid, fd,
                  info.target, file_id)
    # For the modules after this one (file locks): each fd's fdinfo and
    # the open file description it is, read once.
    task.scratch.setdefault(SCRATCH_FDS, {})[fd] = (info, file_id)
    return fdinfo_pb2.fdinfo_entry(
        id=file_id, fd=fd, type=fd_type,
        flags=FD_CLOEXEC if info.flags & os.O_CLOEXEC else 0)


def _search(seen: list[_Seen], pid: int, fd: int) -> tuple[int, bool]:
    """(index, found) of pid's fd among descriptions in kcmp order: kcmp
    orders struct files (1: less, 2: greater), like CRIU's tree of files."""
    lo, hi = 0, len(seen)
    while lo < hi:
        mid = (lo + hi) // 2
        order = nfiles.kcmp(pid, seen[mid].pid, nfiles.KCMP_FILE, fd,
                            seen[mid].fd)
        if order == 0:
            return mid, True
        if order == 1:
            hi = mid
        elif order == 2:
            lo = mid + 1
        else:                   # no order given: look at every one
            for i, s in enumerate(seen):
                if nfiles.same_file(pid, fd, s.pid, s.fd):
                    return i, True
            return len(seen), False
    return lo, False


def _shared_with(state: _DumpState, pid: int,
                 info: proc.FdInfo) -> tuple[Optional[int], int]:
    """The file id (and kind) of the description behind pid's fd, if an
    fd seen before is the same description."""
    seen = state.seen.get((info.st.st_dev, info.st.st_ino), [])
    at, found = _search(seen, pid, info.fd)
    if found:
        return seen[at].file_id, seen[at].kind
    return None, 0


def _remember(state: _DumpState, new: _Seen) -> None:
    seen = state.seen.setdefault(new.dev_ino, [])
    at, _ = _search(seen, new.pid, new.fd)
    seen.insert(at, new)


def kind_of(pid: int, info: proc.FdInfo) -> ModuleType:
    """The fd-type module that dumps pid's fd; DumpError if none does."""
    kind = fdtypes.matching(info)
    if kind is not None:
        return kind
    if stat.S_ISCHR(info.st.st_mode):
        rdev = info.st.st_rdev
        raise DumpError(f"{where(pid, info.fd)}: {info.target}: character "
                        f"device {os.major(rdev)}:{os.minor(rdev)} is not "
                        "supported yet (only memory devices and, with "
                        "--shell-job, the caller's terminal)")
    if info.target.startswith("anon_inode:"):
        # Name the kind: "io_uring is not supported yet".
        name = info.target[len("anon_inode:"):].strip("[]")
        raise DumpError(f"{where(pid, info.fd)}: {info.target}: {name} is "
                        "not supported yet")
    raise DumpError(f"{where(pid, info.fd)}: {info.target}: this kind of "
                    "file is not supported yet")


def dump_finish(ctx: DumpContext) -> None:
    """Write files.img, then the images of each kind (ghost files, pipe
    data, tty infos)."""
    ctx.images.write("files.img", _state(ctx).files)
    for finish in fdtypes.hooks("dump_finish"):
        finish(ctx)


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class _RestoreState:
    files: dict[int, Any]                   # file id -> file_entry
    # Descriptions criu opened for several tasks: file id -> criu's fd
    # (a service fd every task inherits and dups).
    shared: dict[int, int] = dataclasses.field(default_factory=dict)


def restore_state(ctx: RestoreContext) -> _RestoreState:
    """files.img (and each kind's images, through its collect()), read once
    per restore (before fork or lazily)."""
    st = ctx.registry.get(_RESTORE_KEY)
    if st is None:
        st = _RestoreState({e.id: e for e in ctx.images.read("files.img")})
        for collect in fdtypes.hooks("collect"):
            collect(ctx)
        ctx.registry[_RESTORE_KEY] = st
    return st


def collect(ctx: RestoreContext, service_fds: Any) -> None:
    """In criu, before the tree is forked: files.img and the kinds' images
    read once for every task to inherit, and every open file description
    that more than one task holds opened here, once.

    Who creates, who receives: criu creates what several tasks share and
    every task receives it by inheritance (fork), then dups it into place;
    what one task alone has, that task opens itself.  A kind whose
    descriptions share a kernel object (the two ends of a pipe, the peers
    of a socket pair) names it with shared_key(): when the descriptions of
    one object are spread over several tasks, criu opens all of them, so
    that the object is made once.
    """
    state = restore_state(ctx)
    users: dict[int, list[tuple[RestoreTask, int]]] = {}
    for task in ctx.tasks:
        if not task.alive or task.ids is None or \
                not task.ids.HasField("files_id"):
            continue
        for fi in ctx.images.read(f"fdinfo-{task.ids.files_id}.img"):
            users.setdefault(fi.id, []).append((task, fi.fd))
    shared = _shared_ids(state, users)
    if not shared:
        return
    opening = Opening(service_fds.base)
    inherited = _inherited_fds(ctx, service_fds)
    try:
        for prepare in fdtypes.hooks("prepare"):
            prepare(ctx, ctx.tasks[0], opening)
        for file_id in sorted(shared):
            owner, fd = users[file_id][0]
            entry = state.files.get(file_id)
            if entry is None:
                raise RestoreError(f"{where(owner.pid, fd)}: file id "
                                   f"{file_id} is not in files.img")
            new = above(_open(ctx, owner, entry, fd, inherited, opening),
                        service_fds.base)
            state.shared[file_id] = service_fds.keep(
                new, f"file {file_id}, shared")
            ctx.log.debug("file %d (%s fd %d) opened in criu for %d fds",
                          file_id, f"task {owner.pid}", fd,
                          len(users[file_id]))
    finally:
        opening.close()
        ctx.on_forked(lambda: _drop_shared(state, service_fds))


def _shared_ids(state: _RestoreState,
                users: dict[int, list[tuple[RestoreTask, int]]]) -> set[int]:
    """The file ids criu opens: held by more than one task, or a
    description of an object (shared_key) whose descriptions are held by
    more than one task."""
    out = {fid for fid, us in users.items()
           if len({t.pid for t, _ in us}) > 1}
    by_key: dict[Any, list[int]] = {}
    for fid in users:
        entry = state.files.get(fid)
        if entry is None:
            continue                    # restore() reports it, per task
        kind = fdtypes.by_type(entry.type)
        shared_key = getattr(kind, "shared_key", None)
        key = shared_key(entry) if shared_key is not None else None
        if key is not None:
            by_key.setdefault((entry.type, key), []).append(fid)
    for fids in by_key.values():
        if len({t.pid for fid in fids for t, _ in users[fid]}) > 1:
            out.update(fids)
    return out


def _drop_shared(state: _RestoreState, service_fds: Any) -> None:
    """criu's copies, once every task holds its own (inherited)."""
    for fd in state.shared.values():
        service_fds.forget(fd)
        os.close(fd)
    state.shared.clear()


def reg_file(ctx: RestoreContext, file_id: int) -> Any:
    """The reg_file_entry of a file id (used by fs for cwd/root)."""
    entry = restore_state(ctx).files.get(file_id)
    if entry is None or not entry.HasField("reg"):
        raise RestoreError(f"files.img: no regular file with id {file_id}")
    return entry.reg


@dataclasses.dataclass
class Opening:
    """One task's fds while restore() opens them, as the kinds see it.

    base: criu's service-fd base; what a kind opens is moved at or above it.
    made: objects a kind made for this task, by a key of its choosing (a
    pipe's ends): the first description of one creates it, the others
    receive a dup or a reopen of it.  on_close(fn): fn runs once the fds
    are in place or the restore failed (closing those ends, unlinking
    recreated ghost files).
    """

    base: int
    made: dict[Any, Any] = dataclasses.field(default_factory=dict)
    _closers: list[Callable[[], None]] = dataclasses.field(
        default_factory=list)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def close(self) -> None:
        while self._closers:
            self._closers.pop(0)()


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    """Put every fd of the task at its number, close everything else.

    Runs in the new task.  criu's own fds live at or above the service-fd
    base; everything below it is closed first, then the fds are made in
    increasing order, each at its number: a new fd lands at the lowest
    free number, which is at most the one wanted (every lower one wanted
    is in place), and moves there if it landed in a gap.  So only what
    the kinds keep while opening (a pipe's other end) needs room above the
    base, not every fd of the task.
    """
    state = restore_state(ctx)
    if task.shares_table:
        # Forked with CLONE_FILES: its parent put the fds in place.
        ctx.log.info("task %d: fd table shared with its parent", task.pid)
        return
    if task.ids is None or not task.ids.HasField("files_id"):
        raise RestoreError(f"task {task.pid}: files: no files id in "
                           f"ids-{task.pid}.img or the core image")
    fdinfos = sorted(ctx.images.read(f"fdinfo-{task.ids.files_id}.img"),
                     key=lambda fi: fi.fd)
    base = task.service_fds.base
    too_high = [fi.fd for fi in fdinfos if fi.fd >= base]
    if too_high:
        raise RestoreError(f"task {task.pid}: fd {too_high[0]} is at or "
                           f"above criu's service fds ({base}); raise "
                           "criu's RLIMIT_NOFILE (ulimit -n) and retry")
    log.move_log_fd(base)
    if 0 <= ctx.images.fd < base:
        ctx.images.fd = task.service_fds.keep(ctx.images.fd, "images dir")
    inherited = _inherited_fds(ctx, task.service_fds)
    opening = Opening(base)
    placed: dict[int, int] = {}             # file id -> its first fd
    try:
        for prepare in fdtypes.hooks("prepare"):
            prepare(ctx, task, opening)
        _close_below(base, keep=set(task.service_fds.fds))
        for fi in fdinfos:
            inheritable = not (fi.flags & FD_CLOEXEC)
            if fi.id in placed:             # a dup of one made already
                os.dup2(placed[fi.id], fi.fd, inheritable=inheritable)
                continue
            entry = state.files.get(fi.id)
            if entry is None:
                raise RestoreError(f"task {task.pid}: fd {fi.fd}: file id "
                                   f"{fi.id} is not in files.img")
            if fi.id in state.shared:
                # Opened by criu for every task that holds it.
                new = fcntl.fcntl(state.shared[fi.id], fcntl.F_DUPFD_CLOEXEC,
                                  fi.fd)
            else:
                new = _open(ctx, task, entry, fi.fd, inherited, opening)
            if new != fi.fd:
                os.dup2(new, fi.fd, inheritable=inheritable)
                os.close(new)
            else:
                os.set_inheritable(fi.fd, inheritable)
            placed[fi.id] = fi.fd
            _restore_fown(task, entry, fi.fd)
        _renew_async(placed.values())
    finally:
        opening.close()
        # criu's copies of the shared descriptions too (its children were
        # forked already): a POSIX lock is dropped when its process closes
        # any fd of the file, so none may be closed after the locks.
        _drop_shared(state, task.service_fds)
    pairs = [(fi.fd, state.files[fi.id]) for fi in fdinfos]
    for post_open in fdtypes.hooks("post_open"):
        post_open(ctx, task, pairs)
    ctx.log.info("task %d: restored %d fds", task.pid, len(fdinfos))


def _open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
          inherited: dict[str, int], opening: Opening) -> int:
    """A new fd for file_entry `entry`: criu's own with --inherit-fd, else
    one its kind opens."""
    kind = fdtypes.by_type(entry.type)
    inherit_key = getattr(kind, "inherit_key", None)
    key = inherit_key(entry) if inherit_key is not None else ""
    if key in inherited:
        ctx.log.info("task %d: fd %d: %s inherited from criu", task.pid, fd,
                     key)
        return fcntl.fcntl(inherited[key], fcntl.F_DUPFD_CLOEXEC,
                           opening.base)
    if kind is None:
        raise RestoreError(f"{where(task.pid, fd)}: file type {entry.type} "
                           "is not supported yet")
    return kind.open(ctx, task, entry, fd, opening)


def _renew_async(fds: Any) -> None:
    """O_ASYNC set again on each description's lowest fd, now at its
    number: the kernel names in SIGIO's si_fd the fd O_ASYNC was set
    through, which at open time was a scratch fd above the base."""
    for fd in fds:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        if flags & os.O_ASYNC:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_ASYNC)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)


def _restore_fown(task: RestoreTask, entry: Any, fd: int) -> None:
    """F_SETSIG, and F_SETOWN_EX under the owner's uids (the kernel keeps
    the setter's uids to check each signal against the receiver's)."""
    fown_entry = entry_fown(entry)
    if fown_entry is None or not (fown_entry.pid or fown_entry.signum):
        return
    what = f"task {task.pid}: file {entry.id}"
    try:
        if fown_entry.signum:
            fcntl.fcntl(fd, nfiles.F_SETSIG, fown_entry.signum)
        if fown_entry.pid:
            ruid, euid, suid = os.getresuid()
            os.setresuid(fown_entry.uid, fown_entry.euid, suid)
            try:
                nfiles.set_owner(fd, fown_entry.pid_type, fown_entry.pid)
            finally:
                os.setresuid(ruid, euid, suid)
    except OSError as e:
        raise RestoreError(f"{what}: cannot restore its owner (pid "
                           f"{fown_entry.pid}, signal {fown_entry.signum}): "
                           f"{e.strerror}") from e


INHERIT_RE = re.compile(r"fd\[(\d+)\]:(.+)")


def _inherited_fds(ctx: RestoreContext, service_fds: Any) -> dict[str, int]:
    """--inherit-fd fd[N]:KEY: criu's own fd N (inherited by the new task
    at fork) replaces the dumped file KEY; kept above base from here on."""
    out = ctx.registry.get("files.inherited")
    if out is not None:
        return out
    out = {}
    for spec in ctx.opts.inherit_fds:
        m = INHERIT_RE.fullmatch(spec)
        if m is None:
            raise RestoreError(f"--inherit-fd {spec}: expected fd[N]:KEY")
        fd, key = int(m.group(1)), m.group(2)
        try:
            out[key] = service_fds.keep(
                fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, service_fds.base),
                f"inherited {key}")
        except OSError as e:
            raise RestoreError(f"--inherit-fd {spec}: criu has no fd {fd}: "
                               f"{e.strerror}") from e
    ctx.registry["files.inherited"] = out
    return out


def above(fd: int, base: int) -> int:
    """fd moved at or above base (the old number closed)."""
    if fd >= base:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base)
    os.close(fd)
    return new


def _close_below(base: int, keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd < base and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass    # the listing's own fd, already gone
