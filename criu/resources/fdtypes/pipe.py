"""Pipes: pipe_entry in files.img; their size and buffered bytes in
pipes-data.img (an entry per pipe, like CRIU's)."""

from __future__ import annotations

import fcntl
import os
import stat
from typing import Any

from compel.native import files as nfiles
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 2                         # fd_types.PIPE

_DUMP_KEY = "fdtypes.pipe.dump"     # pipe id -> (pipe_data_entry, bytes)
_RESTORE_KEY = "fdtypes.pipe.data"  # pipe id -> (capacity, bytes)


def match(info: proc.FdInfo) -> bool:
    return stat.S_ISFIFO(info.st.st_mode) and info.target.startswith("pipe:[")


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import pipe_data_pb2, pipe_pb2
    pipe_data: dict[int, tuple[Any, bytes]] = ctx.registry.setdefault(
        _DUMP_KEY, {})
    pipe_id = info.st.st_ino
    file_id = files.add_file(ctx, FD_TYPE, pipe=pipe_pb2.pipe_entry(
        id=files.new_id(ctx), pipe_id=pipe_id, flags=files.file_flags(info),
        fown=files.fown()))
    if pipe_id not in pipe_data:
        size, data = peek_pipe(task.pid, info.fd)
        entry = pipe_data_pb2.pipe_data_entry(pipe_id=pipe_id,
                                              bytes=len(data), size=size)
        pipe_data[pipe_id] = (entry, data)
        ctx.log.info("task %d: fd %d: pipe %d holds %d bytes", task.pid,
                     info.fd, pipe_id, len(data))
    return file_id


def peek_pipe(pid: int, fd: int) -> tuple[int, bytes]:
    """(buffer size, contents) of the pipe behind pid's fd, not consumed.

    Opening /proc/PID/fd/N read-only gives criu its own read end of the
    same pipe, whichever end the task holds; tee() then copies the buffered
    bytes into a pipe of ours without taking them from the task's.
    """
    where = files.where(pid, fd)
    try:
        rfd = os.open(f"/proc/{pid}/fd/{fd}",
                      os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: cannot open the pipe: {e.strerror}") from e
    try:
        size = fcntl.fcntl(rfd, nfiles.F_GETPIPE_SZ)
        r2, w2 = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            fcntl.fcntl(w2, nfiles.F_SETPIPE_SZ, size)
            try:
                n = nfiles.tee(rfd, w2, size, 2)  # SPLICE_F_NONBLOCK
            except BlockingIOError:
                n = 0
            chunks = []
            while n > 0:
                chunk = os.read(r2, n)
                chunks.append(chunk)
                n -= len(chunk)
            return size, b"".join(chunks)
        finally:
            os.close(r2)
            os.close(w2)
    except OSError as e:
        raise DumpError(f"{where}: cannot read the pipe's data: "
                        f"{e.strerror}") from e
    finally:
        os.close(rfd)


def dump_finish(ctx: DumpContext) -> None:
    """An entry for every pipe, empty or not, as CRIU writes: it carries
    the pipe's size as well as its bytes."""
    entries = list(ctx.registry.get(_DUMP_KEY, {}).values())
    if entries:
        ctx.images.write("pipes-data.img", entries)


# ------------------------------------------------------------- restore side
def read_data(ctx: RestoreContext, name: str,
              magic: str) -> dict[int, tuple[int, bytes]]:
    """pipe id -> (size, buffered bytes) of a pipes-data.img or
    fifo-data.img (the same entries)."""
    data = {}
    if ctx.images.exists(name):
        for e in ctx.images.entries(name, magic):
            data[e.msg.pipe_id] = (e.msg.size if e.msg.HasField("size")
                                   else 0, bytes(e.extra or b""))
    return data


def refill(fd: int, size: int, data: bytes) -> None:
    """Give a new pipe (or FIFO) the dumped capacity, smaller or larger
    than the default, and the bytes it held (OSError on failure)."""
    want = max(size, len(data))
    if want and want != fcntl.fcntl(fd, nfiles.F_GETPIPE_SZ):
        fcntl.fcntl(fd, nfiles.F_SETPIPE_SZ, want)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def collect(ctx: RestoreContext) -> None:
    ctx.registry[_RESTORE_KEY] = read_data(ctx, "pipes-data.img",
                                           "PIPES_DATA")


def inherit_key(entry: Any) -> str:
    return f"pipe:[{entry.pipe.pipe_id}]"


def shared_key(entry: Any) -> int:
    """Both ends of a pipe are made by one pipe2()."""
    return int(entry.pipe.pipe_id)


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """The end of pipe pe.pipe_id the entry wants, filled with its data.

    The first file of a pipe in this task creates it: opening.made[(PIPE,
    pipe_id)] = [read end, write end, read used, write used], the ends kept
    above the base until the fds are in place; the others receive its ends.
    """
    pe, base = entry.pipe, opening.base
    key = (FD_TYPE, pe.pipe_id)
    if key not in opening.made:
        opening.made[key] = _create(ctx, pe.pipe_id, base,
                                    files.where(task.pid, fd))
        opening.on_close(lambda: _close_ends(opening.made[key]))
    ends = opening.made[key]
    side = 0 if (pe.flags & os.O_ACCMODE) == os.O_RDONLY else 1
    if not ends[2 + side]:
        # The first file of this end is the pipe's own open file description.
        ends[2 + side] = 1
        new = fcntl.fcntl(ends[side], fcntl.F_DUPFD_CLOEXEC, base)
    else:
        # Each further file id is an open file description of its own: a
        # second one of the same end is reopened through /proc.
        new = os.open(f"/proc/self/fd/{ends[side]}",
                      (pe.flags & os.O_ACCMODE) | os.O_CLOEXEC |
                      os.O_NONBLOCK)
    fcntl.fcntl(new, fcntl.F_SETFL, pe.flags & ~files.OPEN_ONLY_FLAGS)
    return new


def _create(ctx: RestoreContext, pipe_id: int, base: int,
            where: str) -> list[int]:
    """A new pipe holding the dumped bytes at the dumped capacity."""
    r, w = (files.above(fd, base) for fd in os.pipe2(os.O_CLOEXEC))
    size, data = ctx.registry[_RESTORE_KEY].get(pipe_id, (0, b""))
    try:
        refill(w, size, data)
    except OSError as e:
        os.close(r)
        os.close(w)
        raise RestoreError(f"{where}: cannot refill pipe {pipe_id}: "
                           f"{e.strerror}") from e
    return [r, w, 0, 0]


def _close_ends(ends: list[int]) -> None:
    for fd in ends[:2]:
        try:
            os.close(fd)
        except OSError:
            pass
