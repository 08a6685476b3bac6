"""x86 CPU state: registers and XSAVE to and from the core image, and the
rt_sigframe the restorer returns through."""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import struct

import pytest

from compel.arch.x86 import xsave as xs
from compel.arch.x86.regs import ERESTART_RESTARTBLOCK, ERESTARTSYS, UserRegs
from criu.arch.x86 import cpu, sigframe
from images.pb import core_x86_pb2


def _regs() -> UserRegs:
    regs = UserRegs()
    for i, (_, name) in enumerate(cpu.REG_NAMES):
        setattr(regs, name, 0x1000 + i)
    return regs


def test_regs_round_trip_through_core() -> None:
    entry = core_x86_pb2.user_x86_regs_entry()
    regs = _regs()
    cpu.regs_to_core(regs, entry)
    assert entry.ip == regs.rip and entry.sp == regs.rsp
    assert entry.flags == regs.eflags and entry.orig_ax == regs.orig_rax
    assert entry.fs_base == regs.fs_base
    assert bytes(cpu.core_to_regs(entry)) == bytes(regs)


def test_interrupted_syscall_is_made_restartable() -> None:
    regs = _regs()
    regs.orig_rax = 35                      # nanosleep... any syscall
    regs.rax = (-ERESTARTSYS) & (2**64 - 1)
    ip = regs.rip
    cpu.fixup_syscall_restart(regs)
    assert regs.rax == 35 and regs.rip == ip - 2

    regs = _regs()
    regs.orig_rax = 35
    regs.rax = (-ERESTART_RESTARTBLOCK) & (2**64 - 1)
    cpu.fixup_syscall_restart(regs)
    assert regs.syscall_ret == -cpu.EINTR and regs.rip == _regs().rip

    regs = _regs()
    regs.orig_rax = 2**64 - 1               # not in a syscall: untouched
    before = bytes(regs)
    cpu.fixup_syscall_restart(regs)
    assert bytes(regs) == before


def _imaged(comps: dict) -> dict:
    numbers = {n for _, n, _ in cpu.XSAVE_FIELDS}
    return {n: c for n, c in comps.items() if n in numbers}


def _xsave_buffer(imaged_only: bool = False) -> bytes:
    """A standard-layout XSAVE area as ptrace gives it, with a pattern in
    every component this CPU has (or only those the image can hold)."""
    all_comps = xs.components()
    comps = _imaged(all_comps) if imaged_only else all_comps
    size = max([c.offset + c.size for c in all_comps.values()] + [576])
    buf = bytearray(size)
    struct.pack_into("<HHHH", buf, 0, 0x37F, 0, 0xFF, 0)
    struct.pack_into("<II", buf, 24, 0x1F80, 0xFFFF)
    for i in range(32, 416):
        buf[i] = i & 0xFF                   # st and xmm registers
    features = 0b11
    for n, c in comps.items():
        for i in range(c.size):
            buf[c.offset + i] = (n * 31 + i) & 0xFF
        features |= 1 << n
    struct.pack_into("<Q", buf, xs.SW_BYTES_OFFSET, features)  # XCR0
    struct.pack_into("<Q", buf, xs.HEADER_OFFSET, features)    # xstate_bv
    return bytes(buf)


def test_xsave_round_trip_keeps_every_component() -> None:
    """Every component the image format has a field for (AMX tiles, 17
    and 18, have none: such state is refused at dump, tested below)."""
    data = _xsave_buffer(imaged_only=True)
    fpregs = core_x86_pb2.user_x86_fpregs_entry()
    cpu.xsave_to_core(data, fpregs)
    assert fpregs.mxcsr == 0x1F80 and fpregs.cwd == 0x37F
    assert len(fpregs.xmm_space) == 64 and len(fpregs.st_space) == 32
    back = cpu.core_to_xsave(fpregs)
    assert back[32:416] == data[32:416]
    for n, c in _imaged(xs.components()).items():
        assert back[c.offset:c.offset + c.size] == \
            data[c.offset:c.offset + c.size], f"component {n}"
    size = cpu.xstate_size()
    magic1, ext, _, xsize = struct.unpack_from("<IIQI", back,
                                               xs.SW_BYTES_OFFSET)
    assert magic1 == xs.FP_XSTATE_MAGIC1 and xsize == size and ext == size + 4
    assert struct.unpack_from("<I", back, size)[0] == cpu.FP_XSTATE_MAGIC2
    assert struct.unpack_from("<Q", back, xs.HEADER_OFFSET + 8)[0] == 0


@pytest.mark.skipif(xs.HI16_ZMM not in xs.components(),
                    reason="this CPU has no AVX-512")
def test_avx512_lands_in_criu_fields() -> None:
    fpregs = core_x86_pb2.user_x86_fpregs_entry()
    cpu.xsave_to_core(_xsave_buffer(imaged_only=True), fpregs)
    x = fpregs.xsave
    assert len(x.ymmh_space) == 64          # 16 x 128 bits in u32
    assert len(x.opmask_reg) == 8
    assert len(x.zmm_upper) == 64           # 16 x 256 bits in u64
    assert len(x.hi16_zmm) == 128           # 16 x 512 bits in u64


def test_sigframe_layout() -> None:
    gp = core_x86_pb2.user_x86_regs_entry()
    cpu.regs_to_core(_regs(), gp)
    xsave = bytes(range(256)) * 10
    addr = sigframe.place_frame(0x7FFF0000_1234, len(xsave))
    assert addr % 64 == 0 and addr + sigframe.frame_size(len(xsave)) <= \
        0x7FFF0000_1234 - 128
    alt = sigframe.AltStack(0x5000, 0, 0x2000)
    frame = sigframe.build_frame(addr, gp, xsave, 0xABCD, alt)
    mc = sigframe.MCONTEXT_OFFSET
    r8, = struct.unpack_from("<Q", frame, mc)
    ip, = struct.unpack_from("<Q", frame, mc + 16 * 8)
    sp, = struct.unpack_from("<Q", frame, mc + 15 * 8)
    assert (r8, ip, sp) == (gp.r8, gp.ip, gp.sp)
    fp, = struct.unpack_from("<Q", frame, mc + 184)
    assert fp % 64 == 0 and frame[fp - addr:] == xsave
    assert struct.unpack_from("<Q", frame, sigframe.SIGMASK_OFFSET)[0] == 0xABCD
    assert struct.unpack_from("<QiiQ", frame, sigframe.UC_STACK_OFFSET) == \
        (0x5000, 0, 0, 0x2000)
    with pytest.raises(ValueError):
        sigframe.build_frame(addr + 8, gp, xsave, 0, alt)


def test_state_this_cpu_lacks_is_refused() -> None:
    fpregs = core_x86_pb2.user_x86_fpregs_entry()
    cpu.xsave_to_core(_xsave_buffer(imaged_only=True), fpregs)
    fpregs.xsave.xstate_bv |= 1 << xs.PKRU
    del fpregs.xsave.pkru[:]
    fpregs.xsave.pkru.extend([0x55555554, 0])
    if xs.PKRU in xs.components():
        pytest.skip("this CPU has PKRU: nothing is missing")
    with pytest.raises(cpu.MissingXFeature, match="pkru"):
        cpu.core_to_xsave(fpregs)


def test_xsave_with_state_the_image_cannot_hold_is_refused() -> None:
    comps = xs.components()
    extra = [n for n in comps if n not in _imaged(comps)]
    if not extra:
        pytest.skip("this CPU has only XSAVE components the image holds "
                    "(no AMX)")
    data = _xsave_buffer()
    with pytest.raises(cpu.UnimagedXFeature, match="AMX"):
        cpu.xsave_to_core(data, core_x86_pb2.user_x86_fpregs_entry())


# CPUID leaf 0xD of a CPU with AVX-512 and AMX (Sapphire Rapids), XCR0
# 0x600e7: subleaf -> (eax size, ebx offset, ecx flags, edx).
_AMX_CPUID = {0: (0x600E7, 0x2B00, 0x2B00, 0), 2: (0x100, 0x240, 0, 0),
              5: (0x40, 0x440, 0, 0), 6: (0x200, 0x480, 0, 0),
              7: (0x400, 0x680, 0, 0), 17: (0x40, 0xAC0, 0x2, 0),
              18: (0x2000, 0xB00, 0x6, 0)}


def _amx_cpu(monkeypatch: pytest.MonkeyPatch, kernel: int | None) -> None:
    monkeypatch.setattr(cpu, "cpuid", lambda leaf, sub=0: _AMX_CPUID.get(
        sub, (0, 0, 0, 0)) if leaf == 0xD else (0, 0, 0, 0))
    monkeypatch.setattr(xs, "components", lambda: {
        n: xs.Component(n, v[1], v[0]) for n, v in _AMX_CPUID.items() if n})
    monkeypatch.setattr(cpu, "_kernel_user_features", lambda: kernel)


def test_sigframe_xstate_leaves_out_amx_tile_data(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The cause of fpu01 losing AVX-512 on restore on an AMX machine: the
    frame claimed CPUID 0xD.0 EBX (11008) bytes, XCR0's whole size with
    the 8 KiB dynamic TILEDATA, more than a task's fpstate->user_size
    (2816): rt_sigreturn then restores only the legacy FXSAVE part.  The
    values a kernel-made frame has there: 2816, 0x200e7."""
    _amx_cpu(monkeypatch, 0x200E7)
    assert cpu.supported_features() == 0x200E7
    assert cpu.xstate_size() == 2816
    back = cpu.core_to_xsave(core_x86_pb2.user_x86_fpregs_entry())
    assert len(back) == 2820
    assert struct.unpack_from("<IIQI", back, xs.SW_BYTES_OFFSET) == \
        (xs.FP_XSTATE_MAGIC1, 2820, 0x200E7, 2816)
    assert struct.unpack_from("<I", back, 2816)[0] == cpu.FP_XSTATE_MAGIC2
    # Without ARCH_GET_XCOMP_PERM (before 5.16): the XFD bit of CPUID
    # 0xD.18 ECX still leaves the tiles out.
    _amx_cpu(monkeypatch, None)
    assert (cpu.supported_features(), cpu.xstate_size()) == (0x200E7, 2816)


def test_sigframe_xstate_has_only_what_the_kernel_enabled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel that does not know AMX leaves TILECFG (17) out of XCR0
    too: its frames end after AVX-512 (2688 bytes), and so must ours."""
    _amx_cpu(monkeypatch, 0xE7)
    assert (cpu.supported_features(), cpu.xstate_size()) == (0xE7, 2688)


class _SigAction(ctypes.Structure):
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_uint64 * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


_SA_SIGINFO = 4
_UC_FPSTATE_PTR = 40 + 23 * 8       # ucontext_t: uc_mcontext.fpregs


def _kernel_sigframe_sw_bytes() -> tuple[tuple[int, ...], int]:
    """struct _fpx_sw_bytes of a signal frame the kernel made for us, and
    the u32 after its xstate (magic2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    seen: list[tuple[tuple[int, ...], int]] = []

    @ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    def handler(_sig: int, _info: int, uc: int) -> None:
        fp = ctypes.c_uint64.from_address(uc + _UC_FPSTATE_PTR).value
        sw = struct.unpack("<IIQI", ctypes.string_at(
            fp + xs.SW_BYTES_OFFSET, 20))
        magic2 = ctypes.c_uint32.from_address(fp + sw[3]).value
        seen.append((sw, magic2))

    act, old = _SigAction(), _SigAction()
    act.handler = ctypes.cast(handler, ctypes.c_void_p)
    act.flags = _SA_SIGINFO
    assert libc.sigaction(signal.SIGUSR2, ctypes.byref(act),
                          ctypes.byref(old)) == 0
    try:
        getattr(libc, "raise")(signal.SIGUSR2)
    finally:
        libc.sigaction(signal.SIGUSR2, ctypes.byref(old), None)
    assert len(seen) == 1
    return seen[0]


def test_sigframe_sw_bytes_are_the_kernels() -> None:
    """Our fpstate describes itself as a kernel-made one on this machine."""
    sw, magic2 = _kernel_sigframe_sw_bytes()
    assert magic2 == cpu.FP_XSTATE_MAGIC2
    ours = cpu.core_to_xsave(core_x86_pb2.user_x86_fpregs_entry())
    assert struct.unpack_from("<IIQI", ours, xs.SW_BYTES_OFFSET) == sw


# Entered with rdi = frame + 8: rsp = rdi; rt_sigreturn.
_ENTER = bytes.fromhex("4889fc" "b80f000000" "0f05")
# Where the frame returns to: xsave [rbx] (edx:eax = ~0); exit_group(0).
_LAND = bytes.fromhex("0fae23" "b8e7000000" "31ff" "0f05")
_AVX = (xs.YMM, xs.OPMASK, xs.ZMM_HI256, xs.HI16_ZMM)


@pytest.mark.skipif(xs.YMM not in xs.components(), reason="no AVX")
def test_rt_sigreturn_through_our_frame_restores_avx() -> None:
    """The restore path for real: a child rt_sigreturns through a frame
    from build_frame() and core_to_xsave(), then XSAVEs: every AVX,
    opmask and zmm register is back (not legacy-only, xstate_bv 3)."""
    fpregs = core_x86_pb2.user_x86_fpregs_entry()
    cpu.xsave_to_core(_xsave_buffer(imaged_only=True), fpregs)
    x = fpregs.xsave
    comps = {n: c for n, c in xs.components().items()
             if n in _AVX and cpu.supported_features() & (1 << n)}
    x.xstate_bv = 0b11 | sum(1 << n for n in comps)
    for field, number, _ in cpu.XSAVE_FIELDS:
        if number not in comps:
            del getattr(x, field)[:]
    xsave = cpu.core_to_xsave(fpregs)

    code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ |
                     mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(_ENTER + b"\xcc" * (64 - len(_ENTER)) + _LAND)
    code_addr = ctypes.addressof(ctypes.c_char.from_buffer(code))
    shared = mmap.mmap(-1, 1 << 16)               # MAP_SHARED
    base = ctypes.addressof(ctypes.c_char.from_buffer(shared))
    out = (base + 63) & ~63                       # XSAVE area, 16 KiB
    gp = core_x86_pb2.user_x86_regs_entry()
    gp.ip, gp.sp, gp.bx = code_addr + 64, base + (1 << 15) - 8, out
    gp.ax = gp.dx = 0xFFFFFFFF
    gp.cs, gp.ss, gp.flags = 0x33, 0x2B, 0x202
    addr = sigframe.place_frame(base + (1 << 16), len(xsave))
    frame = sigframe.build_frame(addr, gp, xsave, 0, sigframe.AltStack())
    ctypes.memmove(addr, frame, len(frame))

    pid = os.fork()
    if pid == 0:
        try:
            ctypes.CFUNCTYPE(None, ctypes.c_void_p)(code_addr)(addr + 8)
        finally:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    got = ctypes.string_at(out, cpu.xstate_size())
    bv, want = struct.unpack_from("<Q", got, xs.HEADER_OFFSET)[0], x.xstate_bv
    assert bv & want == want, f"xstate_bv {bv:#x}, not {want:#x}"
    assert got[160:416] == xsave[160:416]         # xmm
    for n, c in comps.items():
        assert got[c.offset:c.offset + c.size] == \
            xsave[c.offset:c.offset + c.size], f"component {n}"
