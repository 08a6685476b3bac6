"""The x86_64 rt_sigframe a restored task returns through.

The restorer ends like a signal handler: rt_sigreturn reads a frame at the
stack pointer and loads every register, the FPU/XSAVE state, the blocked
signal mask and the alternate signal stack from it.  criu builds that frame
here, for the address it will occupy (the fpstate pointer is absolute).

    struct rt_sigframe {            // arch/x86/include/asm/sigframe.h
        char *pretcode;             // 0
        struct ucontext uc;         // 8
        struct siginfo info;        // 312, 128 bytes
    };                              // fpstate follows, 64-byte aligned
    struct ucontext {
        unsigned long uc_flags;     // 8
        struct ucontext *uc_link;   // 16
        stack_t uc_stack;           // 24: ss_sp, ss_flags (int), ss_size
        struct sigcontext uc_mcontext;  // 48, 256 bytes
        sigset_t uc_sigmask;        // 304
    };
    struct sigcontext {             // 64-bit, asm/sigcontext.h
        u64 r8, r9, r10, r11, r12, r13, r14, r15, di, si, bp, bx, dx, ax,
            cx, sp, ip, flags;
        u16 cs, gs, fs, ss;
        u64 err, trapno, oldmask, cr2, fpstate, reserved1[8];
    };
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

UC_FP_XSTATE = 0x1
UC_SIGCONTEXT_SS = 0x2
UC_STRICT_RESTORE_SS = 0x4

UC_OFFSET = 8
UC_STACK_OFFSET = 24
MCONTEXT_OFFSET = 48
SIGMASK_OFFSET = 304
SIGINFO_OFFSET = 312
FRAME_HEAD_SIZE = 440
FPSTATE_ALIGN = 64

_SIGCONTEXT_REGS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
                    "di", "si", "bp", "bx", "dx", "ax", "cx", "sp", "ip",
                    "flags")


@dataclasses.dataclass
class AltStack:
    """stack_t: the alternate signal stack rt_sigreturn reinstalls."""

    sp: int = 0
    flags: int = 2          # SS_DISABLE
    size: int = 0


def frame_size(xsave_len: int) -> int:
    """Bytes of a frame whose fpstate holds xsave_len bytes."""
    return _fpstate_offset() + xsave_len


def _fpstate_offset() -> int:
    return (FRAME_HEAD_SIZE + FPSTATE_ALIGN - 1) // FPSTATE_ALIGN * FPSTATE_ALIGN


def place_frame(sp: int, xsave_len: int) -> int:
    """Where to put the frame below a stack pointer: past the red zone,
    with the fpstate 64-byte aligned (the frame start is 64-aligned)."""
    addr = sp - 128 - frame_size(xsave_len)
    return addr & ~(FPSTATE_ALIGN - 1)


def build_frame(addr: int, gpregs: Any, xsave: bytes, sigmask: int,
                altstack: AltStack) -> bytes:
    """The frame bytes for address `addr` (64-byte aligned).

    gpregs is a user_x86_regs_entry; xsave a standard-layout XSAVE buffer
    with software bytes and trailing magic (criu.arch.x86.cpu.core_to_xsave).
    After rt_sigreturn the task runs at gpregs.ip with every register as
    dumped; rsp must be addr + 8 when rt_sigreturn is entered.
    """
    if addr % FPSTATE_ALIGN:
        raise ValueError(f"sigframe at {addr:#x} is not 64-byte aligned")
    fp_off = _fpstate_offset()
    buf = bytearray(fp_off + len(xsave))
    struct.pack_into("<QQ", buf, UC_OFFSET,
                     UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0)
    struct.pack_into("<QiiQ", buf, UC_STACK_OFFSET, altstack.sp,
                     altstack.flags, 0, altstack.size)
    regs = [getattr(gpregs, name) for name in _SIGCONTEXT_REGS]
    struct.pack_into("<18Q", buf, MCONTEXT_OFFSET, *regs)
    struct.pack_into("<4H", buf, MCONTEXT_OFFSET + 144, gpregs.cs & 0xFFFF,
                     gpregs.gs & 0xFFFF, gpregs.fs & 0xFFFF, gpregs.ss & 0xFFFF)
    # err, trapno, oldmask, cr2 stay 0; then the fpstate pointer.
    struct.pack_into("<Q", buf, MCONTEXT_OFFSET + 184, addr + fp_off)
    struct.pack_into("<Q", buf, SIGMASK_OFFSET, sigmask)
    buf[fp_off:] = xsave
    return bytes(buf)
