"""Regular files, directories and devices (memory devices such as
/dev/null, /dev/zero, /dev/urandom; others with --evasive-devices: regular
files for CRIU): reg_file_entry in
files.img, reopened by path with their flags and position, the size
checked.  Unlinked files still open are ghost files (criu.resources.ghost):
their contents go into the images.
"""

from __future__ import annotations

import os
import stat
from typing import Any, Optional

from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files, ghost
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 1                         # fd_types.REG
MEM_MAJOR = 1                       # /dev/null, /dev/zero, /dev/urandom...


# Terminal majors (virtual consoles and serial lines, /dev/tty, /dev/ptmx
# and /dev/console, pty masters, pty slaves): the tty kind's, not files.
TERMINAL_MAJORS = frozenset([4, 5, *range(128, 144)])


def match(info: proc.FdInfo) -> bool:
    mode = info.st.st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISBLK(mode):
        return True
    return (stat.S_ISCHR(mode) and
            os.major(info.st.st_rdev) not in TERMINAL_MAJORS)


def _check_device(ctx: DumpContext, where: str, info: proc.FdInfo) -> None:
    """Memory devices (/dev/null, /dev/zero...) reopen to the same thing
    anywhere; any other device only with --evasive-devices, which says
    that opening its path again is good enough (as in CRIU)."""
    mode, rdev = info.st.st_mode, info.st.st_rdev
    if stat.S_ISCHR(mode) and os.major(rdev) == MEM_MAJOR:
        return
    if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and \
            not ctx.opts.evasive_devices:
        kind = "character" if stat.S_ISCHR(mode) else "block"
        raise DumpError(f"{where}: {info.target}: {kind} device "
                        f"{os.major(rdev)}:{os.minor(rdev)} cannot be "
                        "restored as it is; --evasive-devices reopens it "
                        "by path")


def _size_matters(flags: int) -> bool:
    """Whether restore insists on the dumped size (CRIU's rule): not for a
    write-only append file, a log others may keep writing to."""
    return not ((flags & os.O_ACCMODE) == os.O_WRONLY and
                flags & os.O_APPEND)


def add_reg_file(ctx: DumpContext, path: str, flags: int, pos: int = 0,
                 mnt_id: int = -1, st: Optional[os.stat_result] = None) -> int:
    """Add a regular-file entry to files.img; return its id.

    Also used by the fs resource for cwd and root, which CRIU images as
    regular files (directories) referenced by id, by memory for the exe
    and mapped files, and by ttys for their path.
    """
    from images.pb import regfile_pb2
    rfe = regfile_pb2.reg_file_entry(id=files.new_id(ctx), flags=flags,
                                     pos=pos, fown=files.fown(), name=path,
                                     mnt_id=mnt_id)
    if st is not None:
        rfe.mode = st.st_mode
        if stat.S_ISREG(st.st_mode) and _size_matters(flags):
            rfe.size = st.st_size
    return files.add_file(ctx, FD_TYPE, reg=rfe)


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    where = files.where(task.pid, info.fd)
    if not info.target.startswith("/"):
        raise DumpError(f"{where}: {info.target}: no path to reopen")
    if ghost.is_ghost(info.target) and info.st.st_nlink == 0:
        file_id = add_reg_file(ctx, ghost.original_path(info.target),
                               files.file_flags(info), info.pos, info.mnt_id,
                               info.st)
        ghost.dump(ctx, where, task.pid, info.fd, file_id, info.st)
        return file_id
    if ghost.is_ghost(info.target) and stat.S_ISREG(info.st.st_mode) and \
            not os.path.exists(info.target):
        path = ghost.original_path(info.target)
        if not ctx.opts.link_remap:
            raise DumpError(f"{where}: {path}: deleted, but still linked "
                            f"elsewhere ({info.st.st_nlink} links): use "
                            "--link-remap")
        file_id = add_reg_file(ctx, path, files.file_flags(info), info.pos,
                               info.mnt_id, info.st)
        ghost.dump_linked(ctx, where, task.pid, info.fd, file_id, path,
                          lambda link: add_reg_file(ctx, link, os.O_RDONLY))
        return file_id
    check_same_file(where, info)
    _check_device(ctx, where, info)
    return add_reg_file(ctx, info.target, files.file_flags(info), info.pos,
                        info.mnt_id, info.st)


def check_same_file(where: str, info: proc.FdInfo) -> None:
    """The path must still name the open file, or restore would reopen
    another one (a deleted file still linked elsewhere: --link-remap)."""
    try:
        st = os.stat(info.target)
    except OSError as e:
        raise DumpError(f"{where}: {info.target}: the path no longer "
                        f"leads to the open file ({e.strerror})") from e
    if (st.st_dev, st.st_ino) != (info.st.st_dev, info.st.st_ino):
        raise DumpError(f"{where}: {info.target}: the path now names "
                        "another file (the open one was renamed or "
                        "replaced)")


def dump_finish(ctx: DumpContext) -> None:
    ghost.dump_finish(ctx)


# ------------------------------------------------------------- restore side
def prepare(ctx: RestoreContext, task: RestoreTask,
            opening: files.Opening) -> None:
    # Ghost files recreated for the task's fds are unlinked again once
    # every fd is open, or on failure.
    opening.on_close(lambda: ghost.unlink_all(ctx))


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    where = files.where(task.pid, fd)
    remap = ghost.remap_of(ctx, entry.id)
    if remap is not None:
        return ghost.open_ghost(ctx, entry.reg, remap, where)
    return open_reg(entry.reg, where)


def inherit_key(entry: Any) -> str:
    return entry.reg.name


def open_reg(rfe: Any, where: str) -> int:
    """Reopen a regular file (or directory, or memory device) as dumped."""
    flags = (rfe.flags & ~files.OPEN_ONLY_FLAGS) | os.O_CLOEXEC
    try:
        fd = os.open(rfe.name, flags)
    except OSError as e:
        raise RestoreError(f"{where}: cannot open {rfe.name}: "
                           f"{e.strerror}") from e
    try:
        st = os.fstat(fd)
        if (rfe.HasField("size") and stat.S_ISREG(st.st_mode) and
                st.st_size != rfe.size):
            raise RestoreError(f"{where}: {rfe.name} has size {st.st_size}, "
                               f"it had {rfe.size} at dump")
        if rfe.pos and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            os.lseek(fd, rfe.pos, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
