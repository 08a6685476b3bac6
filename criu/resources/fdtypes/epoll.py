"""epoll instances: eventpoll_file_entry in files.img, each watched target
(fd number, events mask, 64-bit data) in its tfd list, as current CRIU
writes them.

Dump reads the targets from /proc/PID/fdinfo/N ("tfd: 5 events: 19 data:
... pos:0 ino:3f0 sdev:d").  The kernel keys a target by (file, fd number)
and restore can only name it by number, so each target must still be the
file at that fd number in the task: kcmp(KCMP_EPOLL_TFD) compares them.  A
target whose fd was closed or reused since EPOLL_CTL_ADD is refused at dump
(CRIU finds such files elsewhere; not done here).

Restore: open() makes an empty epoll (epoll_create1); the targets are
added by post_open(), once every fd of the task is at its number, with
the dumped events and data.  Nested epolls (an epoll watching another)
are filled innermost first, so an epoll is complete when it is added to
its watcher and the watcher's first poll of it sees its real readiness
(rather than relying on the wake-up a later target would send); the
kernel refuses loops, so the nesting has such an order.

Not kept, as with CRIU: whether an edge-triggered target already reported
its readiness (EPOLL_CTL_ADD polls it, so a ready one is reported once
more), and a one-shot target that has fired (disabled: its mask is only
EPOLLONESHOT) comes back armed for EPOLLERR and EPOLLHUP, which the kernel
adds to every EPOLL_CTL_ADD.

An epoll held by several tasks (inherited over fork) is opened once by
criu and inherited; each task's post_open adds the targets through its own
fds, the first one making each and the others finding it there (EEXIST).
That is only right when every task holding the epoll has each target's
file at the target's fd number, which dump checks, refusing otherwise.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import re
from typing import Any

from compel.native import epoll as nepoll
from compel.native import files as nfiles
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 7                         # fd_types.EVENTPOLL
LINK = "anon_inode:[eventpoll]"


@dataclasses.dataclass(frozen=True)
class Target:
    """One watched target as /proc/PID/fdinfo of the epoll shows it."""

    tfd: int
    events: int
    data: int
    pos: int
    ino: int
    sdev: int                       # the kernel's s_dev (major << 20 | minor)


_TFD_RE = re.compile(
    r"tfd:\s*(?P<tfd>\d+)\s+events:\s*(?P<events>[0-9a-fA-F]+)\s+"
    r"data:\s*(?P<data>[0-9a-fA-F]+)"
    r"(?:\s+pos:\s*(?P<pos>-?\d+))?(?:\s+ino:\s*(?P<ino>[0-9a-fA-F]+))?"
    r"(?:\s+sdev:\s*(?P<sdev>[0-9a-fA-F]+))?")


def parse_fdinfo(text: str) -> list[Target]:
    """The targets of an epoll's fdinfo, in the kernel's order (which is
    also the order kcmp's toff counts in)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("tfd:"):
            continue
        m = _TFD_RE.match(line)
        if m is None:
            raise ValueError(f"unexpected epoll fdinfo line: {line!r}")
        out.append(Target(tfd=int(m["tfd"]), events=int(m["events"], 16),
                          data=int(m["data"], 16), pos=int(m["pos"] or 0),
                          ino=int(m["ino"] or "0", 16),
                          sdev=int(m["sdev"] or "0", 16)))
    return out


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


def _read_targets(pid: int, info: proc.FdInfo) -> list[Target]:
    """The targets in the fdinfo files.py read for this fd."""
    try:
        return parse_fdinfo(info.text)
    except ValueError as e:
        raise DumpError(f"{files.where(pid, info.fd)}: epoll: {e}") from e


def _with_toff(targets: list[Target]) -> list[tuple[Target, int]]:
    """Each target with its rank among those of the same fd number."""
    seen: dict[int, int] = {}
    out = []
    for t in targets:
        out.append((t, seen.get(t.tfd, 0)))
        seen[t.tfd] = seen.get(t.tfd, 0) + 1
    return out


def check_targets(pid: int, efd: int, targets: list[Target],
                  holder: int | None = None) -> None:
    """Every target is the file at its fd number in task `holder` (pid,
    the epoll's own task, by default); DumpError naming the first that is
    not."""
    holder = pid if holder is None else holder
    where = f"{files.where(pid, efd)}: epoll"
    if holder != pid:
        where += f" shared with task {holder}"
    for t, toff in _with_toff(targets):
        try:
            same = nepoll.same_target(holder, t.tfd, pid, efd, t.tfd, toff)
        except OSError as e:
            if e.errno == errno.EBADF:
                raise DumpError(
                    f"{where}: target fd {t.tfd} is no longer open in task "
                    f"{holder} (closed since EPOLL_CTL_ADD; the watched "
                    "file lives on elsewhere): not supported") from e
            raise DumpError(f"{where}: target fd {t.tfd}: cannot compare "
                            f"it with the watched file: {e.strerror}") from e
        if not same:
            raise DumpError(
                f"{where}: target fd {t.tfd} of task {holder} is no longer "
                "the watched file (closed and reused since EPOLL_CTL_ADD): "
                "not supported")


def _sharers(ctx: DumpContext, task: DumpTask, fd: int) -> list[int]:
    """The other tasks of the tree that hold this same epoll."""
    out = []
    for other in ctx.tasks:
        if other.pid == task.pid or other.zombie:
            continue
        for ofd in proc.fds(other.pid):
            try:
                if os.readlink(f"/proc/{other.pid}/fd/{ofd}") != LINK:
                    continue
            except OSError:
                continue
            if nfiles.same_file(task.pid, fd, other.pid, ofd):
                out.append(other.pid)
                break
    return out


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import eventpoll_pb2
    targets = _read_targets(task.pid, info)
    check_targets(task.pid, info.fd, targets)
    for other in _sharers(ctx, task, info.fd):
        check_targets(task.pid, info.fd, targets, holder=other)
    file_id = files.new_id(ctx)
    entry = eventpoll_pb2.eventpoll_file_entry(
        id=file_id, flags=files.file_flags(info), fown=files.fown(),
        tfd=[eventpoll_pb2.eventpoll_tfd_entry(
            id=file_id, tfd=t.tfd, events=t.events, data=t.data,
            dev=t.sdev, inode=t.ino, pos=t.pos) for t in targets])
    ctx.log.info("%s: epoll with %d targets", files.where(task.pid, info.fd),
                 len(targets))
    return files.add_file(ctx, FD_TYPE, epfd=entry)


# ------------------------------------------------------------- restore side
def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """An empty epoll with the dumped file flags; post_open fills it."""
    where = files.where(task.pid, fd)
    try:
        new = nepoll.epoll_create1(nepoll.EPOLL_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{where}: {e.strerror}") from e
    fcntl.fcntl(new, fcntl.F_SETFL,
                entry.epfd.flags & ~files.OPEN_ONLY_FLAGS)
    return new


def fill_order(epolls: dict[int, Any],
               alias: dict[int, int] | None = None) -> list[int]:
    """The task's epoll fds (fd -> file_entry, one fd per description),
    each after every epoll it watches: an epoll is complete before it is
    added to its watcher.  alias: further fds of those descriptions ->
    the fd of epolls that stands for them."""
    alias = alias or {}
    order: list[int] = []
    done: set[int] = set()
    visiting: set[int] = set()

    def visit(fd: int) -> None:
        if fd in done or fd in visiting:
            return                  # a loop: the kernel will refuse it
        visiting.add(fd)
        for t in epolls[fd].epfd.tfd:
            inner = alias.get(t.tfd, t.tfd)
            if inner in epolls:
                visit(inner)
        visiting.discard(fd)
        done.add(fd)
        order.append(fd)

    for fd in sorted(epolls):
        visit(fd)
    return order


def post_open(ctx: RestoreContext, task: RestoreTask,
              placed: list[tuple[int, Any]]) -> None:
    """Add every epoll's targets, now that each fd is at its number."""
    fds = {fd for fd, _ in placed}
    epolls: dict[int, Any] = {}
    first: dict[int, int] = {}      # file id -> its first fd
    alias: dict[int, int] = {}
    for fd, entry in placed:
        if entry.type != FD_TYPE:
            continue
        # One description at several fds: filled once, through the first.
        if entry.id in first:
            alias[fd] = first[entry.id]
        else:
            first[entry.id] = fd
            epolls[fd] = entry
    for efd in fill_order(epolls, alias):
        for t in epolls[efd].epfd.tfd:
            where = f"{files.where(task.pid, efd)}: epoll target fd {t.tfd}"
            if t.tfd not in fds:
                raise RestoreError(f"{where}: the task has no such fd in "
                                   "its images")
            try:
                nepoll.epoll_ctl(efd, nepoll.EPOLL_CTL_ADD, t.tfd, t.events,
                                 t.data)
            except FileExistsError:
                # Added by another task holding this epoll, through the
                # same file at the same number (checked at dump).
                continue
            except OSError as e:
                raise RestoreError(f"{where}: cannot add it: "
                                   f"{e.strerror}") from e
        ctx.log.debug("%s: epoll: %d targets added",
                      files.where(task.pid, efd), len(epolls[efd].epfd.tfd))
