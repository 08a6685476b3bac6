"""Terminals, with --shell-job: the caller's terminal (a pts slave, a
virtual console, a serial line, /dev/tty, /dev/console) is imaged as a
tty_file_entry in files.img (with a regular-file entry for its path) and a
tty_info_entry per terminal in tty-info.img; restore reattaches it to
criu's own terminal, like CRIU's shell jobs."""

from __future__ import annotations

import fcntl
import os
import stat
import termios
from typing import Any, Optional

from compel.native import files as nfiles
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from criu.resources.fdtypes import reg

FD_TYPE = 11                        # fd_types.TTY
# TtyType of tty.proto.
TTY_PTY = 1
TTY_CONSOLE = 2
TTY_VT = 3
TTY_CTTY = 4
TTY_SERIAL = 6

PTS_MAJORS = range(136, 144)        # UNIX98 pty slaves
TERMIOS_NCC = 19                    # the kernel's c_cc size (CRIU stores 19)

_DUMP_KEY = "fdtypes.tty.dump"      # tty info id -> tty_info_entry
_RESTORE_KEY = "fdtypes.tty.infos"  # tty info id -> tty_info_entry
_SHELL_TTY = "files.shell_tty"      # criu's terminal, above the base


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


def match(info: proc.FdInfo) -> bool:
    return (stat.S_ISCHR(info.st.st_mode) and
            tty_type(info.st.st_rdev) is not None)


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import tty_pb2
    where = files.where(task.pid, info.fd)
    if not ctx.opts.shell_job:
        raise DumpError(f"{where}: terminal {info.target} belongs to a "
                        "session outside the dumped tree; use --shell-job")
    tty_infos: dict[int, Any] = ctx.registry.setdefault(_DUMP_KEY, {})
    rdev = info.st.st_rdev
    info_id = next((i for i, t in tty_infos.items() if t.rdev == rdev), None)
    if info_id is None:
        info_id = ctx.next_id("tty-info")
        tty_infos[info_id] = _tty_info(where, task.pid, info, info_id)
    regf_id = reg.add_reg_file(ctx, info.target, files.file_flags(info), 0,
                               info.mnt_id, info.st)
    return files.add_file(ctx, FD_TYPE, tty=tty_pb2.tty_file_entry(
        id=files.new_id(ctx), tty_info_id=info_id,
        flags=files.file_flags(info), fown=files.fown(), regf_id=regf_id))


def _tty_info(where: str, pid: int, info: proc.FdInfo, info_id: int) -> Any:
    from images.pb import tty_pb2
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
    tty_infos = ctx.registry.get(_DUMP_KEY)
    if tty_infos:
        ctx.images.write("tty-info.img", list(tty_infos.values()))


# ------------------------------------------------------------- restore side
def collect(ctx: RestoreContext) -> None:
    ttys = {}
    if ctx.images.exists("tty-info.img"):
        ttys = {e.id: e for e in ctx.images.read("tty-info.img")}
    ctx.registry[_RESTORE_KEY] = ttys


def prepare(ctx: RestoreContext, task: RestoreTask,
            opening: files.Opening) -> None:
    if (ctx.opts.shell_job and _SHELL_TTY not in ctx.registry
            and os.isatty(0)):
        # criu's terminal, inherited as fd 0, is what a shell job's tty fds
        # become; keep it above the base before fd 0 is replaced.
        ctx.registry[_SHELL_TTY] = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC,
                                               opening.base)


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """--shell-job: the dumped terminal becomes criu's own (its stdin)."""
    tfe, where = entry.tty, files.where(task.pid, fd)
    if not ctx.opts.shell_job:
        raise RestoreError(f"{where}: the task used a terminal outside the "
                           "tree; restore with --shell-job")
    tty_fd = ctx.registry.get(_SHELL_TTY)
    if tty_fd is None:
        raise RestoreError(f"{where}: --shell-job needs criu's stdin to be "
                           "a terminal")
    rfe = files.restore_state(ctx).files.get(tfe.regf_id)
    flags = (tfe.flags & ~files.OPEN_ONLY_FLAGS) | os.O_NOCTTY | os.O_CLOEXEC
    info = ctx.registry[_RESTORE_KEY].get(tfe.tty_info_id)
    if info is not None and info.type == TTY_CTTY:
        # "/dev/tty" again: the controlling terminal of the session the
        # task is restored into, when that session has one.
        try:
            return os.open("/dev/tty", flags)
        except OSError as e:
            ctx.log.warning("%s: /dev/tty: %s; using criu's terminal "
                            "instead", where, e.strerror)
    try:
        new = os.open(f"/proc/self/fd/{tty_fd}", flags)
    except OSError as e:
        raise RestoreError(f"{where}: cannot reopen the terminal: "
                           f"{e.strerror}") from e
    if info is not None:
        try:
            _restore_tty_params(new, info)
        except (OSError, termios.error) as e:
            os.close(new)
            raise RestoreError(f"{where}: cannot restore the terminal's "
                               f"settings: {e}") from e
    ctx.log.info("%s: terminal %s reattached to criu's terminal", where,
                 rfe.reg.name if rfe is not None else "?")
    return new


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
