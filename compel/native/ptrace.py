"""ptrace(2) requests and the structures they exchange.

All requests go through the raw syscall (not glibc's wrapper, which treats
PEEK requests specially), so every request behaves as the man page says.
"""

from __future__ import annotations

import ctypes

from compel.native._libc import address_of, sys
from compel.native.structs import IoVec

# Requests (linux/ptrace.h).
PTRACE_TRACEME = 0
PTRACE_PEEKDATA = 2
PTRACE_POKEDATA = 5
PTRACE_CONT = 7
PTRACE_KILL = 8
PTRACE_SINGLESTEP = 9
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_GETFPREGS = 14
PTRACE_SETFPREGS = 15
PTRACE_ATTACH = 16
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_ARCH_PRCTL = 30
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SETSIGINFO = 0x4203
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_PEEKSIGINFO = 0x4209
PTRACE_GETSIGMASK = 0x420A
PTRACE_SETSIGMASK = 0x420B
PTRACE_SECCOMP_GET_FILTER = 0x420C
PTRACE_SECCOMP_GET_METADATA = 0x420D
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_GET_RSEQ_CONFIGURATION = 0x420F

# Options for PTRACE_SETOPTIONS / PTRACE_SEIZE.
PTRACE_O_TRACESYSGOOD = 1
PTRACE_O_TRACEFORK = 1 << 1
PTRACE_O_TRACEVFORK = 1 << 2
PTRACE_O_TRACECLONE = 1 << 3
PTRACE_O_TRACEEXEC = 1 << 4
PTRACE_O_TRACEVFORKDONE = 1 << 5
PTRACE_O_TRACEEXIT = 1 << 6
PTRACE_O_TRACESECCOMP = 1 << 7
PTRACE_O_EXITKILL = 1 << 20
PTRACE_O_SUSPEND_SECCOMP = 1 << 21

# Events (status >> 16).
PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_VFORK_DONE = 5
PTRACE_EVENT_EXIT = 6
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

# PTRACE_PEEKSIGINFO flags.
PTRACE_PEEKSIGINFO_SHARED = 1

# Regset note types (linux/elf.h).
NT_PRSTATUS = 1
NT_PRFPREG = 2
NT_X86_XSTATE = 0x202

# arch_prctl codes (asm/prctl.h) for ARCH_GET_FS/GS through regs.
ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004

SIGINFO_SIZE = 128


class PeekSiginfoArgs(ctypes.Structure):
    """Which queued signals PTRACE_PEEKSIGINFO copies out.

    struct ptrace_peeksiginfo_args {
        __u64 off;    /* from which siginfo to start */
        __u32 flags;  /* PTRACE_PEEKSIGINFO_SHARED: the process-wide queue */
        __s32 nr;     /* how many siginfos to take */
    };
    """

    _fields_ = [("off", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("nr", ctypes.c_int32)]


class RseqConfiguration(ctypes.Structure):
    """The rseq registration of a thread, PTRACE_GET_RSEQ_CONFIGURATION.

    struct ptrace_rseq_configuration {
        __u64 rseq_abi_pointer;
        __u32 rseq_abi_size;
        __u32 signature;
        __u32 flags;
        __u32 pad;
    };
    """

    _fields_ = [("rseq_abi_pointer", ctypes.c_uint64),
                ("rseq_abi_size", ctypes.c_uint32),
                ("signature", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("pad", ctypes.c_uint32)]


def ptrace(request: int, pid: int, addr: int = 0, data: object = 0) -> int:
    """Raw ptrace(2); raises OSError naming the request on failure."""
    return sys("ptrace", request, pid, addr, data)


def seize(pid: int, options: int = 0) -> None:
    ptrace(PTRACE_SEIZE, pid, 0, options)


def interrupt(pid: int) -> None:
    ptrace(PTRACE_INTERRUPT, pid)


def cont(pid: int, sig: int = 0) -> None:
    ptrace(PTRACE_CONT, pid, 0, sig)


def syscall_step(pid: int, sig: int = 0) -> None:
    """Resume until the next syscall entry or exit (PTRACE_SYSCALL)."""
    ptrace(PTRACE_SYSCALL, pid, 0, sig)


def detach(pid: int, sig: int = 0) -> None:
    ptrace(PTRACE_DETACH, pid, 0, sig)


def set_options(pid: int, options: int) -> None:
    ptrace(PTRACE_SETOPTIONS, pid, 0, options)


def get_event_msg(pid: int) -> int:
    msg = ctypes.c_ulong()
    ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.byref(msg))
    return msg.value


def peek_word(pid: int, addr: int) -> int:
    """One word of the tracee's memory (works on read-only mappings too)."""
    word = ctypes.c_uint64()
    ptrace(PTRACE_PEEKDATA, pid, addr, ctypes.byref(word))
    return word.value


def poke_word(pid: int, addr: int, value: int) -> None:
    """Write one word, even into read-only text (the kernel uses FOLL_FORCE)."""
    ptrace(PTRACE_POKEDATA, pid, addr, value & 0xFFFFFFFFFFFFFFFF)


def peek_bytes(pid: int, addr: int, size: int) -> bytes:
    """`size` bytes at `addr` by words; only for a few bytes of code."""
    out = bytearray()
    for off in range(0, size, 8):
        out += peek_word(pid, addr + off).to_bytes(8, "little")
    return bytes(out[:size])


def poke_bytes(pid: int, addr: int, data: bytes) -> None:
    """Write `data` by words (the tail word is read-modified-written)."""
    for off in range(0, len(data), 8):
        chunk = data[off:off + 8]
        if len(chunk) < 8:
            chunk += peek_word(pid, addr + off).to_bytes(8, "little")[len(chunk):]
        poke_word(pid, addr + off, int.from_bytes(chunk, "little"))


def get_regset(pid: int, note: int, size: int) -> bytes:
    """PTRACE_GETREGSET: the register set `note`, as many bytes as the kernel
    fills (it shortens iov_len to what it wrote)."""
    buf = ctypes.create_string_buffer(size)
    iov = IoVec(ctypes.addressof(buf), size)
    ptrace(PTRACE_GETREGSET, pid, note, ctypes.byref(iov))
    return buf.raw[:iov.iov_len]


def set_regset(pid: int, note: int, data: bytes) -> None:
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    iov = IoVec(ctypes.addressof(buf), len(data))
    ptrace(PTRACE_SETREGSET, pid, note, ctypes.byref(iov))


def get_sigmask(pid: int) -> int:
    """The blocked-signal mask of thread `pid` (bit n-1 = signal n)."""
    mask = ctypes.c_uint64()
    ptrace(PTRACE_GETSIGMASK, pid, 8, ctypes.byref(mask))
    return mask.value


def set_sigmask(pid: int, mask: int) -> None:
    value = ctypes.c_uint64(mask & 0xFFFFFFFFFFFFFFFF)
    ptrace(PTRACE_SETSIGMASK, pid, 8, ctypes.byref(value))


def get_siginfo(pid: int) -> bytes:
    """The siginfo of the signal that caused the current stop (128 bytes)."""
    buf = ctypes.create_string_buffer(SIGINFO_SIZE)
    ptrace(PTRACE_GETSIGINFO, pid, 0, buf)
    return buf.raw


def peek_siginfo(pid: int, shared: bool, off: int = 0,
                 nr: int = 64) -> list[bytes]:
    """Queued signals without dequeuing them: each a 128-byte siginfo_t.

    shared=False reads the thread's own queue, True the process-wide one.
    """
    buf = ctypes.create_string_buffer(SIGINFO_SIZE * nr)
    args = PeekSiginfoArgs(off, PTRACE_PEEKSIGINFO_SHARED if shared else 0, nr)
    got = ptrace(PTRACE_PEEKSIGINFO, pid, address_of(args), buf)
    return [buf.raw[i * SIGINFO_SIZE:(i + 1) * SIGINFO_SIZE] for i in range(got)]


def peek_all_siginfo(pid: int, shared: bool) -> list[bytes]:
    """Every queued siginfo of one queue, in order."""
    out: list[bytes] = []
    while True:
        batch = peek_siginfo(pid, shared, off=len(out))
        out += batch
        if len(batch) < 64:
            return out


def get_rseq_configuration(pid: int) -> RseqConfiguration:
    conf = RseqConfiguration()
    ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, ctypes.sizeof(conf),
           ctypes.byref(conf))
    return conf


SOCK_FILTER_SIZE = 8        # struct sock_filter { u16 code; u8 jt, jf; u32 k; }


class SeccompMetadata(ctypes.Structure):
    """struct seccomp_metadata { __u64 filter_off; __u64 flags; }"""

    _fields_ = [("filter_off", ctypes.c_uint64), ("flags", ctypes.c_uint64)]


def seccomp_get_filter(pid: int, index: int) -> bytes:
    """The BPF program (struct sock_filter[]) of the index-th seccomp filter
    of stopped tracee `pid`, 0 being the oldest (PTRACE_SECCOMP_GET_FILTER:
    needs CAP_SYS_ADMIN and a tracer not itself under seccomp).  Raises
    OSError ENOENT past the oldest one."""
    count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, index, 0)
    buf = ctypes.create_string_buffer(max(count, 1) * SOCK_FILTER_SIZE)
    got = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, index, buf)
    return buf.raw[:got * SOCK_FILTER_SIZE]


def seccomp_get_metadata(pid: int, index: int) -> int:
    """The SECCOMP_FILTER_FLAG_* the index-th filter keeps (only LOG is
    reported by the kernel), PTRACE_SECCOMP_GET_METADATA."""
    md = SeccompMetadata(index, 0)
    ptrace(PTRACE_SECCOMP_GET_METADATA, pid, ctypes.sizeof(md),
           ctypes.byref(md))
    return md.flags
