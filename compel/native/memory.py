"""Memory syscalls: another process's memory in batches, mappings in our own
process (for loading blobs), memfd, and page moving through pipes.

Pages never go through Python objects one by one: callers pass iovec batches
and the kernel moves the bytes.
"""

from __future__ import annotations

import ctypes
import mmap as _mmap

from compel.native._libc import libc, check, sys
from compel.native.structs import iovec_array

PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x100
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_FIXED_NOREPLACE = 0x100000
MAP_FAILED = 0xFFFFFFFFFFFFFFFF

MFD_CLOEXEC = 1
MFD_ALLOW_SEALING = 2

SPLICE_F_MOVE = 1
SPLICE_F_NONBLOCK = 2
SPLICE_F_MORE = 4
SPLICE_F_GIFT = 8

PAGE_SIZE = _mmap.PAGESIZE
IOV_MAX = 1024

Ranges = list[tuple[int, int]]


def _batches(ranges: Ranges) -> list[Ranges]:
    return [ranges[i:i + IOV_MAX] for i in range(0, len(ranges), IOV_MAX)] or [[]]


def process_vm_readv(pid: int, local: Ranges, remote: Ranges) -> int:
    """Copy remote (addr, len) ranges of `pid` into local ranges; bytes read.

    Both lists may be longer than IOV_MAX: the remote side is sent in
    IOV_MAX batches, local buffers matched in order (one local buffer per call
    is the usual case).
    """
    return _vm_rw("process_vm_readv", pid, local, remote)


def process_vm_writev(pid: int, local: Ranges, remote: Ranges) -> int:
    return _vm_rw("process_vm_writev", pid, local, remote)


def _vm_rw(call: str, pid: int, local: Ranges, remote: Ranges) -> int:
    total = 0
    if len(local) <= IOV_MAX and len(remote) <= IOV_MAX:
        return sys(call, pid, iovec_array(local), len(local),
                   iovec_array(remote), len(remote), 0)
    # Long lists: split both sides on the same byte boundaries.
    flat_local = list(local)
    for batch in _batches(remote):
        want = sum(n for _, n in batch)
        mine: Ranges = []
        while want:
            base, n = flat_local[0]
            take = min(n, want)
            mine.append((base, take))
            want -= take
            if take == n:
                flat_local.pop(0)
            else:
                flat_local[0] = (base + take, n - take)
        got = sys(call, pid, iovec_array(mine), len(mine),
                  iovec_array(batch), len(batch), 0)
        total += got
        if got < sum(n for _, n in batch):
            break
    return total


def read_remote(pid: int, addr: int, size: int) -> bytes:
    """A small read of another process's memory (headers, strings)."""
    buf = ctypes.create_string_buffer(size)
    got = process_vm_readv(pid, [(ctypes.addressof(buf), size)], [(addr, size)])
    return buf.raw[:got]


def write_remote(pid: int, addr: int, data: bytes) -> int:
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    return process_vm_writev(pid, [(ctypes.addressof(buf), len(data))],
                             [(addr, len(data))])


libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def mmap(addr: int, length: int, prot: int, flags: int, fd: int = -1,
         offset: int = 0) -> int:
    """mmap(2) in our own process; returns the address."""
    ret = libc.mmap(addr or None, length, prot, flags, fd, offset)
    if ret is None or ret == MAP_FAILED:
        raise OSError(ctypes.get_errno(),
                      f"mmap: {__import__('os').strerror(ctypes.get_errno())}")
    return ret


def munmap(addr: int, length: int) -> None:
    check("munmap", libc.munmap(addr, length))


def mprotect(addr: int, length: int, prot: int) -> None:
    check("mprotect", libc.mprotect(addr, length, prot))


def memfd_create(name: str, flags: int = MFD_CLOEXEC) -> int:
    return sys("memfd_create", ctypes.c_char_p(name.encode()), flags)


def vmsplice(fd: int, ranges: Ranges, flags: int = 0) -> int:
    """Pass user memory ranges into a pipe; bytes queued."""
    return sys("vmsplice", fd, iovec_array(ranges), len(ranges), flags)


def splice(fd_in: int, fd_out: int, length: int, off_in: int | None = None,
           off_out: int | None = None, flags: int = 0) -> int:
    """splice(2); off_in/off_out None means use (and move) the file position."""
    pin = ctypes.byref(ctypes.c_int64(off_in)) if off_in is not None else None
    pout = ctypes.byref(ctypes.c_int64(off_out)) if off_out is not None else None
    return sys("splice", fd_in, pin, fd_out, pout, length, flags)


def preadv(fd: int, ranges: Ranges, offset: int) -> int:
    """Read from `fd` at `offset` into (address, length) buffers."""
    return sys("preadv", fd, iovec_array(ranges), len(ranges), offset, 0)


def pwritev(fd: int, ranges: Ranges, offset: int) -> int:
    return sys("pwritev", fd, iovec_array(ranges), len(ranges), offset, 0)
