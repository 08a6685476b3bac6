"""Newer kernel uapi: userfaultfd and PAGEMAP_SCAN.

The kernel headers installed here are 6.1's; these values are defined by the
kernel's uapi (linux/userfaultfd.h, linux/fs.h) and stable.
"""

from __future__ import annotations

import ctypes

_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, kind: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (kind << 8) | nr


def _io(kind: int, nr: int) -> int:
    return _ioc(0, kind, nr, 0)


def _ior(kind: int, nr: int, struct: type) -> int:
    return _ioc(_IOC_READ, kind, nr, ctypes.sizeof(struct))


def _iowr(kind: int, nr: int, struct: type) -> int:
    return _ioc(_IOC_READ | _IOC_WRITE, kind, nr, ctypes.sizeof(struct))


_u64 = ctypes.c_uint64

# ---- userfaultfd ---------------------------------------------------------

UFFD_API = 0xAA
UFFDIO = 0xAA
UFFD_USER_MODE_ONLY = 1

UFFD_FEATURE_PAGEFAULT_FLAG_WP = 1 << 0
UFFD_FEATURE_EVENT_FORK = 1 << 1
UFFD_FEATURE_EVENT_REMAP = 1 << 2
UFFD_FEATURE_EVENT_REMOVE = 1 << 3
UFFD_FEATURE_MISSING_HUGETLBFS = 1 << 4
UFFD_FEATURE_MISSING_SHMEM = 1 << 5
UFFD_FEATURE_EVENT_UNMAP = 1 << 6
UFFD_FEATURE_SIGBUS = 1 << 7
UFFD_FEATURE_THREAD_ID = 1 << 8
UFFD_FEATURE_MINOR_HUGETLBFS = 1 << 9
UFFD_FEATURE_MINOR_SHMEM = 1 << 10
UFFD_FEATURE_EXACT_ADDRESS = 1 << 11
UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12
UFFD_FEATURE_WP_UNPOPULATED = 1 << 13
UFFD_FEATURE_POISON = 1 << 14
UFFD_FEATURE_WP_ASYNC = 1 << 15
UFFD_FEATURE_MOVE = 1 << 16

UFFDIO_REGISTER_MODE_MISSING = 1
UFFDIO_REGISTER_MODE_WP = 2
UFFDIO_REGISTER_MODE_MINOR = 4
UFFDIO_COPY_MODE_DONTWAKE = 1
UFFDIO_COPY_MODE_WP = 2
UFFDIO_ZEROPAGE_MODE_DONTWAKE = 1
UFFDIO_WRITEPROTECT_MODE_WP = 1
UFFDIO_WRITEPROTECT_MODE_DONTWAKE = 2

UFFD_EVENT_PAGEFAULT = 0x12
UFFD_EVENT_FORK = 0x13
UFFD_EVENT_REMAP = 0x14
UFFD_EVENT_REMOVE = 0x15
UFFD_EVENT_UNMAP = 0x16
UFFD_PAGEFAULT_FLAG_WRITE = 1
UFFD_PAGEFAULT_FLAG_WP = 2
UFFD_PAGEFAULT_FLAG_MINOR = 4


class UffdioApi(ctypes.Structure):
    """struct uffdio_api { __u64 api; __u64 features; __u64 ioctls; };"""

    _fields_ = [("api", _u64), ("features", _u64), ("ioctls", _u64)]


class UffdioRange(ctypes.Structure):
    """struct uffdio_range { __u64 start; __u64 len; };"""

    _fields_ = [("start", _u64), ("len", _u64)]


class UffdioRegister(ctypes.Structure):
    """struct uffdio_register { struct uffdio_range range; __u64 mode;
    __u64 ioctls; };"""

    _fields_ = [("range", UffdioRange), ("mode", _u64), ("ioctls", _u64)]


class UffdioCopy(ctypes.Structure):
    """struct uffdio_copy { __u64 dst; __u64 src; __u64 len; __u64 mode;
    __s64 copy; };"""

    _fields_ = [("dst", _u64), ("src", _u64), ("len", _u64), ("mode", _u64),
                ("copy", ctypes.c_int64)]


class UffdioZeropage(ctypes.Structure):
    """struct uffdio_zeropage { struct uffdio_range range; __u64 mode;
    __s64 zeropage; };"""

    _fields_ = [("range", UffdioRange), ("mode", _u64),
                ("zeropage", ctypes.c_int64)]


class UffdioWriteprotect(ctypes.Structure):
    """struct uffdio_writeprotect { struct uffdio_range range; __u64 mode; };"""

    _fields_ = [("range", UffdioRange), ("mode", _u64)]


class UffdMsg(ctypes.Structure):
    """struct uffd_msg (32 bytes): event, then a union; for a page fault:
    { __u8 event; __u8 reserved1; __u16 reserved2; __u32 reserved3;
      __u64 flags; __u64 address; __u32 ptid; ... }"""

    _fields_ = [("event", ctypes.c_uint8), ("reserved1", ctypes.c_uint8),
                ("reserved2", ctypes.c_uint16), ("reserved3", ctypes.c_uint32),
                ("arg0", _u64), ("arg1", _u64), ("arg2", _u64)]


UFFDIO_API = _iowr(UFFDIO, 0x3F, UffdioApi)
UFFDIO_REGISTER = _iowr(UFFDIO, 0x00, UffdioRegister)
UFFDIO_UNREGISTER = _ior(UFFDIO, 0x01, UffdioRange)
UFFDIO_WAKE = _ior(UFFDIO, 0x02, UffdioRange)
UFFDIO_COPY = _iowr(UFFDIO, 0x03, UffdioCopy)
UFFDIO_ZEROPAGE = _iowr(UFFDIO, 0x04, UffdioZeropage)
UFFDIO_WRITEPROTECT = _iowr(UFFDIO, 0x06, UffdioWriteprotect)
USERFAULTFD_IOC_NEW = _io(UFFDIO, 0x00)  # on /dev/userfaultfd

# ---- PAGEMAP_SCAN (ioctl on /proc/PID/pagemap, since 6.7) -----------------

PAGE_IS_WPALLOWED = 1 << 0
PAGE_IS_WRITTEN = 1 << 1
PAGE_IS_FILE = 1 << 2
PAGE_IS_PRESENT = 1 << 3
PAGE_IS_SWAPPED = 1 << 4
PAGE_IS_PFNZERO = 1 << 5
PAGE_IS_HUGE = 1 << 6
PAGE_IS_SOFT_DIRTY = 1 << 7
PAGE_IS_GUARD = 1 << 8

PM_SCAN_WP_MATCHING = 1 << 0
PM_SCAN_CHECK_WPASYNC = 1 << 1


class PageRegion(ctypes.Structure):
    """One run of pages with the same categories.

    struct page_region { __u64 start; __u64 end; __u64 categories; };
    """

    _fields_ = [("start", _u64), ("end", _u64), ("categories", _u64)]


class PmScanArg(ctypes.Structure):
    """Argument of the PAGEMAP_SCAN ioctl.

    struct pm_scan_arg {
        __u64 size;                /* sizeof(struct pm_scan_arg) */
        __u64 flags;               /* PM_SCAN_* */
        __u64 start, end;          /* range to scan */
        __u64 walk_end;            /* out: where the walk stopped */
        __u64 vec, vec_len;        /* struct page_region[] output */
        __u64 max_pages;
        __u64 category_inverted, category_mask, category_anyof_mask;
        __u64 return_mask;
    };
    """

    _fields_ = [(name, _u64) for name in (
        "size", "flags", "start", "end", "walk_end", "vec", "vec_len",
        "max_pages", "category_inverted", "category_mask",
        "category_anyof_mask", "return_mask")]


PAGEMAP_SCAN = _iowr(ord("f"), 16, PmScanArg)
