"""signalfds (signalfd(2)): signalfd_entry in files.img, as CRIU writes
it: the file flags and the mask of signals the fd accepts.

Dump reads "sigmask:" from /proc/PID/fdinfo/N (hex, bit N-1 for signal N,
SIGKILL and SIGSTOP never in it).  A signalfd holds no signals itself:
read() takes them from the pending signals of whichever task reads, which
the task's own images keep (signal-p-*.img, signal-s-*.img) and its
restore queues again; the signalfd only needs its mask back for those
signals to be read from it as before.

Restore: signalfd4(-1, mask, SFD_CLOEXEC), then the file flags
(O_NONBLOCK).  Nothing in it belongs to the task that opens it, so a
signalfd several tasks hold is made once by criu and inherited.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from compel.native import fdkinds
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 9                         # fd_types.SIGNALFD
LINK = "anon_inode:[signalfd]"


def parse_fdinfo(text: str) -> int:
    """The signal mask of a signalfd from its fdinfo; ValueError if there
    is no (valid) "sigmask:" line."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "sigmask":
            return int(value.strip(), 16)
    raise ValueError("no sigmask: line in its fdinfo")


def signals(mask: int) -> list[int]:
    """The signal numbers of a mask, for messages."""
    return [bit + 1 for bit in range(64) if mask >> bit & 1]


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


# ---------------------------------------------------------------- dump side
def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import signalfd_pb2
    where = files.where(task.pid, info.fd)
    try:
        mask = parse_fdinfo(info.text)
    except ValueError as e:
        raise DumpError(f"{where}: signalfd: {e}") from e
    entry = signalfd_pb2.signalfd_entry(
        id=files.new_id(ctx), flags=files.file_flags(info),
        fown=files.fown(), sigmask=mask)
    ctx.log.info("%s: signalfd of signals %s", where, signals(mask))
    return files.add_file(ctx, FD_TYPE, sgfd=entry)


# ------------------------------------------------------------- restore side
def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A new signalfd of the dumped mask with the dumped file flags."""
    sfe, where = entry.sgfd, files.where(task.pid, fd)
    try:
        new = fdkinds.signalfd(sfe.sigmask, fdkinds.SFD_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{where}: signalfd: cannot create it for mask "
                           f"{sfe.sigmask:#x}: {e.strerror}") from e
    try:
        fcntl.fcntl(new, fcntl.F_SETFL, sfe.flags & ~files.OPEN_ONLY_FLAGS)
    except OSError as e:
        os.close(new)
        raise RestoreError(f"{where}: signalfd: cannot set its flags "
                           f"{sfe.flags:#o}: {e.strerror}") from e
    ctx.log.debug("%s: signalfd of signals %s", where, signals(sfe.sigmask))
    return new
