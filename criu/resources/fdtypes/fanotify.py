"""fanotify groups: fanotify_file_entry in files.img (the fanotify_init
flags and event_f_flags, each mark in its mark list), as current CRIU
writes them.

Dump reads /proc/PID/fdinfo/N: "fanotify flags:X event-flags:Y" gives
faflags and evflags, then one line per mark:

    fanotify ino:.. sdev:.. mflags:.. mask:.. ignored_mask:..
        fhandle-bytes:.. fhandle-type:.. f_handle:..     an inode mark
    fanotify mnt_id:.. mflags:.. mask:.. ignored_mask:..  a mount mark

An inode mark is imaged like an inotify watch (the inode's file handle,
checked to open again at dump time, with the path reaching it as a hint);
a mount mark by its mount id, the device of that mount (s_dev) and, as
CRIU does without a mount namespace, its mount point without the leading
"/" (me.path).

Restore (open(), in the task or in criu for a group several tasks share):
fanotify_init(faflags, evflags) (then close-on-exec), then per mark
fanotify_mark(FAN_MARK_ADD | the mark's flags, mask) and, for its ignored
mask, the same with FAN_MARK_IGNORED_MASK (FAN_MARK_IGNORE if the mark
had it): an inode mark on the inode opened by its handle (inotify's
code: the path hint if the handle no longer opens), a mount mark on the
mount point of its mount id in /proc/self/mountinfo (me.path when that
id is gone).  mflags are the user flags the kernel reports
(FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_EVICTABLE, FAN_MARK_IGNORE).

Refused at dump, one line each: filesystem (FAN_MARK_FILESYSTEM) and
mount namespace marks, marks asking for permission events (a frozen
listener would hold every opener of those files, criu included, and the
answers owed for events read but not answered cannot be imaged), inode
marks on a filesystem without file handles or on a deleted file.  Not
preserved, as with CRIU: events queued and not yet read at dump time, and
events between dump and restore.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import re
from types import SimpleNamespace
from typing import Any, Optional

from compel.native import fsnotify as nfs
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from criu.resources.fdtypes import inotify

FD_TYPE = 12                        # fd_types.FANOTIFY
LINK = "anon_inode:[fanotify]"

MARK_INODE = 1                      # mark_type.INODE
MARK_MOUNT = 2                      # mark_type.MOUNT

# The mark flags fdinfo reports that fanotify_mark takes back as they are.
_KEPT_MFLAGS = nfs.FAN_MARK_EVICTABLE


@dataclasses.dataclass(frozen=True)
class Mark:
    """One mark as /proc/PID/fdinfo of the fanotify fd shows it."""

    kind: str                       # "inode", "mount", or what else it is
    mflags: int
    mask: int
    ignored_mask: int
    ino: int = 0                    # inode marks
    sdev: int = 0                   # inode marks: the kernel's s_dev
    fh_type: int = -1               # inode marks: -1 without a handle
    handle: bytes = b""
    mnt_id: int = 0                 # mount marks
    line: str = ""


@dataclasses.dataclass(frozen=True)
class Group:
    """A fanotify fd's fdinfo: init flags, event_f_flags, marks."""

    flags: int
    event_flags: int
    marks: list[Mark]


_HEAD_RE = re.compile(r"fanotify\s+flags:\s*(?P<flags>[0-9a-fA-F]+)\s+"
                      r"event-flags:\s*(?P<ev>[0-9a-fA-F]+)\s*$")
_TAIL = (r"mflags:\s*(?P<mflags>[0-9a-fA-F]+)\s+mask:\s*(?P<mask>[0-9a-fA-F]+)"
         r"\s+ignored_mask:\s*(?P<ignored>[0-9a-fA-F]+)")
_INODE_RE = re.compile(
    r"fanotify\s+ino:\s*(?P<ino>[0-9a-fA-F]+)\s+sdev:\s*(?P<sdev>[0-9a-fA-F]+)"
    r"\s+" + _TAIL +
    r"(?:\s+fhandle-bytes:\s*(?P<bytes>[0-9a-fA-F]+)\s+"
    r"fhandle-type:\s*(?P<type>[0-9a-fA-F]+)\s+"
    r"f_handle:\s*(?P<handle>[0-9a-fA-F]*))?\s*$")
_MOUNT_RE = re.compile(r"fanotify\s+mnt_id:\s*(?P<mnt>[0-9a-fA-F]+)\s+"
                       + _TAIL + r"\s*$")
_OTHER_RE = re.compile(r"fanotify\s+(?P<what>[a-z_]+):\s*(?P<val>\S+)\s+"
                       + _TAIL)


def _mark(m: re.Match[str], kind: str, line: str, **where: Any) -> Mark:
    return Mark(kind=kind, mflags=int(m["mflags"], 16),
                mask=int(m["mask"], 16), ignored_mask=int(m["ignored"], 16),
                line=line, **where)


def parse_fdinfo(text: str) -> Group:
    """The group of a fanotify fdinfo (every number there is hex).  A
    filesystem mark (sdev:) or a mount namespace mark (mntns:) comes back
    with that kind, for dump to refuse; ValueError on a line not
    understood or a missing "fanotify flags:" line."""
    head: Optional[re.Match[str]] = None
    marks = []
    for line in text.splitlines():
        if not line.startswith("fanotify"):
            continue
        if (m := _HEAD_RE.match(line)) is not None:
            head = m
        elif (m := _INODE_RE.match(line)) is not None:
            if m["bytes"] is None:
                fh_type, handle = -1, b""
            else:
                fh_type = int(m["type"], 16)
                handle = bytes.fromhex(m["handle"])[:int(m["bytes"], 16)]
            marks.append(_mark(m, "inode", line, ino=int(m["ino"], 16),
                               sdev=int(m["sdev"], 16), fh_type=fh_type,
                               handle=handle))
        elif (m := _MOUNT_RE.match(line)) is not None:
            marks.append(_mark(m, "mount", line, mnt_id=int(m["mnt"], 16)))
        elif (m := _OTHER_RE.match(line)) is not None:
            kind = {"sdev": "filesystem", "mntns": "mount namespace"}.get(
                m["what"], m["what"])
            marks.append(_mark(m, kind, line))
        else:
            raise ValueError(f"unexpected fanotify fdinfo line: {line!r}")
    if head is None:
        raise ValueError("no \"fanotify flags:\" line")
    return Group(flags=int(head["flags"], 16),
                 event_flags=int(head["ev"], 16), marks=marks)


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


def _mount_of(pid: int, mnt_id: int) -> Optional[tuple[str, int]]:
    """(mount point, kernel s_dev) of mount mnt_id as pid sees it."""
    with io.open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and int(fields[0]) == mnt_id:
                major, minor = (int(x) for x in fields[2].split(":"))
                return inotify._unescape(fields[4]), major << 20 | minor
    return None


def _locate(what: str, mk: Mark) -> tuple[str, int]:
    """(path hint or "", mount id) of a marked inode (inotify's lookup by
    file handle)."""
    return inotify.locate_inode(what, mk.sdev, mk.ino, mk.fh_type,
                                mk.handle, "marked")


def _mark_entry(where: str, pid: int, file_id: int, mk: Mark) -> Any:
    from images.pb import fh_pb2, fsnotify_pb2
    if mk.kind == "inode":
        dev = f"{mk.sdev >> 20}:{mk.sdev & 0xFFFFF}"
        what = f"{where}: fanotify mark on inode {mk.ino} on {dev}"
    elif mk.kind == "mount":
        what = f"{where}: fanotify mark on mount {mk.mnt_id}"
    else:
        raise DumpError(f"{where}: fanotify {mk.kind} mark "
                        f"({mk.line.strip()}): not supported")
    if (mk.mask | mk.ignored_mask) & nfs.FAN_PERM_EVENTS:
        raise DumpError(f"{what}: permission events (mask {mk.mask:#x}): "
                        "not supported")
    entry = fsnotify_pb2.fanotify_mark_entry(
        id=file_id, mflags=mk.mflags, mask=mk.mask,
        ignored_mask=mk.ignored_mask)
    if mk.kind == "inode":
        path, mnt_id = _locate(what, mk)
        fh = fh_pb2.fh_entry(bytes=len(mk.handle), type=mk.fh_type,
                             handle=inotify.handle_words(mk.handle),
                             mnt_id=mnt_id)
        if path:
            fh.path = path
        entry.type = MARK_INODE
        entry.s_dev = mk.sdev
        entry.ie.i_ino = mk.ino
        entry.ie.f_handle.CopyFrom(fh)
    else:
        try:
            mount = _mount_of(pid, mk.mnt_id)
        except OSError as e:
            raise DumpError(f"{what}: cannot read its mountinfo: "
                            f"{e.strerror}") from e
        if mount is None:
            raise DumpError(f"{what}: the task does not see that mount")
        entry.type = MARK_MOUNT
        entry.s_dev = mount[1]
        entry.me.mnt_id = mk.mnt_id
        entry.me.path = mount[0][1:]
    return entry


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import fsnotify_pb2
    where = files.where(task.pid, info.fd)
    try:
        group = parse_fdinfo(info.text)     # as files.py read it
    except ValueError as e:
        raise DumpError(f"{where}: fanotify: {e}") from e
    file_id = files.new_id(ctx)
    marks = [_mark_entry(where, task.pid, file_id, mk) for mk in group.marks]
    for mk in marks:
        ctx.log.debug("%s: fanotify %s mark mask %#x ignored %#x flags %#x",
                      where, "inode" if mk.type == MARK_INODE else "mount",
                      mk.mask, mk.ignored_mask, mk.mflags)
    entry = fsnotify_pb2.fanotify_file_entry(
        id=file_id, flags=files.file_flags(info), fown=files.fown(),
        faflags=group.flags, evflags=group.event_flags, mark=marks)
    return files.add_file(ctx, FD_TYPE, ffy=entry)


# ------------------------------------------------------------- restore side
def _self_mount_point(mnt_id: int) -> Optional[str]:
    """The mount point of criu's mount mnt_id, None if it has none."""
    with io.open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and int(fields[0]) == mnt_id:
                return inotify._unescape(fields[4])
    return None


def _open_mount(what: str, fme: Any) -> int:
    """An O_PATH fd on the mount point of a mount mark: its mount id when
    criu sees that mount, else the dumped mount point (me.path)."""
    point = _self_mount_point(fme.me.mnt_id)
    if point is None:
        if not fme.me.HasField("path"):
            raise RestoreError(f"{what}: no mount {fme.me.mnt_id} and no "
                               "mount point in the image")
        point = "/" + fme.me.path
    try:
        fd = os.open(point, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{what}: {point}: {e.strerror}") from e
    if os.fstat(fd).st_dev != inotify.kdev_to_dev(fme.s_dev):
        os.close(fd)
        raise RestoreError(f"{what}: {point} is not on device "
                           f"{fme.s_dev >> 20}:{fme.s_dev & 0xFFFFF}")
    return fd


def _add_mark(gfd: int, what: str, fme: Any) -> None:
    flags = nfs.FAN_MARK_ADD | (fme.mflags & _KEPT_MFLAGS)
    if fme.type == MARK_MOUNT:
        target = _open_mount(what, fme)
        flags |= nfs.FAN_MARK_MOUNT
    elif fme.type == MARK_INODE:
        target = inotify._open_watched(what, SimpleNamespace(
            f_handle=fme.ie.f_handle, s_dev=fme.s_dev))
    else:
        raise RestoreError(f"{what}: unknown mark type {fme.type}")
    path = f"/proc/self/fd/{target}"
    try:
        if fme.mask:
            nfs.fanotify_mark(gfd, flags, fme.mask, nfs.AT_FDCWD, path)
        if fme.ignored_mask:
            ignore = (nfs.FAN_MARK_IGNORE
                      if fme.mflags & nfs.FAN_MARK_IGNORE
                      else nfs.FAN_MARK_IGNORED_MASK)
            nfs.fanotify_mark(
                gfd, flags | ignore
                | (fme.mflags & nfs.FAN_MARK_IGNORED_SURV_MODIFY),
                fme.ignored_mask, nfs.AT_FDCWD, path)
    except OSError as e:
        raise RestoreError(f"{what}: {e.strerror}") from e
    finally:
        os.close(target)


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A new fanotify group holding the dumped marks."""
    fe = entry.ffy
    where = files.where(task.pid, fd)
    try:
        # faflags exactly (fdinfo shows them, FAN_CLOEXEC included), the
        # fd then made close-on-exec
        gfd = nfs.fanotify_init(fe.faflags, fe.evflags)
    except OSError as e:
        raise RestoreError(f"{where}: fanotify_init flags {fe.faflags:#x} "
                           f"event flags {fe.evflags:#x}: {e.strerror}") from e
    try:
        fcntl.fcntl(gfd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        for fme in fe.mark:
            if fme.type == MARK_MOUNT:
                what = (f"{where}: fanotify mark on mount {fme.me.mnt_id} "
                        f"(/{fme.me.path})")
            else:
                hint = fme.ie.f_handle.path
                what = (f"{where}: fanotify mark on inode {fme.ie.i_ino}"
                        + (f" ({hint})" if hint else ""))
            _add_mark(gfd, what, fme)
        fcntl.fcntl(gfd, fcntl.F_SETFL, fe.flags & ~files.OPEN_ONLY_FLAGS)
    except BaseException:
        os.close(gfd)
        raise
    ctx.log.debug("%s: fanotify with %d marks", where, len(fe.mark))
    return gfd
