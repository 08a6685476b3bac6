"""Reading the XSAVE area that PTRACE_GETREGSET(NT_X86_XSTATE) returns.

ptrace gives the standard (non-compacted) layout: the 512-byte legacy FXSAVE
area, whose software-reserved bytes start (offset 464) with XCR0, the
features the kernel enabled; then the 64-byte XSAVE header (xstate_bv
first), then each enabled component at the offset CPUID leaf 0xD gives.
(Signal frames use the same bytes for struct _fpx_sw_bytes instead.)
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools

from compel.arch.x86.cpuid import cpuid

LEGACY_SIZE = 512
HEADER_OFFSET = 512
SW_BYTES_OFFSET = 464
FP_XSTATE_MAGIC1 = 0x46505853

# Component numbers (bits of xstate_bv / XCR0).
X87, SSE, YMM, BNDREGS, BNDCSR, OPMASK, ZMM_HI256, HI16_ZMM = range(8)
PKRU = 9
COMPONENT_NAMES = {X87: "x87", SSE: "sse", YMM: "ymm", BNDREGS: "bndregs",
                   BNDCSR: "bndcsr", OPMASK: "opmask", ZMM_HI256: "zmm_hi256",
                   HI16_ZMM: "hi16_zmm", PKRU: "pkru"}


class FpxSwBytes(ctypes.Structure):
    """The kernel's description of the xstate in a signal frame's legacy area.

    struct _fpx_sw_bytes {
        __u32 magic1;          /* FP_XSTATE_MAGIC1 */
        __u32 extended_size;
        __u64 xfeatures;
        __u32 xstate_size;
        __u32 padding[7];
    };
    """

    _fields_ = [("magic1", ctypes.c_uint32), ("extended_size", ctypes.c_uint32),
                ("xfeatures", ctypes.c_uint64), ("xstate_size", ctypes.c_uint32),
                ("padding", ctypes.c_uint32 * 7)]


@dataclasses.dataclass(frozen=True)
class Component:
    """Where one XSAVE component lives in the standard layout."""

    number: int
    offset: int
    size: int


@functools.cache
def components() -> dict[int, Component]:
    """Components this CPU supports (CPUID 0xD), by number (2 and up)."""
    eax, _, _, edx = cpuid(0xD, 0)
    supported = eax | (edx << 32)
    found: dict[int, Component] = {}
    for n in range(2, 63):
        if supported & (1 << n):
            size, offset, _, _ = cpuid(0xD, n)
            if size:
                found[n] = Component(n, offset, size)
    return found


class XSave:
    """An XSAVE buffer from NT_X86_XSTATE, with its parts by name."""

    def __init__(self, data: bytes) -> None:
        if len(data) < HEADER_OFFSET + 64:
            raise ValueError(f"xsave area too short: {len(data)} bytes")
        self.data = bytes(data)

    @property
    def xfeatures(self) -> int:
        """Features enabled by the kernel (XCR0), which ptrace stores at the
        start of the software-reserved bytes."""
        return int.from_bytes(self.data[SW_BYTES_OFFSET:SW_BYTES_OFFSET + 8],
                              "little")

    def sigframe_sw_bytes(self) -> FpxSwBytes:
        """The same bytes read as a signal frame's struct _fpx_sw_bytes."""
        return FpxSwBytes.from_buffer_copy(self.data, SW_BYTES_OFFSET)

    @property
    def xstate_bv(self) -> int:
        """Components holding non-initial state."""
        return int.from_bytes(self.data[HEADER_OFFSET:HEADER_OFFSET + 8], "little")

    @property
    def legacy(self) -> bytes:
        return self.data[:LEGACY_SIZE]

    def component(self, number: int) -> bytes | None:
        """The bytes of component `number` (None if the CPU lacks it)."""
        comp = components().get(number)
        if comp is None or comp.offset + comp.size > len(self.data):
            return None
        return self.data[comp.offset:comp.offset + comp.size]
