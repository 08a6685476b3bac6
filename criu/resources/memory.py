"""Memory of a task: mm-PID.img, pagemap-PID.img and pages-N.img.

Dump: the mappings from /proc/PID/smaps become vma_entry records (status
bits as CRIU's), the mm fields come from /proc/PID/stat, auxv and exe link,
plus brk and dumpable asked inside the task; the pages worth keeping
(present or swapped, not the zero page, not unmodified page-cache pages of
a file mapping) are found as runs with PAGEMAP_SCAN and copied from
/proc/PID/mem into the pages image through one bounded buffer, so criu's
memory does not grow with the target's.

Restore (in the new task): reopens the mapped files, opens the pages image
and leaves a MemoryPlan in task.restorer_args.memory; the restorer blob
maps, fills and protects everything (criu/restore/, criu/restorer/).
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from typing import Any

from compel.native import memory as nmem
from compel.native import pagemap as npagemap
from compel.native import uapi
from criu.errors import DumpError, RestoreError
from criu.mem import vmas as vm
from images.pagemap import new_entry as pm_entry, nr_pages as pm_nr_pages
from criu.resources.base import (DumpContext, DumpTask, RestoreContext,
                                 RestoreTask)

NAME = "memory"

PAGE_SIZE = 4096
PE_PRESENT = 1 << 2                 # pagemap_entry.flags (CRIU's PE_PRESENT)
COPY_CHUNK = 4 << 20                # bytes per read/write of page contents
PR_GET_DUMPABLE = 3
PR_GET_THP_DISABLE = 42

# Runs worth dumping: present or swapped, not the zero page, and not a
# page-cache page (only anonymous copies of file pages are private data).
_ANYOF = uapi.PAGE_IS_PRESENT | uapi.PAGE_IS_SWAPPED
_EXCLUDED = uapi.PAGE_IS_PFNZERO | uapi.PAGE_IS_FILE


def _pb() -> tuple[Any, Any, Any]:
    from images.pb import mm_pb2, pagemap_pb2, vma_pb2
    return mm_pb2, pagemap_pb2, vma_pb2


# ---------------------------------------------------------------- dump side
@dataclasses.dataclass
class MmFields:
    """mm_struct fields of /proc/PID/stat (fields 26-28, 45-51)."""

    start_code: int
    end_code: int
    start_stack: int
    start_data: int
    end_data: int
    start_brk: int
    arg_start: int
    arg_end: int
    env_start: int
    env_end: int


def read_mm_fields(pid: int) -> MmFields:
    with open(f"/proc/{pid}/stat", encoding="utf-8",
              errors="surrogateescape") as f:
        text = f.read()
    rest = text[text.rindex(")") + 2:].split()

    def field(n: int) -> int:      # 1-based field number of proc(5)
        return int(rest[n - 3])
    return MmFields(field(26), field(27), field(28), field(45), field(46),
                    field(47), field(48), field(49), field(50), field(51))


def read_auxv(pid: int) -> list[int]:
    with open(f"/proc/{pid}/auxv", "rb") as f:
        data = f.read()
    return list(struct.unpack(f"<{len(data) // 8}Q", data[:len(data) // 8 * 8]))


def _remote_value(task: DumpTask, name: str, *args: int) -> int | None:
    """A syscall run inside the task, or None without a seized handle."""
    if task.seized is None:
        return None
    ret = task.seized.remote_syscall(name, *args)
    if -4096 < ret < 0:
        raise DumpError(f"task {task.pid}: memory: remote {name} failed: "
                        f"{os.strerror(-ret)}")
    return ret


def dump(ctx: DumpContext, task: DumpTask) -> None:
    pid = task.pid
    mm_pb2, pagemap_pb2, vma_pb2 = _pb()
    from criu.resources.fdtypes import reg

    mmf = read_mm_fields(pid)
    brk = _remote_value(task, "brk", 0)
    dumpable = _remote_value(task, "prctl", PR_GET_DUMPABLE, 0, 0, 0, 0)
    thp_disabled = _remote_value(task, "prctl", PR_GET_THP_DISABLE, 0, 0, 0,
                                 0)
    vmas = vm.read_vmas(pid, mmf.start_brk, brk or mmf.start_brk,
                        mmf.start_stack)
    if brk is None:
        heap = [v for v in vmas if v.status & vm.VMA_AREA_HEAP]
        brk = heap[-1].end if heap else mmf.start_brk

    exe = os.readlink(f"/proc/{pid}/exe")
    # With its size (and mode), so that a restore refuses another file
    # found at the same path instead of mapping it in.
    exe_id = reg.add_reg_file(ctx, exe, os.O_RDONLY,
                              st=_mapped_stat(pid, "exe", exe))
    mm = mm_pb2.mm_entry(
        mm_start_code=mmf.start_code, mm_end_code=mmf.end_code,
        mm_start_data=mmf.start_data, mm_end_data=mmf.end_data,
        mm_start_stack=mmf.start_stack, mm_start_brk=mmf.start_brk,
        mm_brk=brk, mm_arg_start=mmf.arg_start, mm_arg_end=mmf.arg_end,
        mm_env_start=mmf.env_start, mm_env_end=mmf.env_end,
        exe_file_id=exe_id)
    mm.mm_saved_auxv.extend(read_auxv(pid))
    if dumpable is not None:
        mm.dumpable = dumpable
    if thp_disabled:
        mm.thp_disabled = True

    file_ids: dict[tuple[int, int, int, int], int] = {}
    for v in vmas:
        if v.status & vm.VMA_AREA_VSYSCALL:
            continue
        if v.status & (vm.VMA_AREA_SYSVIPC | vm.VMA_UNSUPP):
            raise DumpError(f"task {pid}: memory: mapping {v.describe()}: "
                            "SysV shared memory is not supported yet")
        entry = vma_pb2.vma_entry(start=v.start, end=v.end, pgoff=0,
                                  shmid=0, prot=v.prot, flags=v.flags,
                                  status=v.status, fd=-1)
        if v.madv:
            entry.madv = v.madv
        if v.status & vm.VMA_ANON_SHARED:
            # The shmem object behind it, by inode, as CRIU does: its pages
            # are dumped once, whoever else maps it.
            entry.flags |= vm.MAP_ANONYMOUS
            entry.pgoff = v.pgoff
            entry.shmid = v.inode
            _dump_shmem(ctx, task, v)
        elif v.is_file:
            entry.pgoff = v.pgoff
            # A shared mapping that may be written needs the file writable.
            oflags = os.O_RDWR if v.shared and "mw" in v.vmflags \
                else os.O_RDONLY
            key = (v.dev_major, v.dev_minor, v.inode, oflags)
            if key not in file_ids:
                path = vm.file_name(pid, v)
                if path.endswith(" (deleted)"):
                    raise DumpError(f"task {pid}: memory: mapping "
                                    f"{v.describe()}: file was deleted")
                file_ids[key] = reg.add_reg_file(
                    ctx, path, oflags, st=_mapped_stat(
                        pid, f"map_files/{v.start:x}-{v.end:x}", path))
            entry.shmid = file_ids[key]
            entry.fdflags = oflags
        mm.vmas.append(entry)

    started = time.monotonic()
    pages_id = ctx.next_id("pages")
    runs = _dump_pages(ctx, pid, vmas, pages_id)
    ctx.stats.memdump_time += time.monotonic() - started
    ctx.stats.pages_zero += _count_zero_pages(pid, vmas)
    ctx.images.write(f"pagemap-{pid}.img",
                     [pagemap_pb2.pagemap_head(pages_id=pages_id)] +
                     [pm_entry(s, n, flags=PE_PRESENT)
                      for s, n in runs])
    ctx.images.write(f"mm-{pid}.img", [mm])


def _dump_shmem(ctx: DumpContext, task: DumpTask, v: vm.Vma) -> None:
    """pagemap-shmem-SHMID.img and its pages, once per shmem object.

    The object is read through /proc/PID/map_files (a file of its own,
    whatever part of it this task maps): SEEK_DATA/SEEK_HOLE give the
    pages it holds, in memory or swapped, touched by any task; holes stay
    holes.  Entries are offsets in the object (CRIU's shmem pagemaps).
    """
    _, pagemap_pb2, _ = _pb()
    done: set[int] = ctx.registry.setdefault("memory.shmem", set())
    if v.inode in done:
        return
    done.add(v.inode)
    where = f"task {task.pid}: memory: shared mapping {v.describe()}"
    try:
        fd = os.open(vm.map_file_path(task.pid, v), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise DumpError(f"{where}: cannot open it: {e.strerror}") from e
    pages_id = ctx.next_id("pages")
    out = ctx.images.open_raw(f"pages-{pages_id}.img", write=True)
    runs: list[tuple[int, int]] = []
    try:
        size = os.fstat(fd).st_size
        at = 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:             # ENXIO: no data past `at`
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            start -= start % PAGE_SIZE
            end = (end + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
            runs.append((start, (end - start) // PAGE_SIZE))
            _copy_file_range(fd, start, end - start, out)
            at = end
    except OSError as e:
        raise DumpError(f"{where}: copying its pages: {e.strerror}") from e
    finally:
        os.close(fd)
        os.close(out)
    written = sum(n for _, n in runs)
    ctx.stats.pages_written += written
    ctx.images.write(f"pagemap-shmem-{v.inode}.img",
                     [pagemap_pb2.pagemap_head(pages_id=pages_id)] +
                     [pm_entry(s, n, flags=PE_PRESENT)
                      for s, n in runs], magic="PAGEMAP")
    ctx.log.info("%s: shmem %d, %d pages", where, v.inode, written)


def _copy_file_range(src: int, offset: int, length: int, dst: int) -> None:
    """length bytes of src at offset appended to dst, through a bounded
    buffer (a shmem file reads like any file)."""
    buf = bytearray(min(length, COPY_CHUNK))
    view = memoryview(buf)
    while length:
        n = os.preadv(src, [view[:min(length, len(buf))]], offset)
        if n <= 0:
            raise OSError(5, "short read of shared memory")
        done = 0
        while done < n:
            done += os.write(dst, view[done:n])
        offset += n
        length -= n


def _mapped_stat(pid: int, link: str, path: str) -> os.stat_result:
    """stat of the file behind /proc/PID/<link> (the very file the task
    maps, whatever its path names now)."""
    try:
        return os.stat(f"/proc/{pid}/{link}")
    except OSError as e:
        raise DumpError(f"task {pid}: memory: {path}: cannot stat the "
                        f"mapped file: {e.strerror}") from e


class _PageCopier:
    """Copies page runs of a task into the pages image through one buffer.

    Readable memory goes in batches of up to IOV_MAX runs per
    process_vm_readv (the fastest copy the kernel offers from another
    task); memory the task cannot read itself (PROT_NONE with contents)
    through /proc/PID/mem, whose reads may force access.  The buffer is
    written out whenever full, so criu's memory stays COPY_CHUNK however
    big the task is.
    """

    def __init__(self, pid: int, out_fd: int) -> None:
        from compel.native._libc import address_of
        self.pid = pid
        self.out = out_fd
        self.buf = bytearray(COPY_CHUNK)
        self.view = memoryview(self.buf)
        self.base = address_of(self.buf)
        self.filled = 0
        self.batch: list[tuple[int, int]] = []     # remote (addr, len)
        self.written = 0
        self.mem_fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        os.close(self.mem_fd)

    def add(self, addr: int, length: int, readable: bool) -> None:
        while length:
            if self.filled == COPY_CHUNK:
                self.flush()
            n = min(length, COPY_CHUNK - self.filled)
            if readable:
                self.batch.append((addr, n))
                if len(self.batch) == nmem.IOV_MAX:
                    self._read_batch()
            else:
                self._read_batch()
                self._read_forced(addr, n, self.filled)
            self.filled += n
            addr += n
            length -= n

    def _read_batch(self) -> None:
        if not self.batch:
            return
        total = sum(n for _, n in self.batch)
        start = self.filled - total
        got = nmem.process_vm_readv(self.pid, [(self.base + start, total)],
                                    self.batch)
        if got != total:
            # Some page refused (e.g. a race with the kernel): fall back to
            # forced reads for this batch, which also name the address.
            at = start
            for addr, n in self.batch:
                self._read_forced(addr, n, at)
                at += n
        self.batch = []

    def _read_forced(self, addr: int, n: int, at: int) -> None:
        got = os.preadv(self.mem_fd, [self.view[at:at + n]], addr)
        if got != n:
            raise DumpError(f"task {self.pid}: memory: short read of {n} "
                            f"bytes at {addr:#x} ({got})")

    def flush(self) -> None:
        self._read_batch()
        done = 0
        while done < self.filled:
            done += os.write(self.out, self.view[done:self.filled])
        self.written += self.filled
        self.filled = 0


def _count_zero_pages(pid: int, vmas: list[vm.Vma]) -> int:
    """Pages mapped to the shared zero page (left out of the image)."""
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return sum((e - s) // PAGE_SIZE for v in vmas if v.dumps_pages
                   for s, e in npagemap.scan(fd, v.start, v.end,
                                             required=uapi.PAGE_IS_PFNZERO))
    finally:
        os.close(fd)


def _dump_pages(ctx: DumpContext, pid: int, vmas: list[vm.Vma],
                pages_id: int) -> list[tuple[int, int]]:
    """Copy the pages worth keeping into pages-ID.img; return the runs
    (vaddr, nr_pages) in file order."""
    runs: list[tuple[int, int]] = []
    out = ctx.images.open_raw(f"pages-{pages_id}.img", write=True)
    pm_fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    copier = _PageCopier(pid, out)
    try:
        for v in vmas:
            if v.status & vm.VMA_AREA_VDSO:
                # Kept as is, as CRIU does: restore checks them against
                # the vdso of the kernel it runs on.
                runs.append((v.start, v.size // PAGE_SIZE))
                copier.add(v.start, v.size, True)
                continue
            if not v.dumps_pages:
                continue
            ctx.stats.pages_scanned += v.size // PAGE_SIZE
            readable = bool(v.prot & vm.PROT_READ)
            for start, end in npagemap.scan(pm_fd, v.start, v.end,
                                            anyof=_ANYOF, excluded=_EXCLUDED):
                runs.append((start, (end - start) // PAGE_SIZE))
                copier.add(start, end - start, readable)
        copier.flush()
    except OSError as e:
        raise DumpError(f"task {pid}: memory: copying pages: {e}") from e
    finally:
        copier.close()
        os.close(pm_fd)
        os.close(out)
    ctx.stats.pages_written += copier.written // PAGE_SIZE
    return runs


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class MemoryPlan:
    """What the restorer needs to rebuild the address space of one task."""

    mm: Any                                 # mm_entry
    vmas: list[dict[str, Any]]              # rst_vma fields
    runs: list[tuple[int, int, int]]        # (vaddr, bytes, image offset)
    pages_fd: int
    exe_fd: int
    specials: list[tuple[int, int, int]]    # (start, end, status) vdso/vvar
    fds: list[int]                          # every fd to close at the end


def load_plan(ctx: RestoreContext,
              pid: int) -> tuple[Any, list[tuple[int, int, int]], int]:
    """mm entry, page runs (vaddr, bytes, offset in the pages image) and
    pages id of a dumped task."""
    mm = ctx.images.read_one(f"mm-{pid}.img")
    entries = ctx.images.read(f"pagemap-{pid}.img")
    if not entries:
        raise RestoreError(f"task {pid}: pagemap-{pid}.img is empty")
    head, rest = entries[0], entries[1:]
    runs = []
    off = 0
    for e in rest:
        if e.in_parent:
            raise RestoreError(f"task {pid}: memory: pages in a parent image "
                               "are not supported yet")
        runs.append((e.vaddr, pm_nr_pages(e) * PAGE_SIZE, off))
        off += pm_nr_pages(e) * PAGE_SIZE
    return mm, runs, head.pages_id


def check_vdso(pages_fd: int, runs: list[tuple[int, int, int]],
               vdso: tuple[int, int], where: str) -> None:
    """The dumped vdso pages must be this kernel's vdso, byte for byte: the
    task keeps calling into it at the offsets it learned at exec."""
    own = [v for v in _own_maps() if v.name == "[vdso]"]
    start, end = vdso
    dumped = b"".join(os.pread(pages_fd, n, off) for s, n, off in runs
                      if start <= s < end)
    if not dumped:
        return                  # an image without the vdso's pages
    if not own or own[0].size != end - start:
        raise RestoreError(f"{where}: vdso layout differs from the dump's "
                           "(restore on the kernel that dumped)")
    with open("/proc/self/mem", "rb", buffering=0) as f:
        f.seek(own[0].start)
        mine = f.read(own[0].size)
    if dumped != mine:
        raise RestoreError(f"{where}: the dumped vdso is not this kernel's "
                           "(restore on the kernel that dumped)")


def _own_maps() -> list[vm.Vma]:
    with open("/proc/self/maps", encoding="utf-8",
              errors="surrogateescape") as f:
        return vm.parse_smaps(f.read())


def _covered(runs: list[tuple[int, int, int]], starts: list[int], lo: int,
             hi: int) -> bool:
    """Whether any run (sorted, with their starts) touches [lo, hi)."""
    import bisect
    i = bisect.bisect_right(starts, lo) - 1
    i = max(i, 0)
    while i < len(runs) and runs[i][0] < hi:
        if runs[i][0] + runs[i][1] > lo:
            return True
        i += 1
    return False


def plan_mappings(plan_vmas: list[dict[str, Any]], file_ids: list[int],
                  runs: list[tuple[int, int, int]]) -> None:
    """Decide, per mapping in address order, how the restorer creates it:
    kind flags and the protection to map it with while pages are filled.

    FILL: pages go in, so it is mapped writable first (which also makes a
    private mapping accounted, as a once-writable one was in the dumped
    task; one never writable and without pages is mapped as it is).
    SEPARATE: an anonymous mapping right after one that looks the same but
    was not merged with it: only a non-contiguous vm_pgoff (left by an
    mremap) explains that, and the blob recreates it (faulting one page
    first, dropped again with DROP_FIRST when it holds no dumped data).
    """
    from criu.restorer import args as ra
    PROT_WRITE = 2
    ordered = sorted(runs)
    starts = [r[0] for r in ordered]
    for v in plan_vmas:
        if _covered(ordered, starts, v["start"], v["end"]):
            v["kind"] |= ra.RST_VMA_FILL
    for i in range(1, len(plan_vmas)):
        a, b = plan_vmas[i - 1], plan_vmas[i]
        if (a["end"] == b["start"] and a["prot"] == b["prot"] and
                a["flags"] == b["flags"] and file_ids[i - 1] == 0 and
                file_ids[i] == 0 and not b["flags"] & vm.MAP_GROWSDOWN):
            b["kind"] |= ra.RST_VMA_SEPARATE
    for v in plan_vmas:
        writable_first = ra.RST_VMA_FILL | ra.RST_VMA_SEPARATE
        v["map_prot"] = v["prot"] | (PROT_WRITE if v["kind"] &
                                     writable_first else 0)
        if v["kind"] & ra.RST_VMA_SEPARATE and not _covered(
                ordered, starts, v["start"], v["start"] + PAGE_SIZE):
            v["kind"] |= ra.RST_VMA_DROP_FIRST


SHMEM_KEY = "memory.shmem_fds"


def collect(ctx: RestoreContext, service_fds: Any) -> None:
    """In criu, before any task is forked: every shared anonymous object
    of the tree, created once, filled from its pagemap, and kept as an fd
    the tasks inherit and map (it shows as "/dev/zero (deleted)", as the
    dumped one did)."""
    import mmap
    sizes: dict[int, int] = {}
    for task in ctx.tasks:
        if not task.alive:
            continue
        for v in ctx.images.read_one(f"mm-{task.pid}.img").vmas:
            if v.status & vm.VMA_ANON_SHARED and not \
                    v.status & vm.VMA_AREA_SYSVIPC:
                sizes[v.shmid] = max(sizes.get(v.shmid, 0),
                                     v.pgoff + v.end - v.start)
    fds: dict[int, int] = {}
    ctx.registry[SHMEM_KEY] = fds
    for shmid, size in sizes.items():
        where = f"shared memory {shmid}"
        area = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        try:
            from compel.native._libc import address_of
            start = address_of(area)
            try:
                fd = os.open(f"/proc/self/map_files/{start:x}-"
                             f"{start + size:x}", os.O_RDWR | os.O_CLOEXEC)
            except OSError as e:
                raise RestoreError(f"{where}: cannot open it: "
                                   f"{e.strerror}") from e
            fds[shmid] = service_fds.keep(fd, where)
            _fill_shmem(ctx, shmid, area, where)
        finally:
            area.close()


def _fill_shmem(ctx: RestoreContext, shmid: int, area: Any,
                where: str) -> None:
    name = f"pagemap-shmem-{shmid}.img"
    if not ctx.images.exists(name):
        return                          # never written to: all zero
    entries = ctx.images.read(name, magic="PAGEMAP")
    if not entries:
        raise RestoreError(f"{where}: {name} is empty")
    pages = ctx.images.open_raw(f"pages-{entries[0].pages_id}.img")
    view = memoryview(area)
    try:
        off = 0
        for e in entries[1:]:
            n = pm_nr_pages(e) * PAGE_SIZE
            if e.vaddr + n > len(area):
                raise RestoreError(f"{where}: {name}: pages at "
                                   f"{e.vaddr:#x} beyond its size")
            got = os.preadv(pages, [view[e.vaddr:e.vaddr + n]], off)
            if got != n:
                raise RestoreError(f"{where}: pages image too short")
            off += n
    finally:
        view.release()
        os.close(pages)


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    from criu.resources import files
    from criu.resources.fdtypes import reg

    mm, runs, pages_id = load_plan(ctx, task.pid)
    where = f"task {task.pid}: memory"
    keep = task.service_fds.keep
    fds: list[int] = []
    opened: dict[int, int] = {}
    try:
        pages_fd = keep(ctx.images.open_raw(f"pages-{pages_id}.img"),
                        "pages image")
        fds.append(pages_fd)
        exe_fd = keep(reg.open_reg(files.reg_file(ctx, mm.exe_file_id),
                                   f"{where}: exe"), "exe file")
        fds.append(exe_fd)
        plan_vmas: list[dict[str, Any]] = []
        plan_files: list[int] = []          # file id per plan vma, 0: anon
        specials = []
        for v in mm.vmas:
            if v.status & (vm.VMA_AREA_VDSO | vm.VMA_AREA_VVAR):
                specials.append((v.start, v.end, v.status))
                continue
            if v.status & vm.VMA_AREA_VSYSCALL:
                continue
            fd = -1
            flags = v.flags
            if v.status & vm.VMA_ANON_SHARED:
                fd = ctx.registry.get(SHMEM_KEY, {}).get(v.shmid, -1)
                if fd < 0:
                    raise RestoreError(f"{where}: mapping {v.start:#x}: "
                                       f"shared memory {v.shmid} was not "
                                       "created")
                flags &= ~vm.MAP_ANONYMOUS
            elif v.status & (vm.VMA_FILE_PRIVATE | vm.VMA_FILE_SHARED):
                if v.shmid not in opened:
                    rfe = files.reg_file(ctx, v.shmid)
                    opened[v.shmid] = keep(reg.open_reg(
                        rfe, f"{where}: mapping {v.start:#x}"), "vma file")
                    fds.append(opened[v.shmid])
                fd = opened[v.shmid]
            elif not v.status & vm.VMA_ANON_PRIVATE:
                raise RestoreError(f"{where}: mapping {v.start:#x}-{v.end:#x}"
                                   f": kind {v.status:#x} not supported yet")
            plan_vmas.append(dict(start=v.start, end=v.end, pgoff=v.pgoff,
                                  madv=v.madv, prot=v.prot, flags=flags,
                                  fd=fd, kind=0))
            plan_files.append(v.shmid if fd >= 0 else 0)
        vdso = [(s, e) for s, e, st in specials if st & vm.VMA_AREA_VDSO]
        if vdso:
            check_vdso(pages_fd, runs, vdso[0], where)
        # The vdso is moved, not written: its pages leave the restorer's list.
        runs = [r for r in runs
                if not any(s <= r[0] < e for s, e in vdso)]
        plan_mappings(plan_vmas, plan_files, runs)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    if mm.HasField("thp_disabled") and mm.thp_disabled:
        # Per mm and kept by the restorer's remapping: set it from here.
        from compel.native import prctl as nprctl
        nprctl.prctl(nprctl.PR_SET_THP_DISABLE, 1)
    task.restorer_args.memory = MemoryPlan(mm, plan_vmas, runs, pages_fd,
                                           exe_fd, specials, fds)
