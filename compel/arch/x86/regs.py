"""x86_64 register sets as the kernel hands them to ptrace.

UserRegs is NT_PRSTATUS (user_regs_struct), UserFpregs is NT_PRFPREG (the
512-byte FXSAVE area); XSAVE (NT_X86_XSTATE) is kept as raw bytes and read
through compel.arch.x86.xsave.
"""

from __future__ import annotations

import ctypes

_u64 = ctypes.c_uint64


class UserRegs(ctypes.Structure):
    """General purpose registers, NT_PRSTATUS.

    struct user_regs_struct {
        unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
        unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
        unsigned long fs_base, gs_base, ds, es, fs, gs;
    };
    """

    _fields_ = [(name, _u64) for name in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
        "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
        "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")]

    def copy(self) -> "UserRegs":
        return UserRegs.from_buffer_copy(bytes(self))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name, *_ in self._fields_}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserRegs) and bytes(self) == bytes(other)

    def __repr__(self) -> str:
        return "UserRegs(" + ", ".join(
            f"{k}={v:#x}" for k, v in self.as_dict().items()) + ")"

    # Syscall convention: nr in rax, args in rdi rsi rdx r10 r8 r9.
    ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")

    def set_syscall(self, nr: int, args: tuple[int, ...], ip: int) -> None:
        """Prepare these registers to run syscall `nr` at address `ip`.

        orig_rax = -1 tells the kernel we are not inside a syscall any more,
        so it won't apply its restart logic to these made-up registers.
        """
        if len(args) > 6:
            raise ValueError("a syscall takes at most 6 arguments")
        self.rax = nr
        self.orig_rax = 0xFFFFFFFFFFFFFFFF
        self.rip = ip
        # Unused argument registers are zeroed, not left as the task had
        # them: read(fd, buf) must not get the task's old rdx as its count.
        padded = tuple(args) + (0,) * (len(self.ARG_REGS) - len(args))
        for reg, value in zip(self.ARG_REGS, padded):
            setattr(self, reg, value & 0xFFFFFFFFFFFFFFFF)

    def set_call(self, ip: int, sp: int, arg: int) -> None:
        """Prepare these registers to enter a blob function at `ip` with one
        argument, on a stack whose (16-byte aligned) top is `sp`.  The entry
        is jumped to, not called: it must not return (the parasite entry
        waits in pause() instead)."""
        self.rip = ip
        self.rsp = sp & ~0xF
        self.rdi = arg
        self.rax = 0
        self.orig_rax = 0xFFFFFFFFFFFFFFFF  # not in a syscall: no restart

    @property
    def ip(self) -> int:
        return self.rip

    @property
    def syscall_ret(self) -> int:
        """rax as a signed return value."""
        return ctypes.c_int64(self.rax).value

    def restarted(self, keep_restart_block: bool = True) -> "UserRegs":
        """These registers with an interrupted syscall restarted, as the
        kernel does on the way back to user mode when no handler runs.

        -ERESTART_RESTARTBLOCK needs the kernel's restart block, which only
        survives while the task does (cure); a restored task gets -EINTR
        instead (keep_restart_block=False), as CRIU does.
        """
        out = self.copy()
        if not self.in_syscall:
            return out
        code = -self.syscall_ret
        if code in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND):
            out.rax = self.orig_rax
            out.rip -= 2
        elif code == ERESTART_RESTARTBLOCK:
            if keep_restart_block:
                out.rax = NR_RESTART_SYSCALL
                out.rip -= 2
            else:
                out.rax = (-EINTR) & 0xFFFFFFFFFFFFFFFF
        return out

    @property
    def in_syscall(self) -> bool:
        """True when stopped on the way out of (or restarting) a syscall."""
        return ctypes.c_int64(self.orig_rax).value >= 0


class UserFpregs(ctypes.Structure):
    """The legacy FXSAVE area, NT_PRFPREG (also the first 512 bytes of XSAVE).

    struct user_fpregs_struct {
        unsigned short cwd, swd, twd, fop;
        unsigned long rip, rdp;
        unsigned int mxcsr, mxcsr_mask;
        unsigned int st_space[32];
        unsigned int xmm_space[64];
        unsigned int padding[24];
    };
    """

    _fields_ = [
        ("cwd", ctypes.c_uint16), ("swd", ctypes.c_uint16),
        ("twd", ctypes.c_uint16), ("fop", ctypes.c_uint16),
        ("rip", _u64), ("rdp", _u64),
        ("mxcsr", ctypes.c_uint32), ("mxcsr_mask", ctypes.c_uint32),
        ("st_space", ctypes.c_uint32 * 32),
        ("xmm_space", ctypes.c_uint32 * 64),
        ("padding", ctypes.c_uint32 * 24),
    ]


assert ctypes.sizeof(UserRegs) == 27 * 8
assert ctypes.sizeof(UserFpregs) == 512

# Kernel-internal syscall restart codes, seen in rax while a task is stopped
# inside an interrupted syscall (linux/errno.h, not exported to userspace).
ERESTARTSYS = 512
ERESTARTNOINTR = 513
ERESTARTNOHAND = 514
ERESTART_RESTARTBLOCK = 516
EINTR = 4
NR_RESTART_SYSCALL = 219
RESTART_CODES = (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND,
                 ERESTART_RESTARTBLOCK)

# The `syscall` instruction; after it, rip points 2 bytes further.
SYSCALL_INSN = b"\x0f\x05"
