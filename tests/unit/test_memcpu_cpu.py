"""x86 CPU state: registers and XSAVE to and from the core image, and the
rt_sigframe the restorer returns through."""

from __future__ import annotations

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
