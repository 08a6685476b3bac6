"""FIFOs (named pipes): a fifo_entry in files.img with the path as a
regular-file entry (regf_id), and the buffered bytes and size in
fifo-data.img (pipe_data_entry per FIFO, like pipes).

Restore opens the path read-write first: that criu-held reader and writer
let the real open (read-only or write-only) return at once instead of
waiting for a peer, and give a way to put the buffered bytes back before
any task reads.  A FIFO whose name was unlinked is a ghost
(criu.resources.ghost): made again with mkfifo under its old name, opened,
unlinked.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from criu.dump import proc
from criu.errors import RestoreError
from criu.resources import files, ghost
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from criu.resources.fdtypes import pipe, reg

FD_TYPE = 3                         # fd_types.FIFO

_DUMP_KEY = "fdtypes.fifo.dump"     # pipe id -> (pipe_data_entry, bytes)
_RESTORE_KEY = "fdtypes.fifo.data"  # pipe id -> (size, bytes)


def match(info: proc.FdInfo) -> bool:
    return (stat.S_ISFIFO(info.st.st_mode) and
            not info.target.startswith("pipe:["))


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import fifo_pb2, pipe_data_pb2
    where = files.where(task.pid, info.fd)
    flags = files.file_flags(info)
    if ghost.is_ghost(info.target) and info.st.st_nlink == 0:
        regf_id = reg.add_reg_file(ctx, ghost.original_path(info.target),
                                   flags, 0, info.mnt_id, info.st)
        ghost.dump(ctx, where, task.pid, info.fd, regf_id, info.st)
    else:
        reg.check_same_file(where, info)
        regf_id = reg.add_reg_file(ctx, info.target, flags, 0, info.mnt_id,
                                   info.st)
    pipe_id = info.st.st_ino
    data: dict[int, tuple[Any, bytes]] = ctx.registry.setdefault(_DUMP_KEY,
                                                                  {})
    if pipe_id not in data:
        size, buffered = pipe.peek_pipe(task.pid, info.fd)
        data[pipe_id] = (pipe_data_pb2.pipe_data_entry(
            pipe_id=pipe_id, bytes=len(buffered), size=size), buffered)
        ctx.log.info("%s: FIFO %s holds %d bytes", where, info.target,
                     len(buffered))
    return files.add_file(ctx, FD_TYPE, fifo=fifo_pb2.fifo_entry(
        id=files.new_id(ctx), pipe_id=pipe_id, regf_id=regf_id))


def dump_finish(ctx: DumpContext) -> None:
    entries = list(ctx.registry.get(_DUMP_KEY, {}).values())
    if entries:
        ctx.images.write("fifo-data.img", entries)


# ------------------------------------------------------------- restore side
def collect(ctx: RestoreContext) -> None:
    ctx.registry[_RESTORE_KEY] = pipe.read_data(ctx, "fifo-data.img",
                                                "FIFO_DATA")


def shared_key(entry: Any) -> int:
    """One FIFO's bytes are put back once, whoever opens it."""
    return int(entry.fifo.pipe_id)


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    fe, where = entry.fifo, files.where(task.pid, fd)
    regf = files.restore_state(ctx).files.get(
        fe.regf_id if fe.HasField("regf_id") else fe.id)
    if regf is None or not regf.HasField("reg"):
        raise RestoreError(f"{where}: FIFO {fe.id}: no path entry "
                           f"{fe.regf_id} in files.img")
    rfe = regf.reg
    key = (FD_TYPE, fe.pipe_id)
    if key not in opening.made:
        # Above the base: below it, fds are closed and replaced before
        # opening.close() runs.
        holder = files.above(_open_path(ctx, regf, rfe, os.O_RDWR, where),
                             opening.base)
        opening.made[key] = holder
        opening.on_close(lambda: os.close(holder))
        _refill(ctx, holder, fe.pipe_id, rfe.name, where)
    # The holder (a reader and a writer) keeps this open from waiting.
    return _open_path(ctx, regf, rfe, rfe.flags & ~files.OPEN_ONLY_FLAGS,
                      where)


def _open_path(ctx: RestoreContext, regf: Any, rfe: Any, flags: int,
               where: str) -> int:
    remap = ghost.remap_of(ctx, regf.id)
    if remap is not None:
        ghost_rfe = type(rfe)()
        ghost_rfe.CopyFrom(rfe)
        ghost_rfe.flags = flags
        ghost_rfe.pos = 0
        return ghost.open_ghost(ctx, ghost_rfe, remap, where)
    try:
        return os.open(rfe.name, (flags & ~os.O_CREAT) | os.O_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{where}: cannot open FIFO {rfe.name}: "
                           f"{e.strerror}") from e


def _refill(ctx: RestoreContext, holder: int, pipe_id: int, name: str,
            where: str) -> None:
    size, data = ctx.registry[_RESTORE_KEY].get(pipe_id, (0, b""))
    try:
        pipe.refill(holder, size, data)
    except OSError as e:
        raise RestoreError(f"{where}: cannot refill FIFO {name}: "
                           f"{e.strerror}") from e
