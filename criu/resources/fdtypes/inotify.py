"""inotify instances: inotify_file_entry in files.img, each watch (watch
descriptor, mask, the watched inode as a file handle) in its wd list, as
current CRIU writes them.

Dump reads the watches from /proc/PID/fdinfo/N ("inotify wd:1 ino:20e013
sdev:fe00000 mask:300 ignored_mask:0 fhandle-bytes:8 fhandle-type:1
f_handle:13e0...").  A watch names an inode, not a path: criu opens the
inode by its handle (open_by_handle_at on a mount of the device the
fdinfo names) to check it is still there and linked, and keeps the path
it is reached by as a hint (fh_entry.path).

Restore (open(), in the task or in criu for an instance several tasks
share): inotify_init1, then each watch in increasing wd order: the inode
opened by its handle (the path hint if the handle no longer opens), the
watch added through /proc/self/fd/N with the dumped mask, and the wd
made the dumped one.  The kernel hands out wds in increasing order from a
cursor; INOTIFY_IOC_SETNEXTWD moves the cursor to the wd wanted.  Without
that ioctl (a kernel without CONFIG_CHECKPOINT_RESTORE) the watch is added
and removed until the counter reaches the wd, as CRIU does; each removal
queues an IN_IGNORED event, read off before the task runs.

Not preserved, as with CRIU: events queued and not yet read at dump time
(the kernel offers no way to read them without consuming them, nor to
queue them again), and events that happen between dump and restore.  A
watch on an inode that was deleted is refused at dump.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import io
import os
import re
import struct
from typing import Any, Iterator

from compel.native import fsnotify as nfs
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

FD_TYPE = 8                         # fd_types.INOTIFY
LINK = "anon_inode:inotify"

FH_WORDS = 16                       # fh_entry_sizes.min_entries: CRIU
                                    # always writes 16 words (128 bytes)
MAX_WD_STEPS = 1 << 16              # add/remove rounds without the ioctl


@dataclasses.dataclass(frozen=True)
class Watch:
    """One watch as /proc/PID/fdinfo of the inotify fd shows it."""

    wd: int
    ino: int
    sdev: int                       # the kernel's s_dev (major << 20 | minor)
    mask: int
    ignored_mask: int
    fh_type: int
    handle: bytes                   # f_handle, fhandle-bytes long


_WD_RE = re.compile(
    r"inotify\s+wd:\s*(?P<wd>[0-9a-fA-F]+)\s+ino:\s*(?P<ino>[0-9a-fA-F]+)\s+"
    r"sdev:\s*(?P<sdev>[0-9a-fA-F]+)\s+mask:\s*(?P<mask>[0-9a-fA-F]+)\s+"
    r"ignored_mask:\s*(?P<ignored>[0-9a-fA-F]+)"
    r"(?:\s+fhandle-bytes:\s*(?P<bytes>[0-9a-fA-F]+)\s+"
    r"fhandle-type:\s*(?P<type>[0-9a-fA-F]+)\s+"
    r"f_handle:\s*(?P<handle>[0-9a-fA-F]*))?")


def parse_fdinfo(text: str) -> list[Watch]:
    """The watches of an inotify fdinfo (every number there is hex, the
    wd too).  A watch without a handle (a filesystem that cannot encode
    one) gets handle b"" and type -1."""
    out = []
    for line in text.splitlines():
        if not line.startswith("inotify"):
            continue
        m = _WD_RE.match(line)
        if m is None:
            raise ValueError(f"unexpected inotify fdinfo line: {line!r}")
        if m["bytes"] is None:
            fh_type, handle = -1, b""
        else:
            fh_type = int(m["type"], 16)
            handle = bytes.fromhex(m["handle"])[:int(m["bytes"], 16)]
        out.append(Watch(wd=int(m["wd"], 16), ino=int(m["ino"], 16),
                         sdev=int(m["sdev"], 16), mask=int(m["mask"], 16),
                         ignored_mask=int(m["ignored"], 16), fh_type=fh_type,
                         handle=handle))
    return out


def kdev_to_dev(sdev: int) -> int:
    """The kernel's internal dev_t (fdinfo, images) as st_dev has it."""
    return os.makedev(sdev >> 20, sdev & 0xFFFFF)


def handle_words(handle: bytes) -> list[int]:
    """f_handle packed into fh_entry.handle: 64-bit words in the host's
    byte order, zero-padded to CRIU's 16."""
    raw = handle.ljust(FH_WORDS * 8, b"\0")
    return list(struct.unpack(f"={len(raw) // 8}Q", raw))


def handle_bytes(fh: Any) -> bytes:
    """The f_handle bytes of an fh_entry."""
    raw = struct.pack(f"={len(fh.handle)}Q", *fh.handle)
    return raw[:fh.bytes]


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline, backslash are octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _mounts_of(sdev: int) -> Iterator[tuple[int, str]]:
    """(mount id, mount point) of criu's mounts of device sdev, those
    showing the whole filesystem (root "/") first."""
    want = f"{sdev >> 20}:{sdev & 0xFFFFF}"
    whole: list[tuple[int, str]] = []
    part: list[tuple[int, str]] = []
    with io.open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[2] == want:
                entry = (int(fields[0]), _unescape(fields[4]))
                (whole if fields[3] == "/" else part).append(entry)
    yield from whole + part


def mount_fd(sdev: int) -> tuple[int, int]:
    """(fd, mount id) of a directory on a mount of device sdev, for
    open_by_handle_at (which takes no O_PATH fd).  LookupError if criu
    sees no such mount."""
    dev = kdev_to_dev(sdev)
    for mnt_id, point in _mounts_of(sdev):
        try:
            fd = os.open(point, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        if os.fstat(fd).st_dev == dev:  # not covered by another mount
            return fd, mnt_id
        os.close(fd)
    raise LookupError(f"no mount of device {sdev >> 20}:{sdev & 0xFFFFF} "
                      "is visible")


def match(info: proc.FdInfo) -> bool:
    return info.target == LINK


def _read_watches(pid: int, info: proc.FdInfo) -> list[Watch]:
    """The watches in the fdinfo files.py read for this fd."""
    try:
        return parse_fdinfo(info.text)
    except ValueError as e:
        raise DumpError(f"{files.where(pid, info.fd)}: inotify: {e}") from e


def _locate(where: str, w: Watch) -> tuple[str, int]:
    """(path hint or "", mount id) of a watched inode."""
    dev = f"{w.sdev >> 20}:{w.sdev & 0xFFFFF}"
    what = f"{where}: inotify watch wd {w.wd} (inode {w.ino} on {dev})"
    return locate_inode(what, w.sdev, w.ino, w.fh_type, w.handle, "watched")


def locate_inode(what: str, sdev: int, ino: int, fh_type: int,
                 handle: bytes, role: str) -> tuple[str, int]:
    """(path hint or "", mount id) of an inode an fsnotify group watches
    (inotify watch, fanotify mark), opened by its file handle; DumpError
    when it cannot be found again at restore.  role names it in messages
    ("watched", "marked")."""
    if not handle:
        raise DumpError(f"{what}: the filesystem gives no file handle: "
                        "not supported")
    try:
        mfd, mnt_id = mount_fd(sdev)
    except LookupError as e:
        raise DumpError(f"{what}: {e}") from e
    try:
        fd = nfs.open_by_handle_at(mfd, fh_type, handle)
    except OSError as e:
        raise DumpError(f"{what}: cannot open it by its handle: "
                        f"{e.strerror}") from e
    finally:
        os.close(mfd)
    try:
        st = os.fstat(fd)
        if st.st_ino != ino:
            raise DumpError(f"{what}: its handle opens inode {st.st_ino}")
        if st.st_nlink == 0:
            raise DumpError(f"{what}: the {role} file was deleted: "
                            "not supported")
        path = os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    try:
        pst = os.stat(path)
        if (pst.st_dev, pst.st_ino) != (st.st_dev, st.st_ino):
            path = ""
    except OSError:
        path = ""                   # no path leads there: the handle only
    return path, mnt_id


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import fh_pb2, fsnotify_pb2
    where = files.where(task.pid, info.fd)
    watches = _read_watches(task.pid, info)
    file_id = files.new_id(ctx)
    wds = []
    for w in watches:
        path, mnt_id = _locate(where, w)
        fh = fh_pb2.fh_entry(bytes=len(w.handle), type=w.fh_type,
                             handle=handle_words(w.handle), mnt_id=mnt_id)
        if path:
            fh.path = path
        wds.append(fsnotify_pb2.inotify_wd_entry(
            id=file_id, i_ino=w.ino, mask=w.mask,
            ignored_mask=w.ignored_mask, s_dev=w.sdev, wd=w.wd,
            f_handle=fh))
        ctx.log.debug("%s: inotify wd %d mask %#x on %s", where, w.wd,
                      w.mask, path or f"inode {w.ino}")
    entry = fsnotify_pb2.inotify_file_entry(
        id=file_id, flags=files.file_flags(info), fown=files.fown(), wd=wds)
    return files.add_file(ctx, FD_TYPE, ify=entry)


# ------------------------------------------------------------- restore side
def _open_watched(what: str, w: Any) -> int:
    """An O_PATH fd on the watched inode: by its handle, else by the path
    hint; RestoreError when neither leads there."""
    why = []
    fh = w.f_handle
    try:
        mfd, _ = mount_fd(w.s_dev)
        try:
            return nfs.open_by_handle_at(mfd, fh.type, handle_bytes(fh))
        finally:
            os.close(mfd)
    except LookupError as e:
        why.append(str(e))
    except OSError as e:
        why.append(f"its handle: {e.strerror}")
    if fh.HasField("path") and fh.path:
        try:
            return os.open(fh.path, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            why.append(f"{fh.path}: {e.strerror}")
    raise RestoreError(f"{what}: cannot find the watched inode: "
                       f"{'; '.join(why)}")


def _add_watch(ifd: int, what: str, w: Any) -> bool:
    """Add watch w with its dumped wd; True if that took add/remove
    rounds (IN_IGNORED events queued)."""
    target = _open_watched(what, w)
    path = f"/proc/self/fd/{target}"
    rounds = False
    try:
        try:
            nfs.inotify_set_next_wd(ifd, w.wd)
        except OSError as e:
            if e.errno not in (errno.ENOTTY, errno.EINVAL):
                raise
        wd = nfs.inotify_add_watch(ifd, path, w.mask)
        for _ in range(MAX_WD_STEPS):
            if wd >= w.wd:
                break
            rounds = True
            nfs.inotify_rm_watch(ifd, wd)
            wd = nfs.inotify_add_watch(ifd, path, w.mask)
    except OSError as e:
        raise RestoreError(f"{what}: {e.strerror}") from e
    finally:
        os.close(target)
    if wd != w.wd:
        raise RestoreError(f"{what}: the kernel gave wd {wd}")
    return rounds


def _drain(ifd: int) -> None:
    """Read off the queued events (the IN_IGNORED of removed rounds)."""
    while True:
        try:
            if not nfs.read_events(ifd):
                return
        except BlockingIOError:
            return


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A new inotify instance holding the dumped watches at their wds."""
    ie = entry.ify
    where = files.where(task.pid, fd)
    try:
        ifd = nfs.inotify_init1(nfs.IN_CLOEXEC | nfs.IN_NONBLOCK)
    except OSError as e:
        raise RestoreError(f"{where}: {e.strerror}") from e
    try:
        rounds = False
        for w in sorted(ie.wd, key=lambda w: w.wd):
            what = (f"{where}: inotify watch wd {w.wd} (inode {w.i_ino}"
                    + (f", {w.f_handle.path})" if w.f_handle.path else ")"))
            rounds |= _add_watch(ifd, what, w)
        if rounds:
            _drain(ifd)
        fcntl.fcntl(ifd, fcntl.F_SETFL, ie.flags & ~files.OPEN_ONLY_FLAGS)
    except BaseException:
        os.close(ifd)
        raise
    ctx.log.debug("%s: inotify with %d watches", where, len(ie.wd))
    return ifd
