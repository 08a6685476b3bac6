"""PAGEMAP_SCAN (Linux 6.7+): runs of pages of another task by category.

One ioctl on /proc/PID/pagemap returns whole runs of pages that match a
category filter (present, swapped, file-backed, zero page, ...), instead of
one 64-bit pagemap word per page.  The memory dump uses it to find the
pages worth writing: present or swapped, not the shared zero page, not
page-cache pages of a file mapping.
"""

from __future__ import annotations

import ctypes
import fcntl
from typing import Iterator

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
            n = fcntl.ioctl(fd, PAGEMAP_SCAN, arg)   # type: ignore[call-overload]
        except OSError as e:
            raise OSError(e.errno, f"PAGEMAP_SCAN {addr:#x}-{end:#x}: "
                          f"{e.strerror}") from None
        for i in range(n):
            s, e = vec[i].start, vec[i].end
            if pending is not None and pending[1] == s:
                pending = (pending[0], e)
                continue
            if pending is not None:
                yield pending
            pending = (s, e)
        if arg.walk_end <= addr:
            break
        addr = arg.walk_end
    if pending is not None:
        yield pending
