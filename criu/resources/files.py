"""Open files of a task: fdinfo-ID.img (fd -> file id), files.img (one
file_entry per open file description), pipes-data.img, tty-info.img.

Supported kinds, as CRIU images them:
  regular files and directories (path, flags, position; size checked at
  restore), memory character devices (/dev/null, /dev/zero, ... : regular
  files for CRIU), pipes with their buffered data, and with --shell-job the
  terminal of the caller (a pts slave, reattached at restore to criu's own
  terminal, like CRIU's shell jobs).  Anything else (sockets, eventfds,
  unlinked files...) makes the dump fail naming the fd; later issues add
  them as new kinds here.

Two fds share one open file description (dup, fork) when kcmp says so;
they get one file id and are restored as one description.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import stat
import termios
from typing import Any, Optional

from compel.native import files as nfiles
from criu import log
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import ghost
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "files"

# fd_types of fdinfo.proto (facts of CRIU's format).
FD_REG = 1
FD_PIPE = 2
FD_TTY = 11
# TtyType of tty.proto.
TTY_PTY = 1
TTY_CONSOLE = 2
TTY_VT = 3
TTY_CTTY = 4
TTY_SERIAL = 6

FD_CLOEXEC = fcntl.FD_CLOEXEC
MEM_MAJOR = 1                       # /dev/null, /dev/zero, /dev/urandom...
PTS_MAJORS = range(136, 144)        # UNIX98 pty slaves
# Flags the kernel forgets after open(); never reapplied at restore.
OPEN_ONLY_FLAGS = os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_NOCTTY
TERMIOS_NCC = 19                    # the kernel's c_cc size (CRIU stores 19)

_DUMP_KEY = "files.dump"
_RESTORE_KEY = "files.restore"


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
    seen: list[_Seen] = dataclasses.field(default_factory=list)
    pipe_data: dict[int, tuple[Any, bytes]] = dataclasses.field(
        default_factory=dict)
    tty_infos: dict[int, Any] = dataclasses.field(default_factory=dict)


def _state(ctx: DumpContext) -> _DumpState:
    st = ctx.registry.get(_DUMP_KEY)
    if st is None:
        st = ctx.registry[_DUMP_KEY] = _DumpState()
    return st


def _pb() -> tuple[Any, Any, Any, Any, Any, Any]:
    from images.pb import (fdinfo_pb2, fown_pb2, pipe_data_pb2, pipe_pb2,
                           regfile_pb2, tty_pb2)
    return fdinfo_pb2, fown_pb2, pipe_data_pb2, pipe_pb2, regfile_pb2, tty_pb2


def _fown() -> Any:
    _, fown_pb2, *_ = _pb()
    return fown_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)


def _size_matters(flags: int) -> bool:
    """Whether restore insists on the dumped size (CRIU's rule): not for a
    write-only append file, a log others may keep writing to."""
    return not ((flags & os.O_ACCMODE) == os.O_WRONLY and
                flags & os.O_APPEND)


def add_reg_file(ctx: DumpContext, path: str, flags: int, pos: int = 0,
                 mnt_id: int = -1, st: Optional[os.stat_result] = None) -> int:
    """Add a regular-file entry to files.img; return its id.

    Also used by the fs resource for cwd and root, which CRIU images as
    regular files (directories) referenced by id.
    """
    fdinfo_pb2, _, _, _, regfile_pb2, _ = _pb()
    file_id = ctx.next_id("file")
    rfe = regfile_pb2.reg_file_entry(id=file_id, flags=flags, pos=pos,
                                     fown=_fown(), name=path, mnt_id=mnt_id)
    if st is not None:
        rfe.mode = st.st_mode
        if stat.S_ISREG(st.st_mode) and _size_matters(flags):
            rfe.size = st.st_size
    _state(ctx).files.append(fdinfo_pb2.file_entry(type=FD_REG, id=file_id,
                                                   reg=rfe))
    return file_id


def dump(ctx: DumpContext, task: DumpTask) -> None:
    fdinfo_pb2 = _pb()[0]
    state = _state(ctx)
    entries = []
    for fd in proc.fds(task.pid):
        info = proc.fdinfo(task.pid, fd)
        file_id, kind = _shared_with(state, task.pid, info)
        if file_id is None:
            file_id, kind = _dump_file(ctx, task, info)
            state.seen.append(_Seen(task.pid, fd, file_id, kind,
                                    (info.st.st_dev, info.st.st_ino)))
        entries.append(fdinfo_pb2.fdinfo_entry(
            id=file_id, fd=fd, type=kind,
            flags=FD_CLOEXEC if info.flags & os.O_CLOEXEC else 0))
        ctx.log.debug("task %d: fd %d: %s -> file id %d", task.pid, fd,
                      info.target, file_id)
    ctx.images.write(f"fdinfo-{task.ids.files_id}.img", entries)


def _shared_with(state: _DumpState, pid: int,
                 info: proc.FdInfo) -> tuple[Optional[int], int]:
    key = (info.st.st_dev, info.st.st_ino)
    for s in state.seen:
        if s.dev_ino == key and nfiles.same_file(s.pid, s.fd, pid, info.fd):
            return s.file_id, s.kind
    return None, 0


def _dump_file(ctx: DumpContext, task: DumpTask,
               info: proc.FdInfo) -> tuple[int, int]:
    mode = info.st.st_mode
    where = f"task {task.pid}: fd {info.fd}"
    if stat.S_ISCHR(mode) and tty_type(info.st.st_rdev) is not None:
        return _dump_tty(ctx, task, info), FD_TTY
    if stat.S_ISFIFO(mode) and info.target.startswith("pipe:["):
        return _dump_pipe(ctx, task, info), FD_PIPE
    if (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or
            (stat.S_ISCHR(mode) and os.major(info.st.st_rdev) == MEM_MAJOR)):
        if not info.target.startswith("/"):
            raise DumpError(f"{where}: {info.target}: no path to reopen")
        if ghost.is_ghost(info.target) and info.st.st_nlink == 0:
            file_id = add_reg_file(ctx, ghost.original_path(info.target),
                                   info.flags & ~os.O_CLOEXEC, info.pos,
                                   info.mnt_id, info.st)
            ghost.dump(ctx, where, task.pid, info.fd, file_id, info.st)
            return file_id, FD_REG
        _check_same_file(where, info)
        return add_reg_file(ctx, info.target, info.flags & ~os.O_CLOEXEC,
                            info.pos, info.mnt_id, info.st), FD_REG
    if stat.S_ISCHR(mode):
        rdev = info.st.st_rdev
        raise DumpError(f"{where}: {info.target}: character device "
                        f"{os.major(rdev)}:{os.minor(rdev)} is not supported "
                        "yet (only memory devices and, with --shell-job, "
                        "the caller's terminal)")
    raise DumpError(f"{where}: {info.target}: this kind of file is not "
                    "supported yet")


def _check_same_file(where: str, info: proc.FdInfo) -> None:
    """The path must still name the open file, or restore would reopen
    another one (CRIU's link-remap cases are not supported yet)."""
    try:
        st = os.stat(info.target)
    except OSError as e:
        raise DumpError(f"{where}: {info.target}: the path no longer "
                        f"leads to the open file ({e.strerror})") from e
    if (st.st_dev, st.st_ino) != (info.st.st_dev, info.st.st_ino):
        raise DumpError(f"{where}: {info.target}: the path now names "
                        "another file (the open one was renamed or "
                        "replaced)")


def _dump_pipe(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    fdinfo_pb2, _, pipe_data_pb2, pipe_pb2, _, _ = _pb()
    state = _state(ctx)
    file_id = ctx.next_id("file")
    pipe_id = info.st.st_ino
    state.files.append(fdinfo_pb2.file_entry(
        type=FD_PIPE, id=file_id,
        pipe=pipe_pb2.pipe_entry(id=file_id, pipe_id=pipe_id,
                                 flags=info.flags & ~os.O_CLOEXEC,
                                 fown=_fown())))
    if pipe_id not in state.pipe_data:
        size, data = _peek_pipe(task.pid, info.fd)
        entry = pipe_data_pb2.pipe_data_entry(pipe_id=pipe_id,
                                              bytes=len(data), size=size)
        state.pipe_data[pipe_id] = (entry, data)
        ctx.log.info("task %d: fd %d: pipe %d holds %d bytes", task.pid,
                     info.fd, pipe_id, len(data))
    return file_id


def _peek_pipe(pid: int, fd: int) -> tuple[int, bytes]:
    """(buffer size, contents) of the pipe behind pid's fd, not consumed.

    Opening /proc/PID/fd/N read-only gives criu its own read end of the
    same pipe, whichever end the task holds; tee() then copies the buffered
    bytes into a pipe of ours without taking them from the task's.
    """
    where = f"task {pid}: fd {fd}"
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


def tty_type(rdev: int) -> Optional[int]:
    """The TtyType of a terminal device (None: not one we image).

    pty slaves, virtual consoles, serial lines, /dev/tty and /dev/console;
    pty masters (/dev/ptmx, 5:2) need their pair and are not supported yet.
    """
    major, minor = os.major(rdev), os.minor(rdev)
    if major in PTS_MAJORS:
        return TTY_PTY
    if major == 4:
        return TTY_VT if minor < 64 else TTY_SERIAL
    if major == 5 and minor in (0, 1):
        return TTY_CTTY if minor == 0 else TTY_CONSOLE
    return None


def _dump_tty(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    fdinfo_pb2, _, _, _, _, tty_pb2 = _pb()
    where = f"task {task.pid}: fd {info.fd}"
    if not ctx.opts.shell_job:
        raise DumpError(f"{where}: terminal {info.target} belongs to a "
                        "session outside the dumped tree; use --shell-job")
    state = _state(ctx)
    rdev = info.st.st_rdev
    info_id = next((i for i, t in state.tty_infos.items() if t.rdev == rdev),
                   None)
    if info_id is None:
        info_id = ctx.next_id("tty-info")
        state.tty_infos[info_id] = _tty_info(where, task.pid, info, info_id)
    regf_id = add_reg_file(ctx, info.target, info.flags & ~os.O_CLOEXEC, 0,
                           info.mnt_id, info.st)
    file_id = ctx.next_id("file")
    state.files.append(fdinfo_pb2.file_entry(
        type=FD_TTY, id=file_id,
        tty=tty_pb2.tty_file_entry(id=file_id, tty_info_id=info_id,
                                   flags=info.flags & ~os.O_CLOEXEC,
                                   fown=_fown(), regf_id=regf_id)))
    return file_id


def _tty_info(where: str, pid: int, info: proc.FdInfo, info_id: int) -> Any:
    tty_pb2 = _pb()[5]
    rdev = info.st.st_rdev
    kind = tty_type(rdev)
    entry = tty_pb2.tty_info_entry(
        id=info_id, type=kind, locked=False, exclusive=False,
        packet_mode=False, sid=0, pgrp=0, rdev=rdev,
        uid=info.st.st_uid, gid=info.st.st_gid)
    if kind == TTY_PTY:
        index = (os.major(rdev) - PTS_MAJORS.start) * 256 + os.minor(rdev)
        entry.pty.index = index
    if kind == TTY_CTTY:
        # /dev/tty means "my controlling terminal": opened from criu it
        # would be criu's, so there is nothing of the task's to read.
        return entry
    try:
        tfd = os.open(f"/proc/{pid}/fd/{info.fd}", os.O_RDONLY |
                      os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: cannot open terminal {info.target}: "
                        f"{e.strerror}") from e
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(tfd)
        ws = nfiles.get_winsize(tfd)
        entry.sid = _tty_ioctl_or_zero(tfd, nfiles.TIOCGSID)
        entry.pgrp = _tty_ioctl_or_zero(tfd, nfiles.TIOCGPGRP)
    except (OSError, termios.error) as e:
        raise DumpError(f"{where}: cannot read terminal {info.target}: "
                        f"{e}") from e
    finally:
        os.close(tfd)
    c_cc = [c if isinstance(c, int) else ord(c) for c in cc[:TERMIOS_NCC]]
    entry.termios.CopyFrom(tty_pb2.termios_entry(
        c_iflag=iflag, c_oflag=oflag, c_cflag=cflag, c_lflag=lflag,
        c_line=0, c_ispeed=ispeed, c_ospeed=ospeed, c_cc=c_cc))
    entry.winsize.CopyFrom(tty_pb2.winsize_entry(
        ws_row=ws.ws_row, ws_col=ws.ws_col, ws_xpixel=ws.ws_xpixel,
        ws_ypixel=ws.ws_ypixel))
    return entry


def _tty_ioctl_or_zero(fd: int, request: int) -> int:
    """TIOCGSID/TIOCGPGRP; 0 when the terminal has no session (ENOTTY)."""
    try:
        return nfiles.ioctl_int(fd, request)
    except OSError:
        return 0


def dump_finish(ctx: DumpContext) -> None:
    """Write the images shared by all tasks: files, pipe data, tty infos."""
    state = _state(ctx)
    ctx.images.write("files.img", state.files)
    # Like CRIU, only pipes holding data get an entry.
    ghost.dump_finish(ctx)
    with_data = [(e, d) for e, d in state.pipe_data.values() if d]
    if with_data:
        ctx.images.write("pipes-data.img", with_data)
    if state.tty_infos:
        ctx.images.write("tty-info.img", list(state.tty_infos.values()))


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class _RestoreState:
    files: dict[int, Any]                   # file id -> file_entry
    pipe_data: dict[int, tuple[int, bytes]]  # pipe id -> (capacity, data)
    tty_infos: dict[int, Any]               # tty info id -> tty_info_entry


def restore_state(ctx: RestoreContext) -> _RestoreState:
    """files.img and friends, read once per restore (before fork or lazily)."""
    st = ctx.registry.get(_RESTORE_KEY)
    if st is None:
        files = {e.id: e for e in ctx.images.read("files.img")}
        data = {}
        if ctx.images.exists("pipes-data.img"):
            for e in ctx.images.entries("pipes-data.img"):
                data[e.msg.pipe_id] = (e.msg.size if e.msg.HasField("size")
                                       else 0, bytes(e.extra or b""))
        ttys = {}
        if ctx.images.exists("tty-info.img"):
            ttys = {e.id: e for e in ctx.images.read("tty-info.img")}
        st = ctx.registry[_RESTORE_KEY] = _RestoreState(files, data, ttys)
    return st


def reg_file(ctx: RestoreContext, file_id: int) -> Any:
    """The reg_file_entry of a file id (used by fs for cwd/root)."""
    entry = restore_state(ctx).files.get(file_id)
    if entry is None or not entry.HasField("reg"):
        raise RestoreError(f"files.img: no regular file with id {file_id}")
    return entry.reg


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    """Put every fd of the task at its number, close everything else.

    Runs in the new task.  Each file is first opened at a high number
    (>= the service-fd base, where criu's own fds also live), then every
    fd below the base is closed and the files are dup2()ed into place.
    """
    state = restore_state(ctx)
    if task.ids is None or not task.ids.HasField("files_id"):
        raise RestoreError(f"task {task.pid}: files: no files id in "
                           f"ids-{task.pid}.img or the core image")
    fdinfos = ctx.images.read(f"fdinfo-{task.ids.files_id}.img")
    base = task.service_fds.base
    too_high = [fi.fd for fi in fdinfos if fi.fd >= base]
    if too_high:
        raise RestoreError(f"task {task.pid}: fd {too_high[0]} is at or "
                           f"above criu's service fds ({base}); raise "
                           "criu's RLIMIT_NOFILE (ulimit -n) and retry")
    log.move_log_fd(base)
    if 0 <= ctx.images.fd < base:
        ctx.images.fd = task.service_fds.keep(ctx.images.fd, "images dir")
    inherited = _inherited_fds(ctx, task, base)
    if (ctx.opts.shell_job and "files.shell_tty" not in ctx.registry
            and os.isatty(0)):
        # criu's terminal, inherited as fd 0, is what a shell job's tty fds
        # become; keep it above the base before fd 0 is replaced.
        ctx.registry["files.shell_tty"] = fcntl.fcntl(
            0, fcntl.F_DUPFD_CLOEXEC, base)
    opened: dict[int, int] = {}
    pipes: dict[int, list[int]] = {}
    try:
        for fi in fdinfos:
            if fi.id not in opened:
                entry = state.files.get(fi.id)
                if entry is None:
                    raise RestoreError(f"task {task.pid}: fd {fi.fd}: file id "
                                       f"{fi.id} is not in files.img")
                key = _inherit_key(entry)
                if key in inherited:
                    fd = fcntl.fcntl(inherited[key], fcntl.F_DUPFD_CLOEXEC,
                                     base)
                    ctx.log.info("task %d: fd %d: %s inherited from criu",
                                 task.pid, fi.fd, key)
                else:
                    fd = _open(ctx, task, state, entry, fi.fd, pipes, base)
                opened[fi.id] = _above(fd, base)
        _close_below(base, keep=set(task.service_fds.fds))
        for fi in fdinfos:
            os.dup2(opened[fi.id], fi.fd,
                    inheritable=not (fi.flags & FD_CLOEXEC))
    finally:
        ghost.unlink_all(ctx)
        for fd in set(opened.values()):
            os.close(fd)
        for r, w, *_ in pipes.values():
            for fd in (r, w):
                try:
                    os.close(fd)
                except OSError:
                    pass
    ctx.log.info("task %d: restored %d fds", task.pid, len(fdinfos))


INHERIT_RE = re.compile(r"fd\[(\d+)\]:(.+)")


def _inherited_fds(ctx: RestoreContext, task: RestoreTask,
                   base: int) -> dict[str, int]:
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
            out[key] = task.service_fds.keep(
                fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base),
                f"inherited {key}")
        except OSError as e:
            raise RestoreError(f"--inherit-fd {spec}: criu has no fd {fd}: "
                               f"{e.strerror}") from e
    ctx.registry["files.inherited"] = out
    return out


def _inherit_key(entry: Any) -> str:
    """How --inherit-fd names a dumped file (CRIU's keys)."""
    if entry.type == FD_PIPE:
        return f"pipe:[{entry.pipe.pipe_id}]"
    if entry.type == FD_REG:
        return entry.reg.name
    return ""


def _above(fd: int, base: int) -> int:
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


def _open(ctx: RestoreContext, task: RestoreTask, state: _RestoreState,
          entry: Any, fd: int, pipes: dict[int, list[int]], base: int) -> int:
    where = f"task {task.pid}: fd {fd}"
    if entry.type == FD_REG:
        remap = ghost.remap_of(ctx, entry.id)
        if remap is not None:
            return ghost.open_ghost(ctx, entry.reg, remap, where)
        return open_reg(entry.reg, where)
    if entry.type == FD_PIPE:
        return _open_pipe(state, entry.pipe, where, pipes, base)
    if entry.type == FD_TTY:
        return _open_tty(ctx, state, entry.tty, where)
    raise RestoreError(f"{where}: file type {entry.type} is not supported "
                       "yet")


def open_reg(rfe: Any, where: str) -> int:
    """Reopen a regular file (or directory, or memory device) as dumped."""
    flags = (rfe.flags & ~OPEN_ONLY_FLAGS) | os.O_CLOEXEC
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


def _open_pipe(state: _RestoreState, pe: Any, where: str,
               pipes: dict[int, list[int]], base: int) -> int:
    """The end of pipe pe.pipe_id the entry wants, filled with its data.

    pipes[pipe_id] = [read end, write end, read used, write used], the
    ends kept above base until restore() closes them.
    """
    if pe.pipe_id not in pipes:
        r, w = (_above(fd, base) for fd in os.pipe2(os.O_CLOEXEC))
        size, data = state.pipe_data.get(pe.pipe_id, (0, b""))
        try:
            # The dumped capacity (at least room for the data).
            want = max(size, len(data))
            if want > fcntl.fcntl(w, nfiles.F_GETPIPE_SZ):
                fcntl.fcntl(w, nfiles.F_SETPIPE_SZ, want)
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        except OSError as e:
            os.close(r)
            os.close(w)
            raise RestoreError(f"{where}: cannot refill pipe {pe.pipe_id}: "
                               f"{e.strerror}") from e
        pipes[pe.pipe_id] = [r, w, 0, 0]
    ends = pipes[pe.pipe_id]
    side = 0 if (pe.flags & os.O_ACCMODE) == os.O_RDONLY else 1
    if not ends[2 + side]:
        # The first file of this end is the pipe's own open file description.
        ends[2 + side] = 1
        fd = fcntl.fcntl(ends[side], fcntl.F_DUPFD_CLOEXEC, base)
    else:
        # Each further file id is an open file description of its own: a
        # second one of the same end is reopened through /proc.
        fd = os.open(f"/proc/self/fd/{ends[side]}",
                     (pe.flags & os.O_ACCMODE) | os.O_CLOEXEC |
                     os.O_NONBLOCK)
    fcntl.fcntl(fd, fcntl.F_SETFL, pe.flags & ~OPEN_ONLY_FLAGS)
    return fd


def _open_tty(ctx: RestoreContext, state: _RestoreState, tfe: Any,
              where: str) -> int:
    """--shell-job: the dumped terminal becomes criu's own (its stdin)."""
    if not ctx.opts.shell_job:
        raise RestoreError(f"{where}: the task used a terminal outside the "
                           "tree; restore with --shell-job")
    tty_fd = ctx.registry.get("files.shell_tty")
    if tty_fd is None:
        raise RestoreError(f"{where}: --shell-job needs criu's stdin to be "
                           "a terminal")
    rfe = state.files.get(tfe.regf_id)
    flags = (tfe.flags & ~OPEN_ONLY_FLAGS) | os.O_NOCTTY | os.O_CLOEXEC
    info = state.tty_infos.get(tfe.tty_info_id)
    if info is not None and info.type == TTY_CTTY:
        # "/dev/tty" again: the controlling terminal of the session the
        # task is restored into, when that session has one.
        try:
            return os.open("/dev/tty", flags)
        except OSError as e:
            ctx.log.warning("%s: /dev/tty: %s; using criu's terminal "
                            "instead", where, e.strerror)
    try:
        fd = os.open(f"/proc/self/fd/{tty_fd}", flags)
    except OSError as e:
        raise RestoreError(f"{where}: cannot reopen the terminal: "
                           f"{e.strerror}") from e
    if info is not None:
        try:
            _restore_tty_params(fd, info)
        except (OSError, termios.error) as e:
            os.close(fd)
            raise RestoreError(f"{where}: cannot restore the terminal's "
                               f"settings: {e}") from e
    ctx.log.info("%s: terminal %s reattached to criu's terminal", where,
                 rfe.reg.name if rfe is not None else "?")
    return fd


def _restore_tty_params(fd: int, info: Any) -> None:
    """The dumped terminal modes and window size, on the new terminal."""
    if info.HasField("termios"):
        t = info.termios
        cc = termios.tcgetattr(fd)[6]
        for i, value in enumerate(t.c_cc[:len(cc)]):
            cc[i] = value if isinstance(cc[i], int) else bytes([value])
        termios.tcsetattr(fd, termios.TCSANOW,
                          [t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag,
                           t.c_ispeed, t.c_ospeed, cc])
    if info.HasField("winsize"):
        w = info.winsize
        nfiles.set_winsize(fd, nfiles.Winsize(w.ws_row, w.ws_col,
                                              w.ws_xpixel, w.ws_ypixel))

