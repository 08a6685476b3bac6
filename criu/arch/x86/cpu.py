"""x86_64 CPU state <-> core image (thread_info_x86), and back to XSAVE.

Dump: the general registers (NT_PRSTATUS, with fs/gs base) become
user_x86_regs_entry; the XSAVE area (NT_X86_XSTATE, standard layout) is
split into the legacy FXSAVE fields and the per-component arrays of
user_x86_xsave_entry (AVX, MPX, AVX-512, PKRU) exactly as CRIU stores them.
Restore: the image is turned back into a standard-layout XSAVE buffer for
the rt_sigframe the restorer returns through (criu.arch.x86.sigframe).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

from compel.arch.x86 import xsave as xs
from compel.arch.x86.cpuid import cpuid
from compel.arch.x86.regs import (ERESTART_RESTARTBLOCK, ERESTARTNOHAND,
                                  ERESTARTNOINTR, ERESTARTSYS, UserRegs)

# core image name -> user_regs_struct name (same order as the struct).
REG_NAMES: tuple[tuple[str, str], ...] = (
    ("r15", "r15"), ("r14", "r14"), ("r13", "r13"), ("r12", "r12"),
    ("bp", "rbp"), ("bx", "rbx"), ("r11", "r11"), ("r10", "r10"),
    ("r9", "r9"), ("r8", "r8"), ("ax", "rax"), ("cx", "rcx"), ("dx", "rdx"),
    ("si", "rsi"), ("di", "rdi"), ("orig_ax", "orig_rax"), ("ip", "rip"),
    ("cs", "cs"), ("flags", "eflags"), ("sp", "rsp"), ("ss", "ss"),
    ("fs_base", "fs_base"), ("gs_base", "gs_base"), ("ds", "ds"),
    ("es", "es"), ("fs", "fs"), ("gs", "gs"),
)

EINTR = 4
_U64 = (1 << 64) - 1

# xsave entry field -> (component number, element format)
XSAVE_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("ymmh_space", xs.YMM, "I"),
    ("bndreg_state", xs.BNDREGS, "Q"),
    ("bndcsr_state", xs.BNDCSR, "Q"),
    ("opmask_reg", xs.OPMASK, "Q"),
    ("zmm_upper", xs.ZMM_HI256, "Q"),
    ("hi16_zmm", xs.HI16_ZMM, "Q"),
    ("pkru", xs.PKRU, "I"),
)

# Legacy FXSAVE area (struct user_fpregs_struct): name, offset, format.
_LEGACY = (("cwd", 0, "H"), ("swd", 2, "H"), ("twd", 4, "H"), ("fop", 6, "H"),
           ("rip", 8, "Q"), ("rdp", 16, "Q"), ("mxcsr", 24, "I"),
           ("mxcsr_mask", 28, "I"))
ST_SPACE = (32, 32)      # offset, number of u32
XMM_SPACE = (160, 64)
FP_XSTATE_MAGIC2 = 0x46505845
XSAVE_HDR_SIZE = 64


class UnimagedXFeature(ValueError):
    """The thread holds live state of an XSAVE component the image format
    has no field for: dumping it would lose that state."""


class MissingXFeature(ValueError):
    """The image holds live state of an XSAVE component this CPU lacks."""


def fixup_syscall_restart(regs: UserRegs) -> None:
    """Registers of a task stopped inside an interrupted syscall, made
    restartable in a fresh process, as the kernel would have done when
    resuming it: the syscall is re-executed, except restart_block ones
    (nanosleep...) whose kernel state is lost: they return -EINTR."""
    if not regs.in_syscall:
        return
    ret = -regs.syscall_ret
    if ret in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND):
        regs.rax = regs.orig_rax
        regs.rip -= 2
    elif ret == ERESTART_RESTARTBLOCK:
        regs.rax = -EINTR & _U64


def regs_to_core(regs: UserRegs, entry: Any) -> None:
    """Fill a user_x86_regs_entry from ptrace registers."""
    for core_name, reg_name in REG_NAMES:
        setattr(entry, core_name, getattr(regs, reg_name))
    entry.mode = 1  # NATIVE


def core_to_regs(entry: Any) -> UserRegs:
    regs = UserRegs()
    for core_name, reg_name in REG_NAMES:
        setattr(regs, reg_name, getattr(entry, core_name))
    return regs


def xsave_to_core(data: bytes, fpregs: Any) -> None:
    """Split an NT_X86_XSTATE (or 512-byte NT_PRFPREG) buffer into a
    user_x86_fpregs_entry (legacy fields, plus xsave components)."""
    for name, off, fmt in _LEGACY:
        setattr(fpregs, name, struct.unpack_from("<" + fmt, data, off)[0])
    off, n = ST_SPACE
    _assign(fpregs.st_space, struct.unpack_from(f"<{n}I", data, off))
    off, n = XMM_SPACE
    _assign(fpregs.xmm_space, struct.unpack_from(f"<{n}I", data, off))
    _assign(fpregs.padding, struct.unpack_from("<24I", data, 416))
    if len(data) <= xs.LEGACY_SIZE:
        return
    area = xs.XSave(data)
    features = area.xfeatures
    live = area.xstate_bv & ~(0b11 | sum(1 << n for _, n, _ in XSAVE_FIELDS))
    if live:
        raise UnimagedXFeature(
            "XSAVE component(s) " + ", ".join(
                str(n) for n in range(64) if live & (1 << n)) +
            " in use (e.g. AMX tiles: 17, 18), which CRIU's image format "
            "cannot hold")
    x = fpregs.xsave
    x.xstate_bv = area.xstate_bv
    for field, number, fmt in XSAVE_FIELDS:
        if not features & (1 << number):
            continue
        chunk = area.component(number)
        if chunk is None:
            continue
        count = len(chunk) // struct.calcsize(fmt)
        _assign(getattr(x, field), struct.unpack(f"<{count}{fmt}", chunk))


XFD_CAPABLE = 1 << 2          # CPUID 0xD.n ECX: the component is dynamic
SYS_ARCH_PRCTL = 158
ARCH_GET_XCOMP_PERM = 0x1022


def xstate_size() -> int:
    """Size of the standard XSAVE layout of a signal frame's fpstate, the
    kernel's fpstate->user_size: up to the end of the last component of
    supported_features().  rt_sigreturn takes only the legacy FXSAVE part
    of a frame whose software bytes claim more (check_xstate_in_sigframe:
    xstate_size > user_size), so the AVX/AVX-512 registers come back as
    zeros.  Not CPUID 0xD.0 EBX: that counts every component enabled in
    XCR0, AMX tile data (8 KiB, dynamic) included."""
    comps = xs.components()
    features = supported_features()
    return max([xs.HEADER_OFFSET + XSAVE_HDR_SIZE] +
               [c.offset + c.size for n, c in comps.items()
                if features & (1 << n)])


def _kernel_user_features() -> int | None:
    """The XSAVE features of this process's fpstate as the kernel sets them
    (arch_prctl(ARCH_GET_XCOMP_PERM), Linux 5.16+): XCR0 without the
    dynamic ones not asked for.  None where the kernel lacks it."""
    value = ctypes.c_uint64(0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(ctypes.c_long(SYS_ARCH_PRCTL),
                    ctypes.c_long(ARCH_GET_XCOMP_PERM),
                    ctypes.byref(value)) != 0:
        return None
    return value.value


def supported_features() -> int:
    """The components a restored thread's signal frames hold (the kernel's
    fpstate->user_xfeatures): those the kernel enabled (it may enable
    fewer than the CPU has: an older kernel on an AMX or APX machine),
    without the dynamic (XFD) ones, AMX tiles, which a task gets only after
    arch_prctl(ARCH_REQ_XCOMP_PERM) and a first use."""
    eax, _, _, edx = cpuid(0xD, 0)
    features = eax | (edx << 32)
    enabled = _kernel_user_features()
    if enabled is not None:
        features &= enabled
    for n in range(2, 63):
        if features & (1 << n) and cpuid(0xD, n)[2] & XFD_CAPABLE:
            features &= ~(1 << n)
    return features


def core_to_xsave(fpregs: Any) -> bytes:
    """A standard-layout XSAVE buffer (for a sigframe's fpstate) from a
    user_x86_fpregs_entry, with the kernel's software bytes and trailing
    magic so rt_sigreturn restores every component (XRSTOR)."""
    size = xstate_size()
    features = supported_features()
    buf = bytearray(size + 4)
    for name, off, fmt in _LEGACY:
        struct.pack_into("<" + fmt, buf, off, getattr(fpregs, name))
    off, n = ST_SPACE
    struct.pack_into(f"<{n}I", buf, off, *_padded(fpregs.st_space, n))
    off, n = XMM_SPACE
    struct.pack_into(f"<{n}I", buf, off, *_padded(fpregs.xmm_space, n))
    xstate_bv = 0b11                            # x87 + SSE from legacy
    if fpregs.HasField("xsave"):
        x = fpregs.xsave
        comps = xs.components()
        xstate_bv = x.xstate_bv & features
        for field, number, fmt in XSAVE_FIELDS:
            values = list(getattr(x, field))
            comp = comps.get(number)
            if not values:
                xstate_bv &= ~(1 << number)
                continue
            if comp is None or not features & (1 << number):
                if x.xstate_bv & (1 << number) and any(values):
                    raise MissingXFeature(xs.COMPONENT_NAMES.get(
                        number, str(number)))
                xstate_bv &= ~(1 << number)
                continue
            count = comp.size // struct.calcsize(fmt)
            struct.pack_into(f"<{count}{fmt}", buf, comp.offset,
                             *_padded(values, count))
    # struct _fpx_sw_bytes at 464, then the XSAVE header at 512.
    struct.pack_into("<IIQI", buf, xs.SW_BYTES_OFFSET, xs.FP_XSTATE_MAGIC1,
                     size + 4, features, size)
    struct.pack_into("<QQ", buf, xs.HEADER_OFFSET, xstate_bv, 0)
    struct.pack_into("<I", buf, size, FP_XSTATE_MAGIC2)
    return bytes(buf)


def _padded(values: Any, count: int) -> list[int]:
    items = list(values)[:count]
    return items + [0] * (count - len(items))


def _assign(repeated: Any, values: Any) -> None:
    del repeated[:]
    repeated.extend(values)
