"""CPUID from Python: a 30-byte function placed in an executable page of our
own process.  Needed for the XSAVE layout (leaf 0xD) that ptrace does not
describe.
"""

from __future__ import annotations

import ctypes
import functools
import mmap

import _ctypes

# void cpuid(unsigned int out[4] /* rdi */, leaf /* esi */, subleaf /* edx */)
#   push rbx; mov eax, esi; mov ecx, edx; cpuid;
#   mov [rdi], eax; mov [rdi+4], ebx; mov [rdi+8], ecx; mov [rdi+12], edx;
#   pop rbx; ret
_CODE = bytes.fromhex(
    "53" "89f0" "89d1" "0fa2" "8907" "895f04" "894f08" "89570c" "5b" "c3")


@functools.cache
def _function() -> tuple[mmap.mmap, _ctypes.CFuncPtr]:
    page = mmap.mmap(-1, mmap.PAGESIZE,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_CODE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32 * 4),
                             ctypes.c_uint32, ctypes.c_uint32)
    return page, proto(addr)


def cpuid(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
    """(eax, ebx, ecx, edx) of CPUID(leaf, subleaf)."""
    out = (ctypes.c_uint32 * 4)()
    _function()[1](ctypes.pointer(out), leaf, subleaf)
    return out[0], out[1], out[2], out[3]
