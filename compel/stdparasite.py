"""compel's standard parasite (compel/parasite/std.c) from the host side.

    with compel.seize(pid) as task:
        with StdParasite.infect(task) as p:
            acts = p.get_sigactions()            # 64 KSigaction
            p.dump_pages([(addr, length)], fd)   # memory into a file

The result structures are declared here once, with their C definitions
(compel/parasite/std.h) in the docstrings.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pathlib
from typing import TYPE_CHECKING, Any, Iterator, TypeVar

from compel.blob import Blob
from compel.errors import ParasiteError
from compel.infect import USER_CMD_BASE, Parasite
from compel.native import memory

if TYPE_CHECKING:
    from compel.task import Task

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "parasite" / "std.c"
BLOB = HERE / "parasite" / "std.blob"

CMD_GET_SIGACTIONS = USER_CMD_BASE
CMD_GET_SIGALTSTACK = USER_CMD_BASE + 1
CMD_GET_ITIMERS = USER_CMD_BASE + 2
CMD_DUMP_PAGES = USER_CMD_BASE + 3
CMD_GET_CREDS = USER_CMD_BASE + 4
CMD_GET_MISC = USER_CMD_BASE + 5

NR_SIGNALS = 64
NR_GROUPS = 256
NR_RLIMITS = 16
F_SETPIPE_SZ = 1031
PIPE_BATCH = 1 << 20  # fs.pipe-max-size without CAP_SYS_RESOURCE

_u32, _i32, _u64, _i64 = ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_int64


class KSigaction(ctypes.Structure):
    """The kernel's sigaction (rt_sigaction with sigsetsize 8).

    struct k_sigaction {
        uint64_t handler;    /* SIG_DFL 0, SIG_IGN 1, or the address */
        uint64_t flags;      /* SA_* */
        uint64_t restorer;   /* SA_RESTORER trampoline */
        uint64_t mask;       /* bit n-1: signal n blocked in the handler */
    };
    """

    _fields_ = [("handler", _u64), ("flags", _u64), ("restorer", _u64),
                ("mask", _u64)]


class KStack(ctypes.Structure):
    """struct k_stack { uint64_t ss_sp; int32_t ss_flags; uint32_t pad;
    uint64_t ss_size; };"""

    _fields_ = [("ss_sp", _u64), ("ss_flags", _i32), ("pad", _u32),
                ("ss_size", _u64)]


class KTimeval(ctypes.Structure):
    """struct k_timeval { int64_t tv_sec; int64_t tv_usec; };"""

    _fields_ = [("tv_sec", _i64), ("tv_usec", _i64)]


class KItimerval(ctypes.Structure):
    """struct k_itimerval { struct k_timeval it_interval, it_value; };"""

    _fields_ = [("it_interval", KTimeval), ("it_value", KTimeval)]


class KRlimit64(ctypes.Structure):
    """struct k_rlimit64 { uint64_t rlim_cur; uint64_t rlim_max; };"""

    _fields_ = [("rlim_cur", _u64), ("rlim_max", _u64)]


class StdCreds(ctypes.Structure):
    """struct std_creds {
        uint32_t uid, euid, suid, fsuid;
        uint32_t gid, egid, sgid, fsgid;
        uint64_t cap_inh, cap_prm, cap_eff, cap_bnd;
        uint32_t secbits;
        uint32_t ngroups;
        uint32_t groups[STD_NR_GROUPS];   /* 256 */
    };"""

    _fields_ = [*((n, _u32) for n in ("uid", "euid", "suid", "fsuid", "gid",
                                      "egid", "sgid", "fsgid")),
                *((n, _u64) for n in ("cap_inh", "cap_prm", "cap_eff", "cap_bnd")),
                ("secbits", _u32), ("ngroups", _u32), ("groups", _u32 * NR_GROUPS)]

    @property
    def group_list(self) -> list[int]:
        return list(self.groups[:self.ngroups])


class StdMisc(ctypes.Structure):
    """struct std_misc {
        uint32_t umask;
        uint32_t personality;
        int32_t pdeathsig;
        int32_t dumpable;
        int32_t no_new_privs;
        int32_t child_subreaper;
        uint64_t clear_tid_addr;
        struct k_rlimit64 rlimits[STD_NR_RLIMITS];   /* 16, by RLIMIT_* */
    };"""

    _fields_ = [("umask", _u32), ("personality", _u32), ("pdeathsig", _i32),
                ("dumpable", _i32), ("no_new_privs", _i32),
                ("child_subreaper", _i32), ("clear_tid_addr", _u64),
                ("rlimits", KRlimit64 * NR_RLIMITS)]


_S = TypeVar("_S", bound=ctypes.Structure)


def _copy(struct: _S) -> _S:
    return type(struct).from_buffer_copy(bytes(struct))


def blob_path(rebuild: bool = False) -> pathlib.Path:
    """The standard parasite blob; built (by `make`, or here if missing)."""
    if rebuild or not BLOB.exists() or BLOB.stat().st_mtime < SOURCE.stat().st_mtime:
        from compel.build import build

        build([SOURCE], BLOB, parasite=True)
    return BLOB


class StdParasite:
    """The standard parasite running in a task, with typed commands."""

    def __init__(self, parasite: Parasite) -> None:
        self.parasite = parasite

    @classmethod
    def infect(cls, task: Task, **kwargs: Any) -> "StdParasite":
        return cls(task.infect(Blob.load(blob_path()), **kwargs))

    def get_sigactions(self) -> list[KSigaction]:
        """Actions of signals 1..64 (index sig-1; SIGKILL/SIGSTOP zero)."""
        self.parasite.call_checked(CMD_GET_SIGACTIONS)
        arr = self.parasite.area_struct(KSigaction * NR_SIGNALS)
        return [_copy(a) for a in arr]

    def get_sigaltstack(self) -> KStack:
        self.parasite.call_checked(CMD_GET_SIGALTSTACK)
        return _copy(self.parasite.area_struct(KStack))

    def get_itimers(self) -> list[KItimerval]:
        """ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF."""
        self.parasite.call_checked(CMD_GET_ITIMERS)
        return [_copy(t) for t in self.parasite.area_struct(KItimerval * 3)]

    def get_creds(self) -> StdCreds:
        self.parasite.call_checked(CMD_GET_CREDS)
        return _copy(self.parasite.area_struct(StdCreds))

    def get_misc(self) -> StdMisc:
        """umask, personality, pdeathsig, dumpable, rlimits (read from inside:
        no CAP_SYS_RESOURCE needed), clear_tid_addr ..."""
        self.parasite.call_checked(CMD_GET_MISC)
        return _copy(self.parasite.area_struct(StdMisc))

    def dump_pages(self, ranges: list[tuple[int, int]], out_fd: int,
                   out_offset: int | None = None) -> int:
        """Copy the task's memory ranges (address, length), in order, to
        out_fd: the parasite vmsplices them into a pipe, we splice the pipe
        into out_fd (at out_offset, or its file position).  Bytes written."""
        rd, wr = os.pipe()
        try:
            try:
                fcntl.fcntl(wr, F_SETPIPE_SZ, PIPE_BATCH)
            except OSError:
                pass
            capacity = fcntl.fcntl(wr, 1032)  # F_GETPIPE_SZ
            total = 0
            for batch in _batches(ranges, capacity):
                want = sum(n for _, n in batch)
                header = (ctypes.c_uint32 * 2)(len(batch), 0)
                iovs = b"".join(int(a).to_bytes(8, "little") +
                                int(n).to_bytes(8, "little") for a, n in batch)
                got, _ = self.parasite.call_checked(
                    CMD_DUMP_PAGES, bytes(header) + iovs, [wr])
                if got != want:
                    raise ParasiteError(f"task {self.parasite.task.pid}: "
                                        f"vmsplice took {got} of {want} bytes")
                moved = 0
                while moved < want:
                    off = None if out_offset is None else out_offset + total + moved
                    n = memory.splice(rd, out_fd, want - moved, off_out=off,
                                      flags=memory.SPLICE_F_MOVE)
                    if n <= 0:
                        raise ParasiteError("splice to the output stopped")
                    moved += n
                total += want
            return total
        finally:
            os.close(rd)
            os.close(wr)

    def cure(self) -> None:
        self.parasite.cure()

    def __enter__(self) -> "StdParasite":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cure()


def _batches(ranges: list[tuple[int, int]],
             capacity: int) -> Iterator[list[tuple[int, int]]]:
    """Split ranges into lists of at most `capacity` bytes (ranges are cut
    when needed) and at most 4096 iovecs."""
    batch: list[tuple[int, int]] = []
    room = capacity
    for addr, length in ranges:
        while length:
            take = min(length, room)
            batch.append((addr, take))
            addr += take
            length -= take
            room -= take
            if not room or len(batch) == 4096:
                yield batch
                batch, room = [], capacity
    if batch:
        yield batch
