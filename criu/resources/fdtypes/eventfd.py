"""eventfds (eventfd(2)): eventfd_file_entry in files.img, as CRIU writes
it: the file flags and the counter.

Dump reads /proc/PID/fdinfo/N: "eventfd-count:" (hex) and, since Linux
6.5, "eventfd-semaphore:".  The counter is what the next read() returns
(all of it, or 1 at a time in semaphore mode); a read by criu would take
it from the task, fdinfo only looks.

EFD_SEMAPHORE lives in the eventfd, not in the file flags, and CRIU's
image has no field for it (CRIU restores every eventfd without it).  It is
carried here in bit 0 of `flags`, which is O_WRONLY: an eventfd's file is
always O_RDWR, so the bit is otherwise never set, and CRIU restoring such
an image passes the flags to F_SETFL, which ignores the access mode.  An
image of CRIU's (bit clear) gives a counting eventfd, as CRIU would.  On a
kernel older than 6.5 the mode cannot be seen: the eventfd is imaged as a
counting one, with a warning.

Restore: eventfd(0, EFD_SEMAPHORE as dumped), then one write of the
counter (eventfd(2)'s initial value is only 32 bits wide, the counter 64),
then the file flags (O_NONBLOCK).  An eventfd several tasks hold is made
once by criu and inherited (files.collect), so they keep sharing it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from typing import Any, Optional

from compel.native import fdkinds
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 6                         # fd_types.EVENTFD
LINK = "anon_inode:[eventfd]"
# Bit 0 of eventfd_file_entry.flags: O_WRONLY, never an eventfd's own.
SEMAPHORE_BIT = os.O_WRONLY


@dataclasses.dataclass(frozen=True)
class EventfdInfo:
    """What /proc/PID/fdinfo/N says of an eventfd."""

    count: int
    semaphore: Optional[bool]       # None: the kernel does not say (< 6.5)


def parse_fdinfo(text: str) -> EventfdInfo:
    """The counter and mode of an eventfd from its fdinfo; ValueError if
    there is no (valid) "eventfd-count:" line."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "eventfd-count" not in fields:
        raise ValueError("no eventfd-count: line in its fdinfo")
    count = int(fields["eventfd-count"], 16)
    sem = fields.get("eventfd-semaphore")
    return EventfdInfo(count=count,
                       semaphore=None if sem is None else int(sem) != 0)


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


# ---------------------------------------------------------------- dump side
def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import eventfd_pb2
    where = files.where(task.pid, info.fd)
    try:
        ei = parse_fdinfo(info.text)
    except ValueError as e:
        raise DumpError(f"{where}: eventfd: {e}") from e
    flags = files.file_flags(info) & ~SEMAPHORE_BIT
    if ei.semaphore is None:
        ctx.log.warning("%s: eventfd: the kernel does not say whether it "
                        "is in semaphore mode (Linux < 6.5): restored as a "
                        "counting eventfd", where)
    elif ei.semaphore:
        flags |= SEMAPHORE_BIT
    entry = eventfd_pb2.eventfd_file_entry(
        id=files.new_id(ctx), flags=flags, fown=files.fown(),
        counter=ei.count)
    ctx.log.info("%s: eventfd, counter %d%s", where, ei.count,
                 ", semaphore" if ei.semaphore else "")
    return files.add_file(ctx, FD_TYPE, efd=entry)


# ------------------------------------------------------------- restore side
def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A new eventfd holding the dumped counter, in the dumped mode."""
    efe, where = entry.efd, files.where(task.pid, fd)
    if efe.counter > fdkinds.EVENTFD_MAX:
        raise RestoreError(f"{where}: eventfd: counter {efe.counter:#x} is "
                           f"beyond the largest an eventfd holds "
                           f"({fdkinds.EVENTFD_MAX:#x})")
    mode = fdkinds.EFD_SEMAPHORE if efe.flags & SEMAPHORE_BIT else 0
    try:
        new = os.eventfd(0, fdkinds.EFD_CLOEXEC | mode)
    except OSError as e:
        raise RestoreError(f"{where}: eventfd: cannot create it: "
                           f"{e.strerror}") from e
    try:
        if efe.counter:
            os.eventfd_write(new, efe.counter)
        fcntl.fcntl(new, fcntl.F_SETFL, efe.flags & ~files.OPEN_ONLY_FLAGS
                    & ~os.O_ACCMODE)
    except OSError as e:
        os.close(new)
        raise RestoreError(f"{where}: eventfd: cannot set its counter "
                           f"{efe.counter} and flags {efe.flags:#o}: "
                           f"{e.strerror}") from e
    ctx.log.debug("%s: eventfd, counter %d%s", where, efe.counter,
                  ", semaphore" if mode else "")
    return new
