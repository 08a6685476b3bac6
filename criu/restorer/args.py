"""The restorer blob's argument block, declared once on the Python side.

Mirrors criu/restorer/restorer.h field by field (each Layout carries its C
struct in the docstring of this module's constants).  The restore pipeline
builds one block per task with RestorerBlock: fixed struct first, then the
variable arrays (vmas, page runs, ranges, the sigframe, auxv), all
addressed absolutely because the block is placed at a known address.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from criu.restorer.layout import Layout

RESTORER_ARGS_MAGIC = 0x52535452
RESTORER_ARGS_VERSION = 3

RST_VMA_REGULAR = 0
RST_VMA_SPECIAL = 1
RST_VMA_FILL = 2          # flag: map writable, fill pages, then protect
RST_VMA_SEPARATE = 4      # flag: map elsewhere, mremap into place
RST_VMA_DROP_FIRST = 8    # flag: drop the page faulted before that move
RST_NSIG = 64
RST_SIGINFO_SIZE = 128

RST_VMA = Layout("rst_vma", [
    ("start", "u64"), ("end", "u64"), ("pgoff", "u64"), ("madv", "u64"),
    ("prot", "u32"), ("flags", "u32"), ("fd", "i32"), ("kind", "u32"),
    ("map_prot", "u32"), ("pad", "u32"),
])
"""struct rst_vma { u64 start, end, pgoff, madv; u32 prot, flags;
s32 fd; u32 kind, map_prot, pad; };"""

RST_RANGE = Layout("rst_range", [("start", "u64"), ("len", "u64")])
"""struct rst_range { u64 start, len; };"""

RST_RUN = Layout("rst_run", [("start", "u64"), ("len", "u64"), ("off", "u64")])
"""struct rst_run { u64 start, len, off; };"""

RST_MOVE = Layout("rst_move", [("from", "u64"), ("to", "u64"), ("len", "u64")])
"""struct rst_move { u64 from, to, len; };"""

RST_SIGACTION = Layout("rst_sigaction", [
    ("handler", "u64"), ("flags", "u64"), ("restorer", "u64"), ("mask", "u64"),
])
"""struct rst_sigaction { u64 handler, flags, restorer, mask; };"""

RST_MM_MAP = Layout("rst_mm_map", [
    ("start_code", "u64"), ("end_code", "u64"), ("start_data", "u64"),
    ("end_data", "u64"), ("start_brk", "u64"), ("brk", "u64"),
    ("start_stack", "u64"), ("arg_start", "u64"), ("arg_end", "u64"),
    ("env_start", "u64"), ("env_end", "u64"), ("auxv", "u64"),
    ("auxv_size", "u32"), ("exe_fd", "u32"),
])
"""struct prctl_mm_map (linux/prctl.h): 11 u64 addresses, u64 *auxv,
u32 auxv_size, u32 exe_fd."""

RST_CREDS = Layout("rst_creds", [
    ("present", "u32"),
    ("uid", "u32"), ("euid", "u32"), ("suid", "u32"), ("fsuid", "u32"),
    ("gid", "u32"), ("egid", "u32"), ("sgid", "u32"), ("fsgid", "u32"),
    ("ngroups", "u32"), ("groups", ("u32", 64)), ("secbits", "u32"),
    ("pad", "u32"),
    ("cap_inh", "u64"), ("cap_prm", "u64"), ("cap_eff", "u64"),
    ("cap_bnd", "u64"), ("cap_amb", "u64"),
])
"""struct rst_creds (restorer.h)."""

RST_RLIMIT = Layout("rst_rlimit", [
    ("resource", "u32"), ("pad", "u32"), ("cur", "u64"), ("max", "u64"),
])
"""struct rst_rlimit { u32 resource, pad; u64 cur, max; };"""

RST_ITIMER = Layout("rst_itimer", [
    ("isec", "u64"), ("iusec", "u64"), ("vsec", "u64"), ("vusec", "u64"),
])
"""struct rst_itimer { u64 isec, iusec, vsec, vusec; };"""

RST_POSIX_TIMER = Layout("rst_posix_timer", [
    ("id", "u32"), ("clock_id", "u32"), ("signo", "u32"), ("notify", "u32"),
    ("tid", "i32"), ("pad", "u32"), ("sival", "u64"),
    ("isec", "u64"), ("insec", "u64"), ("vsec", "u64"), ("vnsec", "u64"),
])
"""struct rst_posix_timer (restorer.h)."""

RST_SECCOMP_FILTER = Layout("rst_seccomp_filter", [
    ("len", "u64"), ("insns", "u64"), ("flags", "u32"), ("pad", "u32"),
])
"""struct rst_seccomp_filter { u64 len; u64 insns; u32 flags, pad; }:
one BPF program (len struct sock_filter at insns) for seccomp(2)."""

RST_SECCOMP = Layout("rst_seccomp", [
    ("mode", "u32"), ("no_new_privs", "u32"),
    ("nr_filters", "u64"), ("filters", "u64"),
])
"""struct rst_seccomp (restorer.h): one thread's seccomp state."""

RST_THREAD = Layout("rst_thread", [
    ("tid", "i32"), ("has_comm", "u32"), ("stack_top", "u64"),
    ("frame_src", "u64"), ("frame_len", "u64"), ("frame_dst", "u64"),
    ("fs_base", "u64"), ("gs_base", "u64"), ("clear_tid_addr", "u64"),
    ("robust_list", "u64"), ("robust_list_len", "u64"),
    ("rseq_ptr", "u64"), ("rseq_len", "u32"), ("rseq_sig", "u32"),
    ("sigpending", "u64"), ("nr_sigpending", "u64"),
    ("comm", ("u8", 16)),
    ("pdeath_sig", "i32"), ("pad", "u32"),
    ("creds", RST_CREDS),
    ("seccomp", RST_SECCOMP),
])
"""struct rst_thread (restorer.h): one per thread, the leader first."""

RESTORER_ARGS = Layout("restorer_args", [
    ("magic", "u32"), ("version", "u32"),
    ("self_start", "u64"), ("self_len", "u64"), ("stack_top", "u64"),
    ("unmap", "u64"), ("nr_unmap", "u64"),
    ("moves", "u64"), ("nr_moves", "u64"), ("scratch", "u64"),
    ("vmas", "u64"), ("nr_vmas", "u64"),
    ("runs", "u64"), ("nr_runs", "u64"),
    ("pages_fd", "i32"), ("log_fd", "i32"),
    ("mm", RST_MM_MAP),
    ("own_rseq_offset", "i64"), ("own_rseq_size", "u32"),
    ("own_rseq_sig", "u32"),
    ("sigaction_set", "u64"), ("sigactions", (RST_SIGACTION, RST_NSIG)),
    ("dumpable", "i32"), ("threads_done", "u32"),
    ("rlimits", "u64"), ("nr_rlimits", "u64"),
    ("close_fds", "u64"), ("nr_close_fds", "u64"),
    ("threads", "u64"), ("nr_threads", "u64"),
    ("sigpending_shared", "u64"), ("nr_sigpending_shared", "u64"),
    ("itimers", (RST_ITIMER, 3)),
    ("posix_timers", "u64"), ("nr_posix_timers", "u64"),
    ("error", "i64"), ("error_step", "u64"),
])
"""struct restorer_args (restorer.h, version RESTORER_ARGS_VERSION)."""


@dataclasses.dataclass
class RestorerBlock:
    """The argument block of one task, built at a fixed base address.

    add_*() append variable-length arrays after the fixed struct and return
    their absolute addresses; to_bytes() gives the whole block.
    """

    base: int
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    _tail: bytearray = dataclasses.field(default_factory=bytearray)

    def _append(self, data: bytes, align: int = 16) -> int:
        pad = -(RESTORER_ARGS.size + len(self._tail)) % align
        self._tail += bytes(pad)
        addr = self.base + RESTORER_ARGS.size + len(self._tail)
        self._tail += data
        return addr

    def add_array(self, layout: Layout, items: list[dict[str, Any]]) -> int:
        return self._append(b"".join(layout.pack(i) for i in items))

    def add_bytes(self, data: bytes, align: int = 16) -> int:
        return self._append(data, align)

    def add_fds(self, fds: list[int]) -> int:
        return self._append(struct.pack(f"<{len(fds)}i", *fds))

    @property
    def size(self) -> int:
        return RESTORER_ARGS.size + len(self._tail)

    def to_bytes(self) -> bytes:
        values = dict(self.fields)
        values.setdefault("magic", RESTORER_ARGS_MAGIC)
        values.setdefault("version", RESTORER_ARGS_VERSION)
        return RESTORER_ARGS.pack(values) + bytes(self._tail)
