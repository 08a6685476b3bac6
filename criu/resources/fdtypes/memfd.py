"""memfd fds (memfd_create(2)): memfd_file_entry in files.img per open
file description (flags, position, fown, inode id) and one
memfd_inode_entry per memfd in memfd.img (name, owner, size, seals), as
CRIU writes them.

Inode ids count from 1, one per memfd (its st_dev/st_ino), whoever holds
it; every description of one memfd names the same inode id, so restore
makes the memfd once (shared_key: the inode id) and each description is
a reopen of it through /proc/self/fd (its own offset and flags).

The contents go where CRIU puts them: a shmem pagemap,
pagemap-shmem-SHMID.img (shmid: the memfd's inode number, which is also
the shmid a mapping of it has in the vmas) whose entries are page-aligned
offsets in the file with their pages in pages-N.img; holes stay holes.
Bytes are moved by the kernel (sendfile) in bounded chunks, never held
whole in criu.  The memory resource's shared-memory dumps use the same
format and the same set of dumped shmids (memory.SHMEM_DONE_KEY): a memfd
that is also mapped is imaged once; dump_inode() and open_inode() are what
a mapping of a memfd can reuse.

Seals are read with F_GET_SEALS and added back once the contents are in
(a memfd made without MFD_ALLOW_SEALING reports F_SEAL_SEAL only, and is
made the same way again).  Not kept, for want of a field in our
memfd.proto: the file mode (CRIU's newer proto has `mode`); a memfd
comes back with memfd_create's mode (0777, or 0666 with F_SEAL_EXEC).
Hugetlb memfds are refused.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Optional

from compel.native import memfd as nmemfd
from compel.native import memory as nmem
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from images.pagemap import new_entry as pm_entry, nr_pages as pm_nr_pages

FD_TYPE = 18                        # fd_types.MEMFD
PREFIX = "/memfd:"
DELETED = " (deleted)"
PAGE_SIZE = nmem.PAGE_SIZE
CHUNK = 1 << 20                     # bytes per sendfile() call
IMAGE = "memfd.img"
PE_PRESENT = 1 << 2                 # pagemap_entry.flags (CRIU's)

# The shmids (inode numbers) whose pagemap-shmem image is written, shared
# with criu.resources.memory (its _dump_shmem uses the same registry key).
SHMEM_DONE_KEY = "memory.shmem"
_DUMP_KEY = "fdtypes.memfd.inodes"      # (dev, ino) -> inode entry
_RESTORE_KEY = "fdtypes.memfd.inodes"   # inode id -> memfd_inode_entry

_shmem_dev: Optional[int] = None


def shmem_dev() -> int:
    """st_dev of the kernel's internal shmem mount, where every memfd made
    without MFD_HUGETLB lives (found by making one)."""
    global _shmem_dev
    if _shmem_dev is None:
        fd = nmem.memfd_create("criu-probe", nmemfd.MFD_CLOEXEC)
        try:
            _shmem_dev = os.fstat(fd).st_dev
        finally:
            os.close(fd)
    return _shmem_dev


def name_of(target: str) -> Optional[str]:
    """The memfd_create name in a /proc/PID/fd link ("/memfd:NAME
    (deleted)"), None if the link is not a memfd's."""
    if not target.startswith(PREFIX) or not target.endswith(DELETED):
        return None
    return target[len(PREFIX):-len(DELETED)]


def match(info: proc.FdInfo) -> bool:
    return stat.S_ISREG(info.st.st_mode) and name_of(info.target) is not None


# ---------------------------------------------------------------- dump side
def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import memfd_pb2
    where = files.where(task.pid, info.fd)
    name = name_of(info.target)
    assert name is not None
    if info.st.st_dev != shmem_dev():
        raise DumpError(f"{where}: {info.target}: a memfd outside shmem "
                        "(MFD_HUGETLB) is not supported yet")
    inode = dump_inode(ctx, task.pid, info.fd, name, where)
    return files.add_file(ctx, FD_TYPE, memfd=memfd_pb2.memfd_file_entry(
        id=files.new_id(ctx), flags=files.file_flags(info), pos=info.pos,
        fown=files.fown(), inode_id=inode.inode_id))


def dump_inode(ctx: DumpContext, pid: int, fd: int, name: str,
               where: str) -> Any:
    """The memfd_inode_entry of the memfd behind pid's fd, made (and its
    contents imaged) the first time that memfd is seen."""
    from images.pb import memfd_pb2
    inodes: dict[tuple[int, int], Any] = ctx.registry.setdefault(
        _DUMP_KEY, {})
    try:
        rfd = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: memfd:{name}: cannot open it: "
                        f"{e.strerror}") from e
    try:
        st = os.fstat(rfd)
        key = (st.st_dev, st.st_ino)
        if key in inodes:
            return inodes[key]
        try:
            seals = nmemfd.get_seals(rfd)
        except OSError as e:
            raise DumpError(f"{where}: memfd:{name}: cannot read its "
                            f"seals: {e.strerror}") from e
        entry = memfd_pb2.memfd_inode_entry(
            name=name, uid=st.st_uid, gid=st.st_gid, size=st.st_size,
            shmid=st.st_ino, seals=seals, inode_id=len(inodes) + 1)
        done: set[int] = ctx.registry.setdefault(SHMEM_DONE_KEY, set())
        if st.st_ino not in done:
            done.add(st.st_ino)
            pages = _dump_contents(ctx, rfd, st.st_ino, st.st_size,
                                   f"{where}: memfd:{name}")
            ctx.log.info("%s: memfd:%s: inode %d, %d bytes, %d pages, "
                         "seals %#x", where, name, entry.inode_id,
                         st.st_size, pages, seals)
        inodes[key] = entry
        return entry
    finally:
        os.close(rfd)


def data_runs(fd: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) of the page runs holding data, page-aligned, holes
    left out (SEEK_DATA/SEEK_HOLE); the last may reach past size."""
    runs: list[tuple[int, int]] = []
    at = 0
    while at < size:
        try:
            start = os.lseek(fd, at, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:      # nothing but a hole past `at`
                break
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        start -= start % PAGE_SIZE
        end = -(-end // PAGE_SIZE) * PAGE_SIZE
        if runs and runs[-1][0] + runs[-1][1] >= start:
            prev = runs.pop()
            start = prev[0]
        runs.append((start, end - start))
        at = end
    return runs


def _dump_contents(ctx: DumpContext, fd: int, shmid: int, size: int,
                   where: str) -> int:
    """pagemap-shmem-SHMID.img and pages-N.img of a memfd; pages written.

    The pages image holds whole pages: the tail of the last one, past the
    file's size, is written as zeros (restore truncates to the size)."""
    from images.pb import pagemap_pb2
    pages_id = ctx.next_id("pages")
    out = ctx.images.open_raw(f"pages-{pages_id}.img", write=True)
    try:
        runs = data_runs(fd, size)
        for off, length in runs:
            copied = _send(out, fd, off, min(length, size - off))
            if copied < length:
                _write_all(out, bytes(length - copied))
    except OSError as e:
        raise DumpError(f"{where}: copying its contents: "
                        f"{e.strerror}") from e
    finally:
        os.close(out)
    pages = sum(n for _, n in runs) // PAGE_SIZE
    ctx.stats.pages_written += pages
    ctx.images.write(f"pagemap-shmem-{shmid}.img",
                     [pagemap_pb2.pagemap_head(pages_id=pages_id)] +
                     [pm_entry(off, n // PAGE_SIZE, flags=PE_PRESENT)
                      for off, n in runs], magic="PAGEMAP")
    return pages


def _send(out: int, src: int, offset: int, length: int) -> int:
    """Up to length bytes of src at offset appended to out, moved by the
    kernel in CHUNK pieces; the count copied (less at the file's end)."""
    done = 0
    while done < length:
        n = os.sendfile(out, src, offset + done, min(CHUNK, length - done))
        if n == 0:
            break
        done += n
    return done


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def dump_finish(ctx: DumpContext) -> None:
    """memfd.img: every memfd's inode entry, in inode id order."""
    inodes = ctx.registry.get(_DUMP_KEY)
    if inodes:
        ctx.images.write(IMAGE, sorted(inodes.values(),
                                       key=lambda e: e.inode_id))


# ------------------------------------------------------------- restore side
def collect(ctx: RestoreContext) -> None:
    inodes = {}
    if ctx.images.exists(IMAGE):
        inodes = {e.inode_id: e for e in ctx.images.read(IMAGE)}
    ctx.registry[_RESTORE_KEY] = inodes


def shared_key(entry: Any) -> int:
    """Descriptions of one memfd: the memfd is made once."""
    return int(entry.memfd.inode_id)


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """A description of memfd entry.memfd.inode_id: the first one in this
    opening makes the memfd (kept in opening.made above the base), every
    one is a reopen of it with its own flags and offset."""
    me, where = entry.memfd, files.where(task.pid, fd)
    key = (FD_TYPE, me.inode_id)
    if key not in opening.made:
        made = files.above(open_inode(ctx, me.inode_id, where),
                           opening.base)
        opening.made[key] = made
        opening.on_close(lambda: os.close(made))
    flags = me.flags & ~files.OPEN_ONLY_FLAGS
    try:
        new = os.open(f"/proc/self/fd/{opening.made[key]}",
                      flags | os.O_CLOEXEC)
        os.lseek(new, me.pos, os.SEEK_SET)
    except OSError as e:
        raise RestoreError(f"{where}: memfd (inode {me.inode_id}): cannot "
                           f"reopen it: {e.strerror}") from e
    return new


def open_inode(ctx: RestoreContext, inode_id: int, where: str,
               seal: bool = True) -> int:
    """A new memfd as memfd.img's inode `inode_id` was: name, contents,
    size, owner, and (seal=False: left to the caller, e.g. after writable
    mappings are made) its seals."""
    inodes = ctx.registry.get(_RESTORE_KEY) or {}
    mie = inodes.get(inode_id)
    if mie is None:
        raise RestoreError(f"{where}: memfd inode {inode_id} is not in "
                           f"{IMAGE}")
    what = f"{where}: memfd:{mie.name}"
    if mie.HasField("hugetlb_flag") and mie.hugetlb_flag:
        raise RestoreError(f"{what}: hugetlb memfds are not supported yet")
    fd = _create(mie, what)
    try:
        os.ftruncate(fd, mie.size)
        _fill(ctx, fd, mie, what)
        os.ftruncate(fd, mie.size)
        os.fchown(fd, mie.uid, mie.gid)
        if seal:
            add_seals(fd, mie, what)
    except OSError as e:
        os.close(fd)
        raise RestoreError(f"{what}: {e.strerror}") from e
    except BaseException:
        os.close(fd)
        raise
    return fd


def _create(mie: Any, what: str) -> int:
    """memfd_create as the dumped one was made: without MFD_ALLOW_SEALING
    when its seals are F_SEAL_SEAL alone (no seal can ever be added), with
    MFD_NOEXEC_SEAL when it has F_SEAL_EXEC (its mode is then 0666)."""
    flags = nmemfd.MFD_CLOEXEC
    if mie.seals != nmemfd.F_SEAL_SEAL:
        flags |= nmemfd.MFD_ALLOW_SEALING
        if mie.seals & nmemfd.F_SEAL_EXEC:
            flags |= nmemfd.MFD_NOEXEC_SEAL
    try:
        return nmem.memfd_create(mie.name, flags)
    except OSError as e:
        if e.errno == errno.EINVAL and flags & nmemfd.MFD_NOEXEC_SEAL:
            return nmem.memfd_create(mie.name,
                                     flags & ~nmemfd.MFD_NOEXEC_SEAL)
        raise RestoreError(f"{what}: memfd_create: {e.strerror}") from e


def _fill(ctx: RestoreContext, fd: int, mie: Any, what: str) -> None:
    """The dumped pages back at their offsets, moved by the kernel from
    the pages image (sendfile into the memfd at each run's offset)."""
    name = f"pagemap-shmem-{mie.shmid}.img"
    if not ctx.images.exists(name):
        if mie.size:
            raise RestoreError(f"{what}: {name} is missing")
        return
    entries = ctx.images.read(name, magic="PAGEMAP")
    if not entries:
        raise RestoreError(f"{what}: {name} is empty")
    pages = ctx.images.open_raw(f"pages-{entries[0].pages_id}.img")
    try:
        off = 0
        for e in entries[1:]:
            n = pm_nr_pages(e) * PAGE_SIZE
            os.lseek(fd, e.vaddr, os.SEEK_SET)
            if _send(fd, pages, off, n) != n:
                raise RestoreError(f"{what}: pages image too short "
                                   f"(at {e.vaddr:#x})")
            off += n
    finally:
        os.close(pages)


def add_seals(fd: int, mie: Any, what: str) -> None:
    """The dumped seals on a filled memfd (none to add for F_SEAL_SEAL
    alone: it was made without MFD_ALLOW_SEALING)."""
    missing = mie.seals & ~nmemfd.get_seals(fd)
    if not missing:
        return
    try:
        nmemfd.add_seals(fd, missing)
    except OSError as e:
        raise RestoreError(f"{what}: cannot seal it ({mie.seals:#x}): "
                           f"{e.strerror}") from e
