"""PAGEMAP_SCAN (Linux 6.7+): runs of pages of another task by category.

One ioctl on /proc/PID/pagemap returns whole runs of pages that match a
category filter (present, swapped, file-backed, zero page, ...), instead of
one 64-bit pagemap word per page.  The memory dump uses it to find the
pages worth writing: present or swapped, not the shared zero page, not
page-cache pages of a file mapping.  On kernels without the ioctl, the
same categories are computed from the pagemap words (slower).
"""

from __future__ import annotations

import ctypes
import fcntl
import errno
import functools
import mmap
import os
import struct
from typing import Iterator

from compel.native import uapi
from compel.native.uapi import PAGEMAP_SCAN, PageRegion, PmScanArg

PAGE_SIZE = 4096
_VEC_LEN = 1024


def scan(fd: int, start: int, end: int, *, anyof: int = 0, required: int = 0,
         excluded: int = 0) -> Iterator[tuple[int, int]]:
    """Runs [start, end) of pages in [start, end) of the task whose
    pagemap is open on `fd`, whose categories contain every bit of
    `required`, none of `excluded`, and (if `anyof`) one of `anyof`.

    Adjacent runs are merged.  Raises OSError naming PAGEMAP_SCAN.
    """
    vec = (PageRegion * _VEC_LEN)()
    pending: tuple[int, int] | None = None
    addr = start
    while addr < end:
        arg = PmScanArg(size=ctypes.sizeof(PmScanArg), start=addr, end=end,
                        vec=ctypes.addressof(vec), vec_len=_VEC_LEN,
                        category_inverted=excluded,
                        category_mask=required | excluded,
                        category_anyof_mask=anyof,
                        return_mask=required | excluded | anyof)
        try:
            n = fcntl.ioctl(fd, PAGEMAP_SCAN, arg)
        except OSError as e:
            if e.errno in (errno.ENOTTY, errno.EINVAL) and addr == start \
                    and pending is None:
                yield from scan_words(fd, start, end, anyof=anyof,
                                      required=required, excluded=excluded)
                return
            raise OSError(e.errno, f"PAGEMAP_SCAN {addr:#x}-{end:#x}: "
                          f"{e.strerror}") from None
        for i in range(n):
            lo, hi = vec[i].start, vec[i].end
            if pending is not None and pending[1] == lo:
                pending = (pending[0], hi)
                continue
            if pending is not None:
                yield pending
            pending = (lo, hi)
        if arg.walk_end <= addr:
            break
        addr = arg.walk_end
    if pending is not None:
        yield pending


# /proc/PID/pagemap words (Documentation/admin-guide/mm/pagemap.rst).
PM_PRESENT = 1 << 63
PM_SWAP = 1 << 62
PM_FILE = 1 << 61
PM_PFN_MASK = (1 << 55) - 1
_WORDS_PER_READ = 8192


@functools.cache
def zero_pfn() -> int:
    """PFN of the shared zero page (needs CAP_SYS_ADMIN to be visible;
    0 when hidden, so that no page is taken for it)."""
    area = mmap.mmap(-1, PAGE_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        area[0]                     # a read fault maps the zero page
        from compel.native._libc import address_of
        addr = address_of(area)
        with open("/proc/self/pagemap", "rb") as f:
            word, = struct.unpack("<Q", os.pread(f.fileno(), 8,
                                                 addr // PAGE_SIZE * 8))
        return word & PM_PFN_MASK if word & PM_PRESENT else 0
    finally:
        area.close()


def categories_of(word: int) -> int:
    """The PAGE_IS_* categories of one pagemap word."""
    cats = 0
    if word & PM_PRESENT:
        cats |= uapi.PAGE_IS_PRESENT
        pfn = word & PM_PFN_MASK
        if pfn and pfn == zero_pfn():
            cats |= uapi.PAGE_IS_PFNZERO
    if word & PM_SWAP:
        cats |= uapi.PAGE_IS_SWAPPED
    if word & PM_FILE:
        cats |= uapi.PAGE_IS_FILE
    return cats


def scan_words(fd: int, start: int, end: int, *, anyof: int = 0,
               required: int = 0, excluded: int = 0) -> Iterator[tuple[int, int]]:
    """scan() computed from pagemap words, for kernels before 6.7."""
    pending: tuple[int, int] | None = None
    addr = start
    while addr < end:
        count = min(_WORDS_PER_READ, (end - addr) // PAGE_SIZE)
        data = os.pread(fd, count * 8, addr // PAGE_SIZE * 8)
        if len(data) < count * 8:
            raise OSError(errno.EIO, f"pagemap {addr:#x}: short read")
        for i, word in enumerate(struct.unpack(f"<{count}Q", data)):
            cats = categories_of(word)
            if (cats & required != required or cats & excluded or
                    (anyof and not cats & anyof)):
                continue
            page = addr + i * PAGE_SIZE
            if pending is not None and pending[1] == page:
                pending = (pending[0], page + PAGE_SIZE)
                continue
            if pending is not None:
                yield pending
            pending = (page, page + PAGE_SIZE)
        addr += count * PAGE_SIZE
    if pending is not None:
        yield pending
