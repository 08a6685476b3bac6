"""Dump and restore real processes: the address space comes back identical
(/proc/PID/maps line for line, memory byte for byte), the task continues,
and a restore that fails leaves no task behind and the images untouched.

The test process makes itself a child subreaper so that restored tasks
(whose parent, criu, exits with -d) are its children: it kills and reaps
every task it started.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Iterator

from images.pagemap import nr_pages as pm_nr_pages

import pytest

from compel.native import prctl as nprctl
from compel.native.wait import kill_and_reap
from criu_testlib import criu, dir_digest, one_line

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = 4096
SKIP_NAMES = ("[stack]", "[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]")

VICTIM_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096UL

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(2);
	return p;
}

int main(int argc, char **argv)
{
	unsigned char *rw = map(64 * P, PROT_READ | PROT_WRITE);
	unsigned char *ro = map(16 * P, PROT_READ | PROT_WRITE);
	unsigned char *none = map(4 * P, PROT_READ | PROT_WRITE);
	unsigned char *sparse = map(256 * P, PROT_READ | PROT_WRITE);
	unsigned char *big, *moved, *file, *locked;
	volatile unsigned long *counter;
	size_t i;
	int fd;

	for (i = 0; i < 64 * P; i++)
		rw[i] = (unsigned char)(i * 13 + 7);
	memset(ro, 0xa5, 16 * P);
	mprotect(ro, 16 * P, PROT_READ);
	memset(none, 0x3c, 4 * P);
	mprotect(none, 4 * P, PROT_NONE);
	for (i = 0; i < 256; i += 17)
		sparse[i * P + 5] = (unsigned char)i;		/* a few pages */
	(void)*(volatile unsigned char *)(sparse + 100 * P);	/* zero page */

	/* An mremap'd block right after a look-alike: the kernel keeps two. */
	big = map(32 * P, PROT_READ | PROT_WRITE);
	memset(big, 1, 32 * P);
	moved = map(8 * P, PROT_READ | PROT_WRITE);
	memset(moved, 2, 8 * P);
	munmap(big + 16 * P, 16 * P);
	moved = mremap(moved, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED,
		       big + 16 * P);
	if (moved == MAP_FAILED)
		return 3;

	/* A private file mapping with one page changed (copy on write). */
	fd = open(argv[0], O_RDONLY);
	file = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		return 4;
	close(fd);
	file[100] ^= 0xff;

	/* Half of a mapping locked in memory (mlock splits it in two). */
	locked = map(4 * P, PROT_READ | PROT_WRITE);
	memset(locked, 0x5a, 4 * P);
	if (mlock(locked, 2 * P))
		return 5;

	counter = map(P, PROT_READ | PROT_WRITE);
	/* The thread's TLS (errno, glibc's rseq area) legitimately changes. */
	printf("ready %lx %lx %lx\n", (unsigned long)counter,
	       (unsigned long)__builtin_thread_pointer(),
	       (unsigned long)sparse);
	fflush(stdout);
	for (;;) {
		(*counter)++;
		usleep(1000);
	}
}
"""

PY_LOOP = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
data = [x * 3 for x in range(300000)]          # a heap that moves (mremap)
i = 0
while True:
    i += 1
    os.pwrite(fd, b"%12d" % i, 0)
    time.sleep(0.002)
"""


@pytest.fixture(scope="module", autouse=True)
def subreaper() -> Iterator[None]:
    """Restored tasks become our children while this module runs (and only
    then: other tests in this worker expect orphans to go to init)."""
    nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 1)
    yield
    nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 0)


@pytest.fixture(scope="module")
def victim_exe(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    tmp = tmp_path_factory.mktemp("memcpu-victim")
    src = tmp / "victim.c"
    src.write_text(VICTIM_C)
    exe = tmp / "victim"
    subprocess.run(["gcc", "-O1", "-o", str(exe), str(src)], check=True)
    return exe



def _proc_state(pid: int) -> str:
    """The state letter in /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_for(predicate, what: str, limit: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


def maps(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as f:
        return f.read().splitlines()


def vm_flags(pid: int) -> dict[str, str]:
    """address range -> VmFlags of smaps (locked, madvise state...)."""
    out, where = {}, ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith("VmFlags:"):
                out[where] = line.split(":", 1)[1].strip()
            elif "-" in line.split(" ", 1)[0]:
                where = line.split(" ", 1)[0]
    return out


def memory_digests(pid: int, skip: set[int],
                   mask: tuple[int, int] = (0, 0)) -> dict[str, str]:
    """sha256 of every private mapping's bytes (forced read, PROT_NONE too),
    except the stack (the sigframe lands below sp), mappings starting at
    `skip`, and the bytes of `mask` (addr, len), zeroed before hashing:
    the thread's TLS, where the kernel updates the rseq area and an
    interrupted sleep leaves EINTR in errno."""
    out = {}
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        for line in maps(pid):
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if name in SKIP_NAMES or start in skip or fields[1][3] == "s":
                continue
            h = hashlib.sha256()
            for off in range(start, end, 1 << 20):
                chunk = bytearray(os.pread(fd, min(1 << 20, end - off), off))
                lo = max(mask[0], off)
                hi = min(mask[0] + mask[1], off + len(chunk))
                if lo < hi:
                    chunk[lo - off:hi - off] = bytes(hi - lo)
                h.update(chunk)
            out[fields[0]] = h.hexdigest()
    finally:
        os.close(fd)
    return out



def start_victim(exe: pathlib.Path,
                 tmp: pathlib.Path) -> tuple[subprocess.Popen, int, int, int]:
    out = tmp / "victim.out"
    with open(out, "w") as f:
        proc = subprocess.Popen([str(exe)], stdin=subprocess.DEVNULL,
                                stdout=f, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    wait_for(lambda: out.read_text().endswith("\n"), "victim ready")
    words = out.read_text().split()
    return proc, int(words[1], 16), int(words[2], 16), int(words[3], 16)


def end_victim(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """Kill the victim and reap it. One never dumped is still our child
    (and the Popen learns its end); once dumped and reaped, the task with
    its pid is the one restore made, which is not ours to wait for."""
    if proc.returncode is None:
        proc.kill()
        proc.wait()
    else:
        kill_and_reap(proc.pid)


def read_counter(pid: int, addr: int) -> int:
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(addr)
        return int.from_bytes(f.read(8), "little")


def test_address_space_identical_and_task_continues(
        victim_exe: pathlib.Path, tmp_path: pathlib.Path) -> None:
    proc, counter, tp, _ = start_victim(victim_exe, tmp_path)
    pid = proc.pid
    tls = (tp - PAGE, 2 * PAGE)
    images = tmp_path / "img"
    images.mkdir()
    try:
        maps_before = maps(pid)
        flags_before = vm_flags(pid)
        assert any(" lo" in f for f in flags_before.values())
        mem_before = memory_digests(pid, {counter}, tls)
        res = criu("dump", "-t", str(pid), "-D", str(images))
        assert res.returncode == 0, res.stderr
        proc.wait()                     # criu killed it: reap the zombie
        res = criu("restore", "-D", str(images), "-d")
        assert res.returncode == 0, res.stderr
        assert os.path.exists(f"/proc/{pid}")
        assert maps(pid) == maps_before
        assert vm_flags(pid) == flags_before
        assert memory_digests(pid, {counter}, tls) == mem_before
        first = read_counter(pid, counter)
        wait_for(lambda: read_counter(pid, counter) > first + 10,
                 "the restored task counting on")
        with open(f"/proc/{pid}/status") as f:
            assert "TracerPid:\t0" in f.read()
    finally:
        end_victim(proc)


def test_python_interpreter_loop_continues(tmp_path: pathlib.Path) -> None:
    counter = tmp_path / "counter"
    counter.write_bytes(b" " * 12)
    script = tmp_path / "loop.py"
    script.write_text(PY_LOOP)
    proc = subprocess.Popen([sys.executable, str(script), str(counter)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    pid = proc.pid

    def value() -> int:
        text = counter.read_bytes().strip()
        return int(text) if text else 0
    images = tmp_path / "img"
    images.mkdir()
    try:
        wait_for(lambda: value() > 5, "python loop running")
        maps_before = maps(pid)
        res = criu("dump", "-t", str(pid), "-D", str(images))
        assert res.returncode == 0, res.stderr
        proc.wait()
        at_dump = value()
        res = criu("restore", "-D", str(images), "-d")
        assert res.returncode == 0, res.stderr
        assert maps(pid) == maps_before
        wait_for(lambda: value() > at_dump + 20, "python loop continuing")
    finally:
        end_victim(proc)


@contextlib.contextmanager
def dumped_victim(exe: pathlib.Path, tmp_path: pathlib.Path
                  ) -> Iterator[tuple[int, pathlib.Path, int]]:
    """A victim dumped (which kills it) into tmp_path/img: yields its pid,
    the images dir and the address of its sparse area; reaps it after."""
    proc, _, _, sparse = start_victim(exe, tmp_path)
    images = tmp_path / "img"
    images.mkdir()
    try:
        res = criu("dump", "-t", str(proc.pid), "-D", str(images))
        assert res.returncode == 0, res.stderr
        proc.wait()
        yield proc.pid, images, sparse
    finally:
        end_victim(proc)


def assert_restore_refused(images: pathlib.Path, pid: int,
                           *needles: str) -> None:
    """restore fails with one line holding every needle, leaves no task
    and does not touch the images."""
    before = dir_digest(images)
    res = criu("restore", "-D", str(images), "-d")
    assert res.returncode == 1
    line = one_line(res.stderr)
    assert all(n in line for n in needles), res.stderr
    assert not os.path.exists(f"/proc/{pid}")
    assert dir_digest(images) == before


def test_failed_restore_leaves_nothing(victim_exe: pathlib.Path,
                                       tmp_path: pathlib.Path) -> None:
    with dumped_victim(victim_exe, tmp_path) as (pid, images, _):
        pages = images / "pages-1.img"
        with open(pages, "r+b") as f:           # lose the second half
            f.truncate(pages.stat().st_size // 2)
        assert_restore_refused(images, pid, "read pages")


def test_another_file_at_the_exe_path_is_refused(
        victim_exe: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The executable (mapped, and the exe link) is recorded with its
    size: a different file found at its path is not mapped in its place."""
    exe = tmp_path / "victim"
    exe.write_bytes(victim_exe.read_bytes())
    exe.chmod(0o755)
    with dumped_victim(exe, tmp_path) as (pid, images, _):
        exe.unlink()
        exe.write_bytes(victim_exe.read_bytes() + b"another build")
        exe.chmod(0o755)
        assert_restore_refused(images, pid, str(exe), "has size")


def test_only_written_pages_are_imaged(victim_exe: pathlib.Path,
                                       tmp_path: pathlib.Path) -> None:
    """Pages never touched and pages only read (the shared zero page) are
    left out of the pages image; written ones are all in."""
    from criu.imagedir import ImageDir
    with dumped_victim(victim_exe, tmp_path) as (pid, images, sparse):
        with ImageDir(images) as d:
            entries = d.read(f"pagemap-{pid}.img")[1:]
        imaged = set()
        for e in entries:
            for i in range(pm_nr_pages(e)):
                addr = e.vaddr + i * PAGE
                if sparse <= addr < sparse + 256 * PAGE:
                    imaged.add((addr - sparse) // PAGE)
        assert imaged == set(range(0, 256, 17))
        total = sum(pm_nr_pages(e) for e in entries) * PAGE
        assert (images / "pages-1.img").stat().st_size == total


def test_vdso_of_another_layout_is_refused(victim_exe: pathlib.Path,
                                           tmp_path: pathlib.Path) -> None:
    """A dump whose vdso does not match this kernel's (as after a kernel
    change) is refused with one line naming the vdso, nothing left over."""
    from criu.imagedir import ImageDir
    from criu.mem import vmas as vm
    with dumped_victim(victim_exe, tmp_path) as (pid, images, _):
        with ImageDir(images) as d:
            mm = d.read_one(f"mm-{pid}.img")
            vdso = [v for v in mm.vmas if v.status & vm.VMA_AREA_VDSO][0]
            vdso.end += PAGE            # one page bigger than this kernel's
            d.write(f"mm-{pid}.img", [mm])
        assert_restore_refused(images, pid, "vdso layout differs")


def test_vdso_of_another_kernel_is_refused(victim_exe: pathlib.Path,
                                           tmp_path: pathlib.Path) -> None:
    """The vdso pages are imaged (as CRIU does) and must match this
    kernel's vdso at restore: a changed byte is refused, nothing left."""
    from criu.imagedir import ImageDir
    from criu.mem import vmas as vm
    with dumped_victim(victim_exe, tmp_path) as (pid, images, _):
        with ImageDir(images) as d:
            mm = d.read_one(f"mm-{pid}.img")
            entries = d.read(f"pagemap-{pid}.img")[1:]
        vdso = [v for v in mm.vmas if v.status & vm.VMA_AREA_VDSO][0]
        off = 0
        for e in entries:
            if e.vaddr == vdso.start:
                break
            off += pm_nr_pages(e) * PAGE
        else:
            pytest.fail("the vdso pages are not in the image")
        with open(images / "pages-1.img", "r+b") as f:
            f.seek(off + 100)
            byte = f.read(1)
            f.seek(off + 100)
            f.write(bytes([byte[0] ^ 0xFF]))
        assert_restore_refused(images, pid, "vdso is not this kernel's")


def test_pagemap_words_agree_with_pagemap_scan(victim_exe: pathlib.Path,
                                               tmp_path: pathlib.Path) -> None:
    """The fallback for kernels without PAGEMAP_SCAN finds the same runs."""
    from compel.native import pagemap, uapi
    proc, _, _, sparse = start_victim(victim_exe, tmp_path)
    try:
        os.kill(proc.pid, signal.SIGSTOP)       # no page changes meanwhile
        wait_for(lambda: "T" in _proc_state(proc.pid), "victim stopped")
        fd = os.open(f"/proc/{proc.pid}/pagemap", os.O_RDONLY)
        try:
            filters = dict(anyof=uapi.PAGE_IS_PRESENT | uapi.PAGE_IS_SWAPPED,
                           excluded=uapi.PAGE_IS_PFNZERO | uapi.PAGE_IS_FILE)
            for lo, hi in [(sparse, sparse + 256 * PAGE)] + [
                    tuple(int(x, 16) for x in line.split()[0].split("-"))
                    for line in maps(proc.pid)
                    if line.split()[1].endswith("p") and "[v" not in line]:
                fast = list(pagemap.scan(fd, lo, hi, **filters))
                slow = list(pagemap.scan_words(fd, lo, hi, **filters))
                assert fast == slow, f"{lo:#x}-{hi:#x}"
            zero = list(pagemap.scan_words(fd, sparse, sparse + 256 * PAGE,
                                           required=uapi.PAGE_IS_PFNZERO))
            assert zero == [(sparse + 100 * PAGE, sparse + 101 * PAGE)]
        finally:
            os.close(fd)
    finally:
        end_victim(proc)
