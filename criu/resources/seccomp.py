"""seccomp of a task's threads: mode (strict, filter), BPF filter chains
(seccomp.img) and no_new_privs, as CRIU stores them.

Dump: per thread, the mode from /proc/PID/task/TID/status ("Seccomp:")
goes to thread_core.seccomp_mode, NoNewPrivs to thread_core.no_new_privs
(criu-py's own field: CRIU keeps none).  For filter mode the tracer reads
the thread's chain, oldest first, with PTRACE_SECCOMP_GET_FILTER (and the
LOG flag with PTRACE_SECCOMP_GET_METADATA).  The kernel gives a filter no
id, so, like CRIU, filters are told apart by content along the chain: a
filter is its instructions, its flags and the filter below it; two threads
(of one task, or tasks that inherited the chain across fork) whose chains
agree up to some filter share the objects up to there.  Every distinct
filter is written once to seccomp.img, oldest first, each with `prev`
(index + 1 of the filter below, 0: none); thread_core.seccomp_filter is
index + 1 of the thread's newest filter.  Two filters installed apart with
the same program on the same chain are thus stored as one: they behave
alike.

Restore: each thread gets its mode, no_new_privs and its own chain, oldest
first, in its part of the restorer block (rst_thread.seccomp, through
restorer_thread_fields).  The blob sets no_new_privs and installs the
filters with seccomp(SECCOMP_SET_MODE_FILTER) before the thread's
credentials (a thread without no_new_privs needs CAP_SYS_ADMIN, which its
credentials may drop), and enters strict mode as the very last syscall
before its final stop.  criu traces every restored task with
PTRACE_O_SUSPEND_SECCOMP (criu/restore/pipeline.py TRACE_OPTIONS), so
neither the blob's remaining syscalls nor criu's munmap of the restorer
meet the restored filters; detaching lifts the suspension.

Difference from the dumped task: each thread installs its chain on its
own, without SECCOMP_FILTER_FLAG_TSYNC, so threads (and tasks) that shared
filter objects get equal but separate ones; they filter identically.
Filters installed with SECCOMP_FILTER_FLAG_NEW_LISTENER come back without
their listener (the fd is not restored).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources.base import (DumpContext, DumpTask, RestoreContext,
                                 RestoreTask)
from criu.restorer import args as ra

NAME = "seccomp"
IMAGE = "seccomp.img"

SECCOMP_MODE_DISABLED, SECCOMP_MODE_STRICT, SECCOMP_MODE_FILTER = 0, 1, 2
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_LOG = 2
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
# Flags a filter may be installed again with, each thread on its own.
INSTALL_FLAGS = SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW
SOCK_FILTER_SIZE = 8
BPF_MAXINSNS = 4096
_REGISTRY = "seccomp"


# ------------------------------------------------------------ filter table
@dataclasses.dataclass
class FilterTable:
    """Every distinct filter of the dump, in seccomp.img order (oldest
    first: a filter's prev always comes before it)."""

    filters: list[tuple[bytes, int, int]] = dataclasses.field(
        default_factory=list)                  # (insns, prev, flags)
    _index: dict[tuple[bytes, int, int], int] = dataclasses.field(
        default_factory=dict)

    def add_chain(self, chain: Iterable[tuple[bytes, int]]) -> int:
        """Add a chain given oldest first as (insns, flags); returns
        index + 1 of its newest filter (0 for an empty chain).  Filters
        already known with the same program, flags and prev are reused."""
        prev = 0
        for insns, flags in chain:
            key = (bytes(insns), prev, flags)
            pos = self._index.get(key)
            if pos is None:
                self.filters.append(key)
                pos = len(self.filters)
                self._index[key] = pos
            prev = pos
        return prev

    def entry(self) -> Any:
        from images.pb import seccomp_pb2
        return seccomp_pb2.seccomp_entry(seccomp_filters=[
            seccomp_pb2.seccomp_filter(filter=insns, prev=prev, flags=flags)
            for insns, prev, flags in self.filters])


def chain_of(filters: list[Any], last: int) -> list[tuple[bytes, int]]:
    """The chain ending at filter `last` (index + 1) of seccomp.img's
    filters, oldest first, as (insns, flags)."""
    out: list[tuple[bytes, int]] = []
    seen = set()
    pos = last
    while pos:
        if pos > len(filters) or pos in seen:
            raise RestoreError(f"{IMAGE}: filter {pos} is not in the image "
                               "or its chain loops")
        seen.add(pos)
        f = filters[pos - 1]
        out.append((bytes(f.filter), f.flags if f.HasField("flags") else 0))
        pos = f.prev if f.HasField("prev") else 0
    out.reverse()
    return out


# -------------------------------------------------------------- dump side
def _thread_chain(task: DumpTask, tid: int, count: int | None
                  ) -> list[tuple[bytes, int]]:
    """The thread's filters, oldest first (the kernel's filter_off 0 is
    the oldest), read by the tracer."""
    from compel.native import ptrace as pt
    chain: list[tuple[bytes, int]] = []
    index = 0
    while count is None or index < count:
        try:
            insns = pt.seccomp_get_filter(tid, index)
        except FileNotFoundError:
            if count is None:
                break
            raise DumpError(f"task {task.pid}: thread {tid}: seccomp filter "
                            f"{index} of {count} is gone") from None
        except OSError as e:
            raise DumpError(f"task {task.pid}: thread {tid}: cannot read "
                            f"seccomp filter {index} "
                            f"(PTRACE_SECCOMP_GET_FILTER): {e.strerror}"
                            ) from e
        try:
            flags = pt.seccomp_get_metadata(tid, index)
        except OSError:
            flags = 0               # kernels without GET_METADATA
        chain.append((insns, flags))
        index += 1
    return chain


def dump(ctx: DumpContext, task: DumpTask) -> None:
    table = ctx.registry.setdefault(_REGISTRY, FilterTable())
    for tid in task.threads:
        status = proc.status(task.pid, tid)
        tcore = task.thread_cores[tid].thread_core
        mode = int(status.get("Seccomp", "0"))
        if status.get("NoNewPrivs", "0").strip() == "1":
            tcore.no_new_privs = True
        if mode == SECCOMP_MODE_DISABLED:
            continue
        tcore.seccomp_mode = mode
        if mode != SECCOMP_MODE_FILTER:
            ctx.log.info("task %d: thread %d: seccomp mode %d", task.pid,
                         tid, mode)
            continue
        count = status.get("Seccomp_filters")
        chain = _thread_chain(task, tid, int(count) if count else None)
        tcore.seccomp_filter = table.add_chain(chain)
        ctx.log.info("task %d: thread %d: seccomp filter mode, %d filter(s), "
                     "newest %d of %s", task.pid, tid, len(chain),
                     tcore.seccomp_filter, IMAGE)


def dump_finish(ctx: DumpContext) -> None:
    table = ctx.registry.get(_REGISTRY)
    if table is not None and table.filters:
        ctx.images.write(IMAGE, [table.entry()])


# ----------------------------------------------------------- restore side
@dataclasses.dataclass
class ThreadSeccomp:
    mode: int
    no_new_privs: bool
    chain: list[tuple[bytes, int]]          # oldest first: (insns, flags)


def plan_thread(tcore: Any, filters: list[Any] | None) -> ThreadSeccomp:
    """What the restorer does for one thread (thread_core_entry)."""
    mode = tcore.seccomp_mode if tcore.HasField("seccomp_mode") else 0
    if tcore.HasField("no_new_privs"):
        nnp = bool(tcore.no_new_privs)
    else:
        # Images of CRIU 4.x: only creds_entry.no_new_privs says it.
        nnp = (tcore.HasField("creds")
               and bool(tcore.creds.no_new_privs))
    chain: list[tuple[bytes, int]] = []
    if mode == SECCOMP_MODE_FILTER:
        last = tcore.seccomp_filter if tcore.HasField("seccomp_filter") \
            else 0
        if not last:
            raise RestoreError("seccomp filter mode without a filter")
        if filters is None:
            raise RestoreError(f"seccomp filter mode, but no {IMAGE}")
        chain = chain_of(filters, last)
        for insns, _ in chain:
            n = len(insns) // SOCK_FILTER_SIZE
            if not n or n > BPF_MAXINSNS or len(insns) % SOCK_FILTER_SIZE:
                raise RestoreError(f"{IMAGE}: a filter of {len(insns)} bytes"
                                   " is no BPF program")
    elif mode not in (SECCOMP_MODE_DISABLED, SECCOMP_MODE_STRICT):
        raise RestoreError(f"unknown seccomp mode {mode}")
    return ThreadSeccomp(mode, nnp, chain)


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    filters = None
    plans: dict[int, ThreadSeccomp] = {}
    for tid in task.threads:
        tcore = task.thread_cores[tid].thread_core
        if (filters is None and tcore.HasField("seccomp_mode")
                and tcore.seccomp_mode == SECCOMP_MODE_FILTER
                and ctx.images.exists(IMAGE)):
            filters = list(ctx.images.read_one(IMAGE).seccomp_filters)
        try:
            plans[tid] = plan_thread(tcore, filters)
        except RestoreError as e:
            raise RestoreError(f"task {task.pid}: thread {tid}: {e}") from e
    task.restorer_args.seccomp = plans


def thread_part(plan: ThreadSeccomp | None, block: ra.RestorerBlock
                ) -> dict[str, Any]:
    """rst_seccomp of one thread."""
    if plan is None:
        return dict(mode=0, no_new_privs=0, nr_filters=0, filters=0)
    items = [dict(len=len(insns) // SOCK_FILTER_SIZE,
                  insns=block.add_bytes(insns, 8),
                  flags=flags & INSTALL_FLAGS)
             for insns, flags in plan.chain]
    return dict(mode=plan.mode, no_new_privs=int(plan.no_new_privs),
                nr_filters=len(items),
                filters=block.add_array(ra.RST_SECCOMP_FILTER, items)
                if items else 0)


def restorer_thread_fields(task: RestoreTask, tid: int,
                           block: ra.RestorerBlock) -> dict[str, Any]:
    """This module's part of thread tid's rst_thread."""
    plans = getattr(task.restorer_args, "seccomp", None) or {}
    return {"seccomp": thread_part(plans.get(tid), block)}
