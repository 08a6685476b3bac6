"""Running a blob inside our own process, and facts about our own thread.

A restored task is criu's own child until it jumps into the restorer blob
mapped in its memory: call_blob() is that jump.  glibc_rseq() says where
glibc registered the thread's rseq area, which the blob must unregister
before it unmaps criu's memory (the kernel writes into that area).
"""

from __future__ import annotations

import ctypes

from compel.native._libc import libc

RSEQ_SIG_X86 = 0x53053053      # glibc's RSEQ_SIG on x86


def call_blob(addr: int, arg: int) -> None:
    """Call the function at `addr` with one pointer argument (SysV ABI)."""
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(addr)
    fn(arg)


def glibc_rseq() -> tuple[int, int, int]:
    """(offset from the thread pointer, size, signature) of the rseq area
    glibc registered for this thread; size 0 when none is registered."""
    try:
        offset = ctypes.c_long.in_dll(libc, "__rseq_offset").value
        size = ctypes.c_uint.in_dll(libc, "__rseq_size").value
    except ValueError:          # glibc older than 2.35: no rseq
        return 0, 0, 0
    if size == 0:
        return 0, 0, 0
    # glibc registers 32 bytes (the original struct rseq) even when
    # __rseq_size reports the feature size; the kernel wants the same length
    # at unregistration as at registration.
    return offset, max(size, 32), RSEQ_SIG_X86
