"""Ghost files: regular files (and FIFOs, directories) a task keeps open
after they were unlinked (tempfile.TemporaryFile, O_TMPFILE, a log rotated away...).

Their contents exist nowhere but in the open file, so dump copies them into
ghost-file-ID.img (CRIU's format: a ghost_file_entry, then chunk entries
each followed by its bytes; holes of sparse files are skipped) and
remap-fpath.img records which file id is such a ghost.  Restore recreates
the file under its old name, fills it, unlinks it again and reopens it for
each description, then unlinks it, so /proc/PID/fd shows
"/path (deleted)" as before.

Like CRIU, files larger than the ghost limit (--ghost-limit, 1 MiB by
default) are refused: the images would silently grow with the task's temp files.
Contents move in bounded chunks, never the whole file at once.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from typing import Any, Iterator

from criu.errors import DumpError, RestoreError
from criu.resources.base import DumpContext, RestoreContext

CHUNK = 1 << 20                 # bytes per chunk entry
REMAP_LINKED = 0                # remap_type values (CRIU's)
REMAP_GHOST = 1
# O_TMPFILE (= __O_TMPFILE | O_DIRECTORY) stays in the flags of a file made
# with it; only creating a new file with it can set it again, which would
# change the file's name (#INODE), so the name wins and the bits go.
O_TMPFILE_BITS = 0o20200000
DELETED = " (deleted)"

_DUMP_KEY = "ghost.dump"
_RESTORE_KEY = "ghost.restore"


@dataclasses.dataclass
class _Dumped:
    remaps: list[Any] = dataclasses.field(default_factory=list)
    by_inode: dict[tuple[int, int], int] = dataclasses.field(
        default_factory=dict)


def is_ghost(target: str) -> bool:
    return target.endswith(DELETED)


def original_path(target: str) -> str:
    return target[:-len(DELETED)] if is_ghost(target) else target


def dump(ctx: DumpContext, where: str, pid: int, fd: int, file_id: int,
         st: os.stat_result) -> None:
    """Image the contents of unlinked file (pid's fd) as file id's ghost."""
    from images.pb import remap_file_path_pb2
    state: _Dumped = ctx.registry.setdefault(_DUMP_KEY, _Dumped())
    key = (st.st_dev, st.st_ino)
    ghost_id = state.by_inode.get(key)
    if ghost_id is None:
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or
                stat.S_ISDIR(st.st_mode)):
            raise DumpError(f"{where}: an unlinked {stat.filemode(st.st_mode)}"
                            " file is not supported yet")
        limit = ctx.opts.ghost_limit
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise DumpError(f"{where}: unlinked file of {st.st_size} bytes "
                            f"is over the ghost limit ({limit}; see "
                            "--ghost-limit)")
        ghost_id = ctx.next_id("ghost")
        _write_ghost(ctx, where, pid, fd, ghost_id, st)
        state.by_inode[key] = ghost_id
    state.remaps.append(remap_file_path_pb2.remap_file_path_entry(
        orig_id=file_id, remap_id=ghost_id, remap_type=REMAP_GHOST))


def _write_ghost(ctx: DumpContext, where: str, pid: int, fd: int,
                 ghost_id: int, st: os.stat_result) -> None:
    from images.pb import ghost_file_pb2, time_pb2
    head = ghost_file_pb2.ghost_file_entry(
        uid=st.st_uid, gid=st.st_gid, mode=st.st_mode, dev=st.st_dev,
        ino=st.st_ino, chunks=True, size=st.st_size,
        atim=time_pb2.timeval(tv_sec=int(st.st_atime),
                              tv_usec=st.st_atime_ns // 1000 % 1000000),
        mtim=time_pb2.timeval(tv_sec=int(st.st_mtime),
                              tv_usec=st.st_mtime_ns // 1000 % 1000000))
    if not stat.S_ISREG(st.st_mode):
        # Only its name and attributes: a removed directory is empty, and
        # a FIFO's buffered bytes are the FIFO kind's (fifo-data.img).
        head.size = 0
        with ctx.images.writer(f"ghost-file-{ghost_id:x}.img",
                               "GHOST_FILE") as w:
            w.write(head)
        return
    try:
        src = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: cannot reopen the unlinked file: "
                        f"{e.strerror}") from e
    try:
        with ctx.images.writer(f"ghost-file-{ghost_id:x}.img",
                               "GHOST_FILE") as w:
            w.write(head)
            for off, data in _chunks(src, st.st_size):
                w.write(ghost_file_pb2.ghost_chunk_entry(len=len(data),
                                                         off=off), data)
    finally:
        os.close(src)


def _chunks(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of the data regions of fd, at most CHUNK each."""
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as e:
            if e.errno != errno.ENXIO:      # ENXIO: only a hole is left
                raise
            return
        end = min(end, size)
        while start < end:
            data = os.pread(fd, min(CHUNK, end - start), start)
            if not data:
                return
            yield start, data
            start += len(data)
        off = end


def dump_linked(ctx: DumpContext, where: str, pid: int, fd: int,
                file_id: int, path: str, link_id_of: Any) -> None:
    """--link-remap: a file deleted under the name it was opened by but
    still linked elsewhere gets one more link, link_remap.ID next to its
    old name, for restore to open it by (CRIU's linked remap).  The link
    is removed again if the dump fails; a restore removes it once the
    tree runs."""
    from images.pb import remap_file_path_pb2
    state: _Dumped = ctx.registry.setdefault(_DUMP_KEY, _Dumped())
    link = os.path.join(os.path.dirname(path), f"link_remap.{file_id}")
    from compel.native import files as nfiles
    from compel.native import pidfd as npidfd
    try:
        # Through criu's own copy of the fd: a link through /proc/PID/fd
        # of a file deleted under that name is refused (EXDEV).
        copy = npidfd.fd_of(pid, fd)
        try:
            nfiles.link_fd(copy, link)
        finally:
            os.close(copy)
    except OSError as e:
        raise DumpError(f"{where}: {path}: cannot link it as {link} "
                        f"(--link-remap): {e.strerror}") from e

    def remove_if_failed() -> None:
        if not ctx.images.exists("inventory.img"):
            try:
                os.unlink(link)
            except FileNotFoundError:
                pass
    ctx.on_cleanup(remove_if_failed)
    state.remaps.append(remap_file_path_pb2.remap_file_path_entry(
        orig_id=file_id, remap_id=link_id_of(link), remap_type=REMAP_LINKED))


def dump_finish(ctx: DumpContext) -> None:
    state = ctx.registry.get(_DUMP_KEY)
    if state is not None and state.remaps:
        ctx.images.write("remap-fpath.img", state.remaps)


# ------------------------------------------------------------- restore side
def remap_of(ctx: RestoreContext, file_id: int) -> Any:
    """The remap_file_path_entry of a file id, or None."""
    remaps = ctx.registry.get(_RESTORE_KEY + ".remaps")
    if remaps is None:
        remaps = {}
        if ctx.images.exists("remap-fpath.img"):
            remaps = {e.orig_id: e for e in
                      ctx.images.read("remap-fpath.img")}
        ctx.registry[_RESTORE_KEY + ".remaps"] = remaps
    return remaps.get(file_id)


def open_linked(ctx: RestoreContext, rfe: Any, remap: Any,
                where: str) -> int:
    """A file deleted but linked elsewhere, opened through its link_remap
    link: linked under its old name for the open if that name is free
    (so the fd shows "NAME (deleted)" as before), unlinked right after."""
    from criu.resources import files
    link = files.restore_state(ctx).files.get(remap.remap_id)
    if link is None or not link.HasField("reg"):
        raise RestoreError(f"{where}: {rfe.name}: no link-remap entry "
                           f"{remap.remap_id} in files.img")
    path = link.reg.name
    flags = (rfe.flags & ~files.OPEN_ONLY_FLAGS) | os.O_CLOEXEC
    named = False
    try:
        os.link(path, rfe.name)
        named = True
    except OSError:
        pass                        # the old name is taken: the link's
    try:
        fd = os.open(rfe.name if named else path, flags)
        if rfe.pos:
            os.lseek(fd, rfe.pos, os.SEEK_SET)
    except OSError as e:
        raise RestoreError(f"{where}: cannot open {rfe.name} through "
                           f"{path}: {e.strerror}") from e
    finally:
        if named:
            os.unlink(rfe.name)
    ctx.registry.setdefault(_RESTORE_KEY + ".links", set()).add(path)
    return fd


def remove_links(ctx: RestoreContext) -> None:
    """In criu once the tree runs: the link_remap links of the dump."""
    if not ctx.images.exists("remap-fpath.img"):
        return
    from criu.resources import files
    state = files.restore_state(ctx)
    for remap in ctx.images.read("remap-fpath.img"):
        if remap.remap_type != REMAP_LINKED:
            continue
        link = state.files.get(remap.remap_id)
        if link is not None and link.HasField("reg"):
            try:
                os.unlink(link.reg.name)
            except FileNotFoundError:
                pass


def open_ghost(ctx: RestoreContext, rfe: Any, remap: Any, where: str) -> int:
    """A new open file description of the recreated ghost, flags as
    dumped (opened by name, so even O_NOFOLLOW comes back)."""
    if remap.remap_type == REMAP_LINKED:
        return open_linked(ctx, rfe, remap, where)
    if remap.remap_type != REMAP_GHOST:
        raise RestoreError(f"{where}: {rfe.name}: remap type "
                           f"{remap.remap_type} is not supported yet")
    made: dict[int, str] = ctx.registry.setdefault(_RESTORE_KEY, {})
    if remap.remap_id not in made:
        made[remap.remap_id] = _recreate(ctx, rfe.name, remap.remap_id,
                                         where)
    flags = rfe.flags & ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC | os.O_NOCTTY)
    if flags & O_TMPFILE_BITS == O_TMPFILE_BITS and \
            not stat.S_ISDIR(rfe.mode):
        flags &= ~O_TMPFILE_BITS        # made by O_TMPFILE: see above
    try:
        fd = os.open(made[remap.remap_id], flags | os.O_CLOEXEC)
        if rfe.pos:
            os.lseek(fd, rfe.pos, os.SEEK_SET)
    except OSError as e:
        raise RestoreError(f"{where}: cannot reopen ghost {rfe.name}: "
                           f"{e.strerror}") from e
    return fd


def unlink_all(ctx: RestoreContext) -> None:
    """Unlink the recreated ghosts once every fd is open (or on failure)."""
    made: dict[int, str] = ctx.registry.pop(_RESTORE_KEY, {})
    for path in made.values():
        _remove(path)


def _recreate(ctx: RestoreContext, path: str, ghost_id: int,
              where: str) -> str:
    """Make the file again under its old name and fill it; return the
    name (unlink_all() removes it)."""
    name = f"ghost-file-{ghost_id:x}.img"
    entries = ctx.images.entries(name, "GHOST_FILE")
    try:
        first = next(entries)
    except StopIteration:
        raise RestoreError(f"{ctx.images.file(name)}: empty") from None
    head = first.msg
    target = path
    if os.path.lexists(target):     # the name was taken again meanwhile
        target = f"{path}.criu-ghost-{ghost_id:x}"
    if stat.S_ISFIFO(head.mode) or stat.S_ISDIR(head.mode):
        return _recreate_node(target, head, where)
    try:
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL |
                     os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise RestoreError(f"{where}: cannot recreate unlinked file "
                           f"{path}: {e.strerror}") from e
    try:
        if head.chunks:
            for entry in entries:
                data = entry.extra or b""
                view = memoryview(data)
                off = entry.msg.off
                while view:
                    n = os.pwrite(fd, view, off)
                    view, off = view[n:], off + n
        else:       # unchunked (older CRIU): contents follow the head
            os.pwrite(fd, first.extra or b"", 0)
        os.ftruncate(fd, head.size)
        _set_attributes(fd, head)
    except BaseException:
        os.unlink(target)
        raise
    finally:
        os.close(fd)
    return target


def _set_attributes(target: int | str, head: Any) -> None:
    """Owner, mode and times of a ghost_file_entry on a recreated file
    (an fd) or node (a path)."""
    os.chown(target, head.uid, head.gid)
    os.chmod(target, stat.S_IMODE(head.mode))
    if head.HasField("mtim"):
        os.utime(target, ns=(head.atim.tv_sec * 10**9 +
                             head.atim.tv_usec * 1000,
                             head.mtim.tv_sec * 10**9 +
                             head.mtim.tv_usec * 1000))


def _recreate_node(target: str, head: Any, where: str) -> str:
    """An unlinked FIFO's or removed directory's name again, with its
    owner, mode and times (unlink_all() removes it again)."""
    what = "FIFO" if stat.S_ISFIFO(head.mode) else "directory"
    try:
        if stat.S_ISFIFO(head.mode):
            os.mkfifo(target, 0o600)
        else:
            os.mkdir(target, 0o700)
    except OSError as e:
        raise RestoreError(f"{where}: cannot recreate unlinked {what} "
                           f"{target}: {e.strerror}") from e
    try:
        _set_attributes(target, head)
    except BaseException:
        _remove(target)
        raise
    return target


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
