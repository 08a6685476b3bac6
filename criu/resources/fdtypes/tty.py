"""Terminals: pty pairs inside the dumped tree, their sessions, and with
--shell-job the caller's terminal.

Ptys.  A pty is a master (/dev/ptmx or /dev/pts/ptmx: each open makes a
new pair) and its slave /dev/pts/N, N being the pty's index (TIOCGPTN).
As in CRIU, each open file description of either side is a tty_file_entry
in files.img (with a regular-file entry for the path it was opened by),
and each side has one tty_info_entry in tty-info.img, of type PTY with the
index, under CRIU's ids (2N+1 the master, 2N the slave, which CRIU pairs
by): the modes (termios and locked termios) and window size, packet mode
and lock (the master's), exclusive mode (each side has its own), the
session the pty is the controlling terminal of and its foreground process
group, and the slave's owner (uid, gid).  All of it is read on criu's
pidfd_getfd() copy of the master, which answers for the slave: reopening
/proc/PID/fd/N of a master would make a new pty.

Restore makes every pty in criu, before any task is forked, lowest index
first: /dev/ptmx is opened until the kernel, which hands out the lowest
free index, gives the dumped one; the ptys passed on the way are held until
all are made, so every pty comes back under its number (and /dev/pts/N
with it) without racing the tasks.  criu unlocks it, opens each slave
description (by its dumped path), gives the slave its owner and mode back,
sets the modes, locked modes (after the modes: they freeze bits),
window size, packet and exclusive modes, and locks it again if it was.
Each description is kept as an fd above the service-fd base: every task
inherits them and open() dups its own into place; post_open() closes the
rest.

Controlling terminal: the kernel gives one only to a session leader that
asks (TIOCSCTTY) and to the children it forks afterwards.  So the leader
takes its pty in the enter_session hook (pstree.enter_session, right after
setsid, before its children are forked), through criu's fd of the master;
the foreground process group is set later (TIOCSPGRP, in the leader's
post_open), once every group of the tree exists.

Refused at dump in one line (the tree left running): a pty slave whose
master is outside the tree, a pty that is the controlling terminal of a
session whose leader is not dumped, a task whose controlling terminal is
not a pty of the tree, and /dev/tty held by a task whose controlling
terminal is not one either; each but the second unless --shell-job says
that terminal is the caller's.  Also /dev/tty held by several tasks (one
open file description, inherited at fork): restore opens /dev/tty again in
the task, and no one task could open it for all.

Not preserved: bytes queued in a pty (written on one side, not read yet on
the other) are dropped, restore starts with empty queues; the dump log
says how many bytes were queued.  (CRIU reads them and writes them back
through the other side, which replays them through the line discipline:
echoed again, CR/NL mapped again, so they may come back changed.)  A slave
opened by a process outside the tree stays on the old, hung-up pty.  A
session member that had no controlling terminal though its leader had one
(forked before the leader took it) gets it.  A foreground process group
with no task left is not restored (the leader's group is the foreground
one then), nor is a line discipline other than N_TTY.

--shell-job: the caller's terminal (a pts slave whose master is outside
the tree, a virtual console, a serial line, /dev/tty, /dev/console) is
imaged the same way; restore reattaches it to criu's own terminal, like
CRIU's shell jobs.
"""

from __future__ import annotations

import builtins
import dataclasses
import fcntl
import os
import signal
import stat
from typing import Any, Optional

from compel.native import files as nfiles
from compel.native import pidfd as npidfd
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

PTMX_RDEV = os.makedev(5, 2)        # /dev/ptmx and /dev/pts/ptmx
PTM_MAJORS = range(128, 136)        # UNIX98 pty masters (kernel-internal)
PTS_MAJORS = range(136, 144)        # UNIX98 pty slaves
CBAUD = 0o010017                    # the speed bits of c_cflag
# Ids of the other terminals' infos: above any pty's (2N, 2N+1).
_OTHER_IDS = 1 << 22

_DUMP_KEY = "fdtypes.tty.dump"      # _DumpState
_RESTORE_KEY = "fdtypes.tty.infos"  # tty info id -> tty_info_entry
_MADE_KEY = "fdtypes.tty.made"      # file id -> fd criu made (ptys)
_CTTYS_KEY = "fdtypes.tty.cttys"    # list[_Ctty]
_SHELL_TTY = "files.shell_tty"      # criu's terminal, above the base


def tty_type(rdev: int) -> Optional[int]:
    """The TtyType of a terminal device (None: not one we image): pty
    masters and slaves, virtual consoles, serial lines, /dev/tty and
    /dev/console."""
    major, minor = os.major(rdev), os.minor(rdev)
    if major in PTS_MAJORS or major in PTM_MAJORS or rdev == PTMX_RDEV:
        return TTY_PTY
    if major == 4:
        return TTY_VT if minor < 64 else TTY_SERIAL
    if major == 5 and minor in (0, 1):
        return TTY_CTTY if minor == 0 else TTY_CONSOLE
    return None


def is_master(rdev: int) -> bool:
    """Whether a pty device is a master (/dev/ptmx's inode)."""
    return rdev == PTMX_RDEV or os.major(rdev) in PTM_MAJORS


def slave_index(rdev: int) -> int:
    """N of /dev/pts/N from its device number."""
    return (os.major(rdev) - PTS_MAJORS.start) * 256 + os.minor(rdev)


def pty_info_id(index: int, master: bool) -> int:
    """CRIU's tty info id of one side of pty `index` (CRIU pairs the two
    sides by these ids)."""
    return index * 2 + (1 if master else 0)


def match(info: proc.FdInfo) -> bool:
    return (stat.S_ISCHR(info.st.st_mode) and
            tty_type(info.st.st_rdev) is not None)


# ---------------------------------------------------------------- dump side
@dataclasses.dataclass
class _DumpState:
    infos: dict[int, Any] = dataclasses.field(default_factory=dict)
    # info id -> the first fd that showed it ("task P: fd N: PATH")
    where: dict[int, str] = dataclasses.field(default_factory=dict)
    # /dev/tty held without --shell-job: (pid, where)
    ctty_users: list[tuple[int, str]] = dataclasses.field(
        default_factory=list)
    # their file ids -> where
    ctty_files: dict[int, str] = dataclasses.field(default_factory=dict)


def _dump_state(ctx: DumpContext) -> _DumpState:
    st = ctx.registry.get(_DUMP_KEY)
    if st is None:
        st = ctx.registry[_DUMP_KEY] = _DumpState()
    return st


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import tty_pb2
    where = files.where(task.pid, info.fd)
    state = _dump_state(ctx)
    rdev = info.st.st_rdev
    kind = tty_type(rdev)
    if kind == TTY_PTY:
        # Pairing, sessions: checked once every task is seen.
        info_id = _dump_pty(ctx, state, task, info, where)
    else:
        if kind == TTY_CTTY and not ctx.opts.shell_job:
            # /dev/tty is fine when it means a pty of the tree (checked in
            # dump_finish, once all ptys are known).
            state.ctty_users.append((task.pid, f"{where}: {info.target}"))
        elif not ctx.opts.shell_job:
            raise DumpError(f"{where}: terminal {info.target} belongs to a "
                            "session outside the dumped tree; use "
                            "--shell-job")
        info_id = _other_info(ctx, state, task, info, where)
    regf_id = reg.add_reg_file(ctx, info.target, files.file_flags(info), 0,
                               info.mnt_id, info.st)
    file_id = files.add_file(ctx, FD_TYPE, tty=tty_pb2.tty_file_entry(
        id=files.new_id(ctx), tty_info_id=info_id,
        flags=files.file_flags(info), fown=files.fown(), regf_id=regf_id))
    if kind == TTY_CTTY and not ctx.opts.shell_job:
        state.ctty_files[file_id] = f"{where}: {info.target}"
    return file_id


def _other_info(ctx: DumpContext, state: _DumpState, task: DumpTask,
                info: proc.FdInfo, where: str) -> int:
    """The info id of a terminal other than a pty, one per device."""
    rdev = info.st.st_rdev
    for info_id, t in state.infos.items():
        if t.type != TTY_PTY and t.rdev == rdev:
            return info_id
    info_id = _OTHER_IDS + ctx.next_id("tty-info")
    state.infos[info_id] = _tty_info(where, task.pid, info, info_id)
    state.where[info_id] = f"{where}: {info.target}"
    return info_id


def _dump_pty(ctx: DumpContext, state: _DumpState, task: DumpTask,
              info: proc.FdInfo, where: str) -> int:
    """The info id of the pty side this fd is on, its info read the first
    time that side is seen."""
    master = is_master(info.st.st_rdev)
    copy = _fd_copy(task.pid, info.fd, where, info.target)
    try:
        if master:
            index = _ioctl(copy, nfiles.TIOCGPTN, where, info.target,
                           "its pty index")
        else:
            index = slave_index(info.st.st_rdev)
        info_id = pty_info_id(index, master)
        if info_id not in state.infos:
            state.infos[info_id] = _pty_info(ctx, where, info, copy, index,
                                             master)
            state.where[info_id] = f"{where}: {info.target}"
        return info_id
    finally:
        os.close(copy)


def _fd_copy(pid: int, fd: int, where: str, target: str) -> int:
    """criu's own fd of the task's open file description."""
    try:
        return npidfd.fd_of(pid, fd)
    except OSError as e:
        raise DumpError(f"{where}: {target}: cannot get a copy of it: "
                        f"{e.strerror}") from e


def _ioctl(fd: int, request: int, where: str, target: str, what: str) -> int:
    try:
        return nfiles.ioctl_int(fd, request)
    except OSError as e:
        raise DumpError(f"{where}: {target}: cannot read {what}: "
                        f"{e.strerror}") from e


def _pty_info(ctx: DumpContext, where: str, info: proc.FdInfo, copy: int,
              index: int, master: bool) -> Any:
    """One side of a pty, read through criu's copy of it."""
    from images.pb import tty_pb2
    target = info.target
    entry = tty_pb2.tty_info_entry(
        id=pty_info_id(index, master), type=TTY_PTY, locked=False,
        exclusive=bool(_ioctl(copy, nfiles.TIOCGEXCL, where, target,
                              "its exclusive mode")),
        packet_mode=False, sid=0, pgrp=0, rdev=info.st.st_rdev,
        dev=info.st.st_dev)
    entry.pty.index = index
    try:
        _read_modes(entry, copy)
    except OSError as e:
        hint = " (hung up: its master was closed)" if not master else ""
        raise DumpError(f"{where}: {target}: cannot read the terminal's "
                        f"modes: {e.strerror}{hint}") from e
    if master:
        entry.locked = bool(_ioctl(copy, nfiles.TIOCGPTLCK, where, target,
                                   "its lock"))
        entry.packet_mode = bool(_ioctl(copy, nfiles.TIOCGPKT, where,
                                        target, "its packet mode"))
        # Through the master the kernel answers for the slave, from any
        # process; on the slave only for the session it controls.
        entry.sid = _tty_ioctl_or_zero(copy, nfiles.TIOCGSID)
        if entry.sid:
            entry.pgrp = _tty_ioctl_or_zero(copy, nfiles.TIOCGPGRP)
        owner = _slave_stat(copy, where, target)
        queued = _tty_ioctl_or_zero(copy, nfiles.FIONREAD)
        if queued:
            ctx.log.warning("%s: pty %d: %d bytes written on the slave "
                            "and not read are not kept", where, index,
                            queued)
    else:
        owner = info.st
        entry.sid = _tty_ioctl_or_zero(copy, nfiles.TIOCGSID)
        entry.pgrp = _tty_ioctl_or_zero(copy, nfiles.TIOCGPGRP)
        queued = _tty_ioctl_or_zero(copy, nfiles.FIONREAD)
        if queued:
            ctx.log.warning("%s: pty %d: %d bytes written on the master "
                            "and not read are not kept", where, index,
                            queued)
    entry.uid, entry.gid = owner.st_uid, owner.st_gid
    return entry


def _slave_stat(master: int, where: str, target: str) -> os.stat_result:
    """The slave's inode (its owner), through an O_PATH handle: no open of
    the slave itself, which would change the pty's state."""
    try:
        peer = nfiles.ioctl_arg(master, nfiles.TIOCGPTPEER,
                                os.O_PATH | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: {target}: cannot find its slave: "
                        f"{e.strerror}") from e
    try:
        return os.fstat(peer)
    finally:
        os.close(peer)


def _read_modes(entry: Any, fd: int) -> None:
    """termios, locked termios and window size into a tty_info_entry."""
    from images.pb import tty_pb2
    modes = nfiles.get_termios(fd)
    locked = nfiles.get_termios(fd, locked=True)
    ws = nfiles.get_winsize(fd)
    entry.termios.CopyFrom(_termios_entry(modes))
    entry.termios_locked.CopyFrom(_termios_entry(locked))
    entry.winsize.CopyFrom(tty_pb2.winsize_entry(
        ws_row=ws.ws_row, ws_col=ws.ws_col, ws_xpixel=ws.ws_xpixel,
        ws_ypixel=ws.ws_ypixel))


def _termios_entry(t: nfiles.KTermios) -> Any:
    from images.pb import tty_pb2
    speed = t.c_cflag & CBAUD
    return tty_pb2.termios_entry(
        c_iflag=t.c_iflag, c_oflag=t.c_oflag, c_cflag=t.c_cflag,
        c_lflag=t.c_lflag, c_line=t.c_line, c_ispeed=speed, c_ospeed=speed,
        c_cc=list(t.c_cc))


def _ktermios(e: Any) -> nfiles.KTermios:
    t = nfiles.KTermios(e.c_iflag, e.c_oflag, e.c_cflag, e.c_lflag,
                        e.c_line)
    for i, value in enumerate(e.c_cc[:nfiles.KERNEL_NCCS]):
        t.c_cc[i] = value
    return t


def _tty_info(where: str, pid: int, info: proc.FdInfo, info_id: int) -> Any:
    """A terminal other than a pty (--shell-job, or /dev/tty)."""
    from images.pb import tty_pb2
    rdev = info.st.st_rdev
    kind = tty_type(rdev)
    entry = tty_pb2.tty_info_entry(
        id=info_id, type=kind, locked=False, exclusive=False,
        packet_mode=False, sid=0, pgrp=0, rdev=rdev, dev=info.st.st_dev,
        uid=info.st.st_uid, gid=info.st.st_gid)
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
        _read_modes(entry, tfd)
        entry.sid = _tty_ioctl_or_zero(tfd, nfiles.TIOCGSID)
        entry.pgrp = _tty_ioctl_or_zero(tfd, nfiles.TIOCGPGRP)
    except OSError as e:
        raise DumpError(f"{where}: cannot read terminal {info.target}: "
                        f"{e.strerror}") from e
    finally:
        os.close(tfd)
    return entry


def _tty_ioctl_or_zero(fd: int, request: int) -> int:
    """TIOCGSID/TIOCGPGRP; 0 when the terminal has no session (ENOTTY)."""
    try:
        return nfiles.ioctl_int(fd, request)
    except OSError:
        return 0


def controlling_tty(pid: int) -> int:
    """The device number of a task's controlling terminal (0: none),
    field 7 (tty_nr) of /proc/PID/stat."""
    try:
        with builtins.open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError as e:
        raise DumpError(f"task {pid}: cannot read /proc/{pid}/stat: "
                        f"{e.strerror}") from e
    # comm is in parentheses and may hold anything: cut at the last ")".
    rest = text[text.rindex(b")") + 2:].split()
    return int(rest[4])


def _tty_name(rdev: int) -> str:
    if os.major(rdev) in PTS_MAJORS:
        return f"/dev/pts/{slave_index(rdev)}"
    return f"terminal {os.major(rdev)}:{os.minor(rdev)}"


def dump_finish(ctx: DumpContext) -> None:
    """Check what needs every task seen (pairs, sessions, controlling
    terminals), then write tty-info.img."""
    state = _dump_state(ctx)
    _check_pairs(ctx, state)
    _check_sessions(ctx, state)
    _check_controlling(ctx, state)
    if state.infos:
        ctx.images.write("tty-info.img", list(state.infos.values()))


def _check_pairs(ctx: DumpContext, state: _DumpState) -> None:
    """Each slave's master in the tree (or --shell-job: the caller's
    terminal); the slave's info then says what the master's does about
    its session (criu could not ask the slave)."""
    for info_id, e in sorted(state.infos.items()):
        if e.type != TTY_PTY or is_master(e.rdev):
            continue
        master = state.infos.get(pty_info_id(e.pty.index, True))
        if master is not None:
            e.sid, e.pgrp = master.sid, master.pgrp
        elif not ctx.opts.shell_job:
            raise DumpError(f"{state.where[info_id]}: the master of pty "
                            f"{e.pty.index} (its other end) is outside the "
                            "dumped tree; dump its holder too, or use "
                            "--shell-job if it is the caller's terminal")


def _check_sessions(ctx: DumpContext, state: _DumpState) -> None:
    """A pty controlling a session comes back as that session's terminal
    only if the session's leader is restored (it takes the terminal)."""
    tasks = {t.pid: t for t in ctx.tasks}
    for info_id, e in sorted(state.infos.items()):
        if e.type != TTY_PTY or not is_master(e.rdev) or not e.sid:
            continue
        leader = tasks.get(e.sid)
        if leader is None or leader.zombie or leader.sid != e.sid:
            raise DumpError(f"{state.where[info_id]}: pty {e.pty.index} is "
                            f"the controlling terminal of session {e.sid}, "
                            "whose leader is not in the dumped tree")
        if e.pgrp and not any(t.pgid == e.pgrp for t in ctx.tasks):
            ctx.log.warning("%s: pty %d: its foreground process group %d "
                            "has no task left; the session leader's group "
                            "will be the foreground one", state.where[info_id],
                            e.pty.index, e.pgrp)


def _check_controlling(ctx: DumpContext, state: _DumpState) -> None:
    """Every task's controlling terminal is a pty of the tree, unless
    --shell-job says it is the caller's (restore gives criu's then)."""
    if ctx.opts.shell_job:
        return
    masters = {e.pty.index for e in state.infos.values()
               if e.type == TTY_PTY and is_master(e.rdev)}
    users = dict(state.ctty_users)
    for task in ctx.tasks:
        if task.zombie:
            continue
        rdev = controlling_tty(task.pid)
        if rdev and (os.major(rdev) not in PTS_MAJORS or
                     slave_index(rdev) not in masters):
            what = users.get(task.pid, f"task {task.pid}")
            raise DumpError(f"{what}: its controlling terminal "
                            f"{_tty_name(rdev)} is outside the dumped tree; "
                            "use --shell-job")
        if not rdev and task.pid in users:
            raise DumpError(f"{users[task.pid]}: the task has no "
                            "controlling terminal for /dev/tty to mean")
    # /dev/tty is opened again by the task that holds it (only it has the
    # terminal); one description held by several tasks would be criu's.
    holders: dict[int, set[int]] = {}
    for task in ctx.tasks:
        for _, file_id in task.scratch.get(files.SCRATCH_FDS, {}).values():
            if file_id in state.ctty_files:
                holders.setdefault(file_id, set()).add(task.pid)
    for file_id, pids in sorted(holders.items()):
        if len(pids) > 1:
            raise DumpError(f"{state.ctty_files[file_id]}: one /dev/tty "
                            "description held by several tasks "
                            f"({', '.join(map(str, sorted(pids)))}) is not "
                            "supported yet")


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class _Pty:
    """One pty of the images: its master's description, its slaves'."""

    index: int
    master: Any = None              # file_entry
    minfo: Any = None               # the master's tty_info_entry
    slaves: list[Any] = dataclasses.field(default_factory=list)
    sinfo: Any = None


@dataclasses.dataclass
class _Ctty:
    """A pty to become a session's controlling terminal."""

    sid: int
    pgrp: int
    index: int
    master_id: int                  # the master's file id (criu made it)


def collect(ctx: RestoreContext) -> None:
    """tty-info.img; in criu (before any task is forked) every pty."""
    ttys = {}
    if ctx.images.exists("tty-info.img"):
        ttys = {e.id: e for e in ctx.images.read("tty-info.img")}
    ctx.registry[_RESTORE_KEY] = ttys
    if _MADE_KEY not in ctx.registry and _in_criu(ctx):
        _make_ptys(ctx, ttys)


def _in_criu(ctx: RestoreContext) -> bool:
    """Not in a task of the tree (whose pids are the dumped ones)."""
    return os.getpid() not in {t.pid for t in ctx.tasks}


def _ptys(ctx: RestoreContext, infos: dict[int, Any],
          entries: list[Any]) -> dict[int, _Pty]:
    """The ptys of files.img whose master is there, by index."""
    ptys: dict[int, _Pty] = {}
    for e in entries:
        if e.type != FD_TYPE:
            continue
        info = infos.get(e.tty.tty_info_id)
        if info is None or info.type != TTY_PTY or not info.HasField("pty"):
            continue
        p = ptys.setdefault(info.pty.index, _Pty(info.pty.index))
        if is_master(info.rdev):
            p.master, p.minfo = e, info
        else:
            p.slaves.append(e)
            p.sinfo = info
    return {i: p for i, p in ptys.items() if p.master is not None}


def _make_ptys(ctx: RestoreContext, infos: dict[int, Any]) -> None:
    """Every pty whose master was dumped, made here in criu, lowest index
    first; its descriptions kept for the tasks (see the module doc)."""
    made: dict[int, int] = {}
    ctx.registry[_MADE_KEY] = made
    ctx.registry[_CTTYS_KEY] = []
    if not infos:
        return
    entries = ctx.images.read("files.img")
    ptys = _ptys(ctx, infos, entries)
    if not ptys:
        return
    ctx.on_forked(lambda: _close_made(made))
    paths = {e.id: e.reg for e in entries if e.HasField("reg")}
    base = ctx.tasks[0].service_fds.base
    spares: list[int] = []
    try:
        for index in sorted(ptys):
            _make_pty(ctx, ptys[index], paths, base, made, spares)
    finally:
        for fd in spares:
            os.close(fd)
    ctx.log.info("made %d pty(s) with the dumped indices: %s", len(ptys),
                 ", ".join(str(i) for i in sorted(ptys)))


def _close_made(made: dict[int, int]) -> None:
    for fd in made.values():
        try:
            os.close(fd)
        except OSError:
            pass
    made.clear()


def _open_flags(flags: int) -> int:
    """A description's flags for open(): never our controlling terminal
    by accident (that is TIOCSCTTY's job)."""
    return (flags & ~files.OPEN_ONLY_FLAGS) | os.O_NOCTTY | os.O_CLOEXEC


def _holder(ctx: RestoreContext, file_id: int) -> str:
    """"task P: fd N" of the first fd that holds a file (for messages)."""
    for t in ctx.tasks:
        if not t.alive or t.ids is None or not t.ids.HasField("files_id"):
            continue
        for fi in ctx.images.read(f"fdinfo-{t.ids.files_id}.img"):
            if fi.id == file_id:
                return files.where(t.pid, fi.fd)
    return f"file {file_id}"


def _make_pty(ctx: RestoreContext, p: _Pty, paths: dict[int, Any],
              base: int, made: dict[int, int], spares: list[int]) -> None:
    where = f"{_holder(ctx, p.master.id)}: pty {p.index}"
    mreg = paths.get(p.master.tty.regf_id)
    master_path = mreg.name if mreg is not None else "/dev/ptmx"
    master = files.above(_open_index(where, master_path,
                                     _open_flags(p.master.tty.flags),
                                     p.index, spares), base)
    made[p.master.id] = master
    step = "unlock it"
    try:
        nfiles.ioctl_set_int(master, nfiles.TIOCSPTLCK, 0)
        slave_fds = []
        for s in p.slaves:
            sreg = paths.get(s.tty.regf_id)
            path = sreg.name if sreg is not None else f"/dev/pts/{p.index}"
            step = f"open its slave {path}"
            fd = files.above(os.open(path, _open_flags(s.tty.flags)), base)
            made[s.id] = fd
            slave_fds.append(fd)
            if slave_index(os.fstat(fd).st_rdev) != p.index:
                raise RestoreError(f"{where}: {path} is not its slave "
                                   "(another devpts instance?)")
        step = "give its slave its owner back"
        _restore_owner(master, p, paths, slave_fds)
        step = "restore its modes"
        _restore_pty_params(master, p.minfo, p.sinfo, slave_fds)
    except OSError as e:
        raise RestoreError(f"{where}: cannot {step}: {e.strerror}") from e
    if p.minfo.sid:
        ctx.registry[_CTTYS_KEY].append(
            _Ctty(p.minfo.sid, p.minfo.pgrp, p.index, p.master.id))


def _open_index(where: str, path: str, flags: int, index: int,
                spares: list[int]) -> int:
    """A master of pty `index`: the kernel gives the lowest free index, so
    open until it is ours, keeping the lower ones (spares) for now."""
    for _ in range(index + 1):
        try:
            fd = os.open(path, flags)
        except OSError as e:
            raise RestoreError(f"{where}: cannot open {path}: "
                               f"{e.strerror}") from e
        try:
            got = nfiles.ioctl_int(fd, nfiles.TIOCGPTN)
        except OSError as e:
            os.close(fd)
            raise RestoreError(f"{where}: {path} is not a pty master: "
                               f"{e.strerror}") from e
        if got == index:
            return fd
        if got > index:
            os.close(fd)
            break
        spares.append(fd)
    raise RestoreError(f"{where}: /dev/pts/{index} is in use by another "
                       "program")


def _restore_owner(master: int, p: _Pty, paths: dict[int, Any],
                   slave_fds: list[int]) -> None:
    """The slave inode's owner (criu, root, made it) and mode, as dumped:
    programs of the tree may open /dev/pts/N again."""
    info = p.minfo
    mode = None
    for s in p.slaves:
        sreg = paths.get(s.tty.regf_id)
        if sreg is not None and sreg.HasField("mode"):
            mode = stat.S_IMODE(sreg.mode)
    peer = nfiles.ioctl_arg(master, nfiles.TIOCGPTPEER,
                            os.O_PATH | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if info.HasField("uid") and info.HasField("gid"):
            os.chown(f"/proc/self/fd/{peer}", info.uid, info.gid)
        if mode is not None:
            os.chmod(f"/proc/self/fd/{peer}", mode)
    finally:
        os.close(peer)


def _restore_pty_params(master: int, minfo: Any, sinfo: Optional[Any],
                        slave_fds: list[int]) -> None:
    """Modes, then locked modes (which keep locked bits from changing),
    window size, packet and exclusive modes, lock last (the slaves are
    open by then)."""
    if minfo.HasField("termios"):
        nfiles.set_termios(master, _ktermios(minfo.termios))
    if minfo.HasField("termios_locked"):
        # Only when locked at all: setting them needs CAP_SYS_ADMIN.
        locked = _ktermios(minfo.termios_locked)
        if bytes(locked) != bytes(nfiles.get_termios(master, locked=True)):
            nfiles.set_termios(master, locked, locked=True)
    if minfo.HasField("winsize"):
        w = minfo.winsize
        nfiles.set_winsize(master, nfiles.Winsize(w.ws_row, w.ws_col,
                                                  w.ws_xpixel, w.ws_ypixel))
    if minfo.packet_mode:
        nfiles.ioctl_set_int(master, nfiles.TIOCPKT, 1)
    if minfo.exclusive:
        nfiles.ioctl_arg(master, nfiles.TIOCEXCL)
    if sinfo is not None and sinfo.exclusive and slave_fds:
        nfiles.ioctl_arg(slave_fds[0], nfiles.TIOCEXCL)
    if minfo.locked:
        nfiles.ioctl_set_int(master, nfiles.TIOCSPTLCK, 1)


def enter_session(ctx: RestoreContext, task: RestoreTask) -> None:
    """In a new session leader, right after setsid and before it forks its
    children: its controlling terminal (they inherit it at fork)."""
    if task.sid != task.pid:
        return
    made = ctx.registry.get(_MADE_KEY, {})
    for c in ctx.registry.get(_CTTYS_KEY, ()):
        if c.sid != task.pid:
            continue
        try:
            # On the master, the ioctl acts on its slave.
            nfiles.ioctl_arg(made[c.master_id], nfiles.TIOCSCTTY, 0)
        except OSError as e:
            raise RestoreError(f"task {task.pid}: cannot make /dev/pts/"
                               f"{c.index} the controlling terminal of its "
                               f"session: {e.strerror}") from e
        ctx.log.info("task %d: /dev/pts/%d is its session's controlling "
                     "terminal", task.pid, c.index)


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
    """A pty's description: criu made it (a dup of criu's).  /dev/tty:
    the task's controlling terminal again.  --shell-job: the dumped
    terminal becomes criu's own (its stdin)."""
    tfe, where = entry.tty, files.where(task.pid, fd)
    made = ctx.registry.get(_MADE_KEY, {})
    if entry.id in made:
        return fcntl.fcntl(made[entry.id], fcntl.F_DUPFD_CLOEXEC,
                           opening.base)
    info = ctx.registry[_RESTORE_KEY].get(tfe.tty_info_id)
    flags = (tfe.flags & ~files.OPEN_ONLY_FLAGS) | os.O_NOCTTY | os.O_CLOEXEC
    if info is not None and info.type == TTY_CTTY and not ctx.opts.shell_job:
        return _open_ctty(task, where, flags)
    if not ctx.opts.shell_job:
        raise RestoreError(f"{where}: the task used a terminal outside the "
                           "tree; restore with --shell-job")
    tty_fd = ctx.registry.get(_SHELL_TTY)
    if tty_fd is None:
        raise RestoreError(f"{where}: --shell-job needs criu's stdin to be "
                           "a terminal")
    rfe = files.restore_state(ctx).files.get(tfe.regf_id)
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
        except OSError as e:
            os.close(new)
            raise RestoreError(f"{where}: cannot restore the terminal's "
                               f"settings: {e.strerror}") from e
    ctx.log.info("%s: terminal %s reattached to criu's terminal", where,
                 rfe.reg.name if rfe is not None else "?")
    return new


def _open_ctty(task: RestoreTask, where: str, flags: int) -> int:
    """/dev/tty of a task whose controlling terminal is a pty of the tree
    (dump checked it), opened in the task, which has it by now."""
    if os.getpid() != task.pid:
        raise RestoreError(f"{where}: /dev/tty held by several tasks (one "
                           "open file description) is not supported yet")
    try:
        return os.open("/dev/tty", flags)
    except OSError as e:
        raise RestoreError(f"{where}: cannot open /dev/tty, the task's "
                           f"controlling terminal: {e.strerror}") from e


def _restore_tty_params(fd: int, info: Any) -> None:
    """--shell-job: the dumped terminal modes and window size, on the new
    terminal (not the locked modes: criu's terminal is the user's)."""
    if info.HasField("termios"):
        nfiles.set_termios(fd, _ktermios(info.termios))
    if info.HasField("winsize"):
        w = info.winsize
        nfiles.set_winsize(fd, nfiles.Winsize(w.ws_row, w.ws_col,
                                              w.ws_xpixel, w.ws_ypixel))


def post_open(ctx: RestoreContext, task: RestoreTask,
              placed: list[tuple[int, Any]]) -> None:
    """In a session leader, the foreground process group of its terminal
    (every group exists by now); then the task drops criu's ptys."""
    made = ctx.registry.get(_MADE_KEY)
    if not made:
        return
    try:
        if task.sid == task.pid:
            _set_foreground(ctx, task, made)
    finally:
        _close_made(made)


def _set_foreground(ctx: RestoreContext, task: RestoreTask,
                    made: dict[int, int]) -> None:
    pgids = {t.pgid for t in ctx.tasks}
    for c in ctx.registry.get(_CTTYS_KEY, ()):
        if c.sid != task.pid or c.pgrp in (0, task.pid):
            continue
        if c.pgrp not in pgids:
            ctx.log.warning("task %d: /dev/pts/%d: foreground group %d has "
                            "no task; its own group stays foreground",
                            task.pid, c.index, c.pgrp)
            continue
        # The leader is in the foreground group (its own) until this call;
        # SIGTTOU blocked all the same, or the kernel would stop it.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        try:
            nfiles.ioctl_set_int(made[c.master_id], nfiles.TIOCSPGRP, c.pgrp)
        except OSError as e:
            raise RestoreError(f"task {task.pid}: /dev/pts/{c.index}: cannot "
                               f"make process group {c.pgrp} the foreground "
                               f"one: {e.strerror}") from e
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
