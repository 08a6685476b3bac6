"""The fd-type table: one module per kind of open file, like CRIU's fdtype
ops (files-reg.c, pipes.c, tty.c, ...).

The files resource (criu/resources/files.py) keeps what every kind shares:
walking /proc/PID/fd, open file descriptions shared between fds (kcmp),
fd flags (close-on-exec), fown, files.img, placing the fds at their numbers,
service fds and --inherit-fd.  It hands each fd to the first kind of the
table below whose match() takes it (dump) or whose FD_TYPE is the file
entry's type (restore); an fd no kind takes makes the dump fail naming it.
A new kind (eventfd, ...) is one new module and one line here.

Kind module protocol:

    FD_TYPE: int
        its fd_types value of fdinfo.proto (file_entry.type, fdinfo.type);
        one kind per value.
    def match(info: proc.FdInfo) -> bool
        dump: whether this kind takes the fd (/proc/PID/fd{,info}/N).
    def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int
        dump: image one open file description (files.add_file() puts its
        file_entry in files.img, flags through files.file_flags(), fown
        through files.fown()); return its file id.  Called once per
        description: further fds sharing it reuse the id.
    def open(ctx: RestoreContext, task: RestoreTask, entry, fd: int,
             opening: files.Opening) -> int
        restore: a new fd (any number, close-on-exec) that is the open
        file description of file_entry `entry`, which `task` had at fd
        `fd` (for messages; files.py places it there).  It runs in the new
        task for a description that task alone holds, and in criu itself
        (files.collect, before any task is forked) for one that several
        tasks hold, or whose shared_key() object spans several tasks: every
        task then inherits criu's fd and dups it.  So open() uses only ctx,
        its images and `opening`, never the process it runs in.  Who
        creates, who receives: the first description of an object creates
        it and keeps it in opening.made (the two ends of a pipe), later
        ones receive a dup or reopen of it; opening.on_close() releases it
        once every description is open.  What a kind keeps from one
        open() to the next (opening.made) must sit at or above
        opening.base (files.above()): below it the fds are being placed.

Optional hooks:

    def dump_finish(ctx: DumpContext) -> None
        after files.img is written: write this kind's own images
        (pipes-data.img, tty-info.img, ...); called in table order.
    def collect(ctx: RestoreContext) -> None
        restore: read this kind's own images once, when files.img is read
        (files.restore_state()), before any of its files is opened.
    def prepare(ctx: RestoreContext, task: RestoreTask,
                opening: files.Opening) -> None
        restore: before any fd is opened, while criu's own fds (0, 1, 2,
        ...) are still in place: in each new task, and in criu before it
        opens the descriptions several tasks share (task: the root).
    def inherit_key(entry) -> str
        restore: how --inherit-fd fd[N]:KEY names this file ("" if never).
    def shared_key(entry) -> Hashable | None
        restore: the kernel object behind this description when several
        descriptions share one (a pipe: its pipe id; the peers of a
        socket pair), None if it has none.  Descriptions of one object held
        by more than one task are all opened in criu (see open()).
    def enter_session(ctx: RestoreContext, task: RestoreTask) -> None
        restore, in each new task right after it entered its session and
        process group (pstree.enter_session), before it forks its
        children: a session leader takes its controlling terminal here,
        which only the children it forks afterwards inherit.
    def post_open(ctx: RestoreContext, task: RestoreTask,
                  placed: list[tuple[int, file_entry]]) -> None
        restore, in the new task, once every fd is at its number (placed:
        every fd of the task with its file_entry, of all kinds): what needs
        the finished fd table (an epoll's targets, named by fd number).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Optional

KINDS: tuple[str, ...] = (
    "criu.resources.fdtypes.memfd",  # MEMFD: before reg (+ memfd.img)
    "criu.resources.fdtypes.pidfd",  # PIDFD: post_open before epoll's
    "criu.resources.fdtypes.reg",   # REG: files, directories, /dev/null...
                                    #   (+ ghost files: remap-fpath.img)
    "criu.resources.fdtypes.pipe",  # PIPE: pipes (+ pipes-data.img)
    "criu.resources.fdtypes.fifo",  # FIFO: named pipes (+ fifo-data.img)
    "criu.resources.fdtypes.tty",   # TTY: pty pairs, sessions' ttys,
                                    #   --shell-job terminal (+ tty-info.img)
    "criu.resources.fdtypes.epoll",  # EVENTPOLL: targets in post_open
    "criu.resources.fdtypes.inotify",  # INOTIFY: watches by file handle
    "criu.resources.fdtypes.fanotify",  # FANOTIFY: inode and mount marks
    "criu.resources.fdtypes.eventfd",  # EVENTFD: counter, semaphore mode
    "criu.resources.fdtypes.signalfd",  # SIGNALFD: signal mask
    "criu.resources.fdtypes.timerfd",  # TIMERFD: clock, time left, ticks
    "criu.resources.fdtypes.unix",  # UNIXSK: unix sockets (+ sk-queues.img)
    "criu.resources.fdtypes.inet",  # INETSK: listening TCP, UDP; last:
                                    #   takes (and refuses) any socket left
)

REQUIRED = ("FD_TYPE", "match", "dump", "open")
OPTIONAL = ("dump_finish", "collect", "prepare", "inherit_key",
            "shared_key", "post_open", "enter_session")

_loaded: list[ModuleType] = []


def load() -> list[ModuleType]:
    """The kind modules, imported once, in table order."""
    if not _loaded:
        _loaded.extend(importlib.import_module(name) for name in KINDS)
    return _loaded


def matching(info: Any) -> Optional[ModuleType]:
    """The first kind that takes this fd on dump, or None."""
    return next((k for k in load() if k.match(info)), None)


def by_type(fd_type: int) -> Optional[ModuleType]:
    """The kind of a file_entry type on restore, or None."""
    return next((k for k in load() if k.FD_TYPE == fd_type), None)


def hooks(name: str) -> list[Any]:
    """The optional hook `name` of every kind that has it, in table order."""
    return [getattr(k, name) for k in load() if hasattr(k, name)]
