"""inotify and file handles: what criu needs to bring inotify watches back.

An inotify watch names an inode, not a path; /proc/PID/fdinfo shows it as
a file handle (name_to_handle_at's encoding), which open_by_handle_at turns
back into an open file on any mount of that filesystem.  The watch
descriptor (wd) a program got must come back the same:
INOTIFY_IOC_SETNEXTWD (CONFIG_CHECKPOINT_RESTORE) sets the number the next
inotify_add_watch hands out.

fanotify groups (fanotify_init, CAP_SYS_ADMIN) hold marks on inodes,
mounts or filesystems (fanotify_mark), each with an event mask and an
ignored mask; /proc/PID/fdinfo shows them too, inode marks with a handle.
"""

from __future__ import annotations

import ctypes
import fcntl
import os

from compel.native._libc import sys

IN_CLOEXEC = os.O_CLOEXEC
IN_NONBLOCK = os.O_NONBLOCK

IN_ACCESS = 0x001
IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_CLOSE_NOWRITE = 0x010
IN_OPEN = 0x020
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_MASK_ADD = 0x20000000
IN_ONESHOT = 0x80000000

# _IOW('I', 0, __s32): the argument is the wd itself, not a pointer.
INOTIFY_IOC_SETNEXTWD = 0x40044900

MAX_HANDLE_SZ = 128
AT_EMPTY_PATH = 0x1000


class FileHandle(ctypes.Structure):
    """An inode as its filesystem encodes it (room for the largest one).

    struct file_handle {
        unsigned int  handle_bytes;   /* size of f_handle */
        int           handle_type;
        unsigned char f_handle[];     /* MAX_HANDLE_SZ at most */
    };
    """

    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE_SZ)]


class InotifyEvent(ctypes.Structure):
    """The fixed part of one event read from an inotify fd.

    struct inotify_event {
        __s32 wd;
        __u32 mask;
        __u32 cookie;
        __u32 len;        /* bytes of name[] that follow */
        char  name[];
    };
    """

    _fields_ = [("wd", ctypes.c_int32), ("mask", ctypes.c_uint32),
                ("cookie", ctypes.c_uint32), ("len", ctypes.c_uint32)]


def inotify_init1(flags: int = IN_CLOEXEC) -> int:
    return sys("inotify_init1", flags)


def inotify_add_watch(fd: int, path: str | bytes, mask: int) -> int:
    """The wd of the watch on path (an existing watch of the same inode
    in this instance keeps its wd and takes the new mask)."""
    raw = os.fsencode(path)
    return sys("inotify_add_watch", fd, ctypes.c_char_p(raw),
               mask & 0xFFFFFFFF)


def inotify_rm_watch(fd: int, wd: int) -> None:
    sys("inotify_rm_watch", fd, wd)


def inotify_set_next_wd(fd: int, wd: int) -> None:
    """The next new watch of this instance gets wd (if free).  OSError
    ENOTTY on a kernel without CONFIG_CHECKPOINT_RESTORE."""
    fcntl.ioctl(fd, INOTIFY_IOC_SETNEXTWD, wd)


def read_events(fd: int, bufsize: int = 65536) -> list[tuple[int, int, int,
                                                            bytes]]:
    """(wd, mask, cookie, name) of the events one read() returns."""
    data = os.read(fd, bufsize)
    out, off, head = [], 0, ctypes.sizeof(InotifyEvent)
    while off + head <= len(data):
        ev = InotifyEvent.from_buffer_copy(data, off)
        name = data[off + head:off + head + ev.len].rstrip(b"\0")
        out.append((ev.wd, ev.mask, ev.cookie, name))
        off += head + ev.len
    return out


def name_to_handle_at(dirfd: int, path: str | bytes,
                      flags: int = 0) -> tuple[int, bytes, int]:
    """(handle_type, handle bytes, mount id) of path (relative to dirfd;
    "" with AT_EMPTY_PATH: dirfd itself)."""
    fh = FileHandle(handle_bytes=MAX_HANDLE_SZ)
    mnt_id = ctypes.c_int(0)
    sys("name_to_handle_at", dirfd, ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(fh), ctypes.byref(mnt_id), flags)
    return fh.handle_type, bytes(fh.f_handle[:fh.handle_bytes]), mnt_id.value


def open_by_handle_at(mount_fd: int, handle_type: int, handle: bytes,
                      flags: int = os.O_PATH | os.O_CLOEXEC) -> int:
    """An fd on the inode the handle encodes, on mount_fd's filesystem.
    Needs CAP_DAC_READ_SEARCH; ESTALE if the inode is gone."""
    if len(handle) > MAX_HANDLE_SZ:
        raise OSError(22, f"open_by_handle_at: handle of {len(handle)} "
                      f"bytes (at most {MAX_HANDLE_SZ})")
    fh = FileHandle(handle_bytes=len(handle), handle_type=handle_type)
    ctypes.memmove(fh.f_handle, handle, len(handle))
    return sys("open_by_handle_at", mount_fd, ctypes.byref(fh), flags)


# fanotify_init flags (FAN_CLASS_* are values of the 0xc bits).
FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_CLASS_NOTIF = 0x0
FAN_CLASS_CONTENT = 0x4
FAN_CLASS_PRE_CONTENT = 0x8
FAN_UNLIMITED_QUEUE = 0x10
FAN_UNLIMITED_MARKS = 0x20
FAN_REPORT_FID = 0x200

# fanotify events (mark and ignored masks).
FAN_ACCESS = 0x1
FAN_MODIFY = 0x2
FAN_ATTRIB = 0x4
FAN_CLOSE_WRITE = 0x8
FAN_CLOSE_NOWRITE = 0x10
FAN_OPEN = 0x20
FAN_OPEN_EXEC = 0x1000
FAN_OPEN_PERM = 0x10000
FAN_ACCESS_PERM = 0x20000
FAN_OPEN_EXEC_PERM = 0x40000
FAN_PRE_ACCESS = 0x100000
FAN_ONDIR = 0x40000000
FAN_EVENT_ON_CHILD = 0x08000000
# events a listener must answer (FAN_ALLOW/FAN_DENY) before they go on
FAN_PERM_EVENTS = (FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM
                   | FAN_PRE_ACCESS)

# fanotify_mark flags.
FAN_MARK_ADD = 0x1
FAN_MARK_REMOVE = 0x2
FAN_MARK_DONT_FOLLOW = 0x4
FAN_MARK_ONLYDIR = 0x8
FAN_MARK_MOUNT = 0x10
FAN_MARK_IGNORED_MASK = 0x20
FAN_MARK_IGNORED_SURV_MODIFY = 0x40
FAN_MARK_FLUSH = 0x80
FAN_MARK_FILESYSTEM = 0x100
FAN_MARK_EVICTABLE = 0x200
FAN_MARK_IGNORE = 0x400
FAN_MARK_MNTNS = 0x110

AT_FDCWD = -100


def fanotify_init(flags: int, event_f_flags: int) -> int:
    """A new fanotify group's fd (CAP_SYS_ADMIN; EPERM without)."""
    return sys("fanotify_init", flags & 0xFFFFFFFF, event_f_flags & 0xFFFFFFFF)


def fanotify_mark(fd: int, flags: int, mask: int, dirfd: int = AT_FDCWD,
                  path: str | bytes | None = None) -> None:
    """Add, remove or flush marks of group fd: on path (relative to dirfd;
    None: dirfd itself) or on its mount/filesystem by flags.  64-bit
    arches only (the mask is one register)."""
    raw = None if path is None else ctypes.c_char_p(os.fsencode(path))
    sys("fanotify_mark", fd, flags & 0xFFFFFFFF, mask & 0xFFFFFFFFFFFFFFFF,
        dirfd, raw)

