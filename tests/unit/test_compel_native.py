"""compel's native layer and pure helpers, without root."""

from __future__ import annotations

import ctypes
import os

import pytest

from compel.arch import current as arch
from compel.arch.x86.regs import UserRegs
from compel.execsys import ExecArgumentError, ExecResult, strtol
from compel.native import memory, pidfd, uapi
from compel.native.clone import CloneArgs


def test_syscall_table():
    assert arch.syscalls.nr("read") == 0
    assert arch.syscalls.nr("getpid") == 39
    assert arch.syscalls.nr("clone3") == 435
    assert arch.syscalls.nr("mseal") == 462
    assert arch.syscalls.name(39) == "getpid"
    with pytest.raises(KeyError, match="nosuch"):
        arch.syscalls.nr("nosuch")


def test_errors_are_oserror_subclasses_naming_the_call():
    with pytest.raises(ProcessLookupError, match="pidfd_open"):
        pidfd.pidfd_open(0x3FFFFFFF)


def test_process_vm_readv_on_ourselves():
    buf = ctypes.create_string_buffer(b"0123456789" * 1000)
    out = memory.read_remote(os.getpid(), ctypes.addressof(buf), 10000)
    assert out == buf.raw[:10000]


def test_vmsplice_and_splice_through_a_pipe(tmp_path):
    data = ctypes.create_string_buffer(b"page" * 1024, 4096)
    r, w = os.pipe()
    try:
        assert memory.vmsplice(w, [(ctypes.addressof(data), 4096)]) == 4096
        fd = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT)
        assert memory.splice(r, fd, 4096, off_out=0) == 4096
        os.close(fd)
    finally:
        os.close(r)
        os.close(w)
    assert (tmp_path / "out").read_bytes() == data.raw


def test_memfd_and_preadv(tmp_path):
    fd = memory.memfd_create("compel-test")
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "/memfd:compel-test (deleted)"
        os.write(fd, b"abcdefgh")
        a, b = ctypes.create_string_buffer(3), ctypes.create_string_buffer(5)
        n = memory.preadv(fd, [(ctypes.addressof(a), 3), (ctypes.addressof(b), 5)], 0)
        assert n == 8 and a.raw == b"abc" and b.raw == b"defgh"
    finally:
        os.close(fd)


def test_struct_sizes_and_ioctls():
    assert ctypes.sizeof(UserRegs) == 216
    assert ctypes.sizeof(CloneArgs) == 88
    assert ctypes.sizeof(uapi.PmScanArg) == 96
    assert uapi.PAGEMAP_SCAN == 0xC0606610
    assert uapi.UFFDIO_API == 0xC018AA3F
    assert uapi.UFFDIO_REGISTER == 0xC020AA00
    assert uapi.UFFDIO_COPY == 0xC028AA03


def _regs(rax: int, orig: int, rip: int = 0x1000) -> UserRegs:
    r = UserRegs()
    r.rax = rax & 0xFFFFFFFFFFFFFFFF
    r.orig_rax = orig & 0xFFFFFFFFFFFFFFFF
    r.rip = rip
    return r


@pytest.mark.parametrize("code", [512, 513, 514])
def test_restart_of_interrupted_syscall(code):
    r = _regs(-code, 0).restarted()
    assert (r.rax, r.rip) == (0, 0x1000 - 2)


def test_restart_block():
    r = _regs(-516, 230)
    assert (r.restarted().rax, r.restarted().rip) == (219, 0x1000 - 2)
    eintr = r.restarted(keep_restart_block=False)
    assert (eintr.syscall_ret, eintr.rip) == (-4, 0x1000)


def test_no_restart_outside_syscalls():
    assert _regs(-512, -1).restarted() == _regs(-512, -1)
    assert _regs(3, 0).restarted() == _regs(3, 0)


@pytest.mark.parametrize("text, value", [
    ("66", 66), ("0102", 66), ("0x42", 66), ("-1", -1), ("0", 0), ("+7", 7)])
def test_strtol(text, value):
    assert strtol(text) == value


@pytest.mark.parametrize("text", ["", "12x", "0x", "089", "abc"])
def test_strtol_rejects(text):
    with pytest.raises(ExecArgumentError):
        strtol(text)


def test_exec_result_format():
    assert ExecResult(1234, {}).format() == "Syscall returned 4d2(1234)"
    assert ExecResult(-2, {}).format() == "Syscall returned fffffffffffffffe(-2)"
    out = ExecResult(0, {1: b"Linux\0"}).format().splitlines()
    assert out[1] == "Argument 1 returns:"
    assert out[2].startswith("00000000: 4c 69 6e 75 78 00") and out[2].endswith("Linux.")


def test_unused_syscall_arguments_are_zeroed():
    """read(fd, buf) run remotely must not inherit the task's old rdx."""
    from compel.arch.x86.regs import UserRegs

    regs = UserRegs()
    for reg in UserRegs.ARG_REGS:
        setattr(regs, reg, 0x1234)
    regs.set_syscall(0, (3, 0x1000), 0x400000)
    assert (regs.rdi, regs.rsi) == (3, 0x1000)
    assert [getattr(regs, r) for r in UserRegs.ARG_REGS[2:]] == [0] * 4
    assert regs.rax == 0 and regs.rip == 0x400000
