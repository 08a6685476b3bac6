"""CPU and signal state of a task's thread, in core-PID.img.

Dump: registers as seized (with a syscall in progress made restartable),
FPU/XSAVE state, fs/gs base (thread_info_x86), blocked mask, alternate
signal stack, rseq registration (thread_core_entry), the clear-tid address,
and the signal actions (task_core_entry.sigactions, as CRIU writes them
today).  Signal actions, sigaltstack and the tid address are asked inside
the task with remote syscalls writing into a scratch page.

Restore: builds the rt_sigframe the restorer returns through and leaves it,
with the actions, rseq and TLS bases, in task.restorer_args.cpu.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from criu.arch import current as arch

xcpu = arch.cpu
sigframe = arch.sigframe
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources.base import (DumpContext, DumpTask, RestoreContext,
                                 RestoreTask)

NAME = "cpu"

NSIG = 64
SI_USER = 0                  # siginfo si_code of kill()
STOP_SIGNALS = (19, 20, 21, 22)   # SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
SIGKILL, SIGSTOP = 9, 19
PR_GET_TID_ADDRESS = 40
STACK_T_SIZE = 24


def dump(ctx: DumpContext, task: DumpTask) -> None:
    seized = task.seized
    if seized is None:
        raise DumpError(f"task {task.pid}: cpu: task is not seized")
    with task.remote_page() as page:
        for tid in task.threads:
            core = task.thread_cores[tid]
            _dump_thread(task, tid, core, page)
    # One parasite command instead of 64 remote syscalls (5x faster).
    try:
        actions = [(a.handler, a.flags, a.restorer, a.mask)
                   for a in task.parasite().get_sigactions()]
    finally:
        task.cure_parasite()
    for handler, flags, restorer, sa_mask in actions:
        task.core.tc.sigactions.add(sigaction=handler, flags=flags,
                                    restorer=restorer, mask=sa_mask)
    shared = seized.pending_signals(task.threads[0], shared=True)
    # Stop signals pending on a stopped task, which seizing it took off
    # its queues (compel queues them again when it lets the task go).
    for tid, info in seized.pending_stops:
        if int.from_bytes(info[8:12], "little", signed=True) == SI_USER:
            shared.append(info)
        else:
            task.thread_cores[tid].thread_core.signals_p.signals.append(
                _siginfo_entry(info))
    if shared:
        task.core.tc.signals_s.signals.extend(
            _siginfo_entry(info) for info in shared)


def _siginfo_entry(info: bytes) -> object:
    from images.pb import siginfo_pb2
    return siginfo_pb2.siginfo_entry(siginfo=info)


def _dump_thread(task: DumpTask, tid: int, core: Any, page: int) -> None:
    """Registers, FPU, TLS, masks, alternate stack, rseq, robust list,
    clear-tid address, name and private pending signals of one thread."""
    seized = task.seized
    core.mtype = 1                                       # X86_64
    ti = core.thread_info
    regs = seized.saved_regs(tid)
    xcpu.fixup_syscall_restart(regs)
    xcpu.regs_to_core(regs, ti.gpregs)
    try:
        xcpu.xsave_to_core(seized.get_xsave(tid), ti.fpregs)
    except xcpu.UnimagedXFeature as e:
        raise DumpError(f"task {task.pid}: thread {tid}: cpu: {e}") from e

    mask = seized.get_sigmask(tid)
    tcore = core.thread_core
    tcore.blk_sigset = mask
    if tid == task.pid:
        core.tc.blk_sigset = mask

    rseq = seized.rseq_configuration(tid)
    if rseq.rseq_abi_size:
        tcore.rseq_entry.rseq_abi_pointer = rseq.rseq_abi_pointer
        tcore.rseq_entry.rseq_abi_size = rseq.rseq_abi_size
        tcore.rseq_entry.signature = rseq.signature

    # stack_t at page, the tid address at page + 64, robust list head and
    # length at page + 72 / + 80: each asked in the thread itself.
    seized.remote_syscall_checked("sigaltstack", 0, page, tid=tid)
    seized.remote_syscall_checked("prctl", PR_GET_TID_ADDRESS, page + 64,
                                  0, 0, 0, tid=tid)
    seized.remote_syscall_checked("get_robust_list", 0, page + 72,
                                  page + 80, tid=tid)
    data = seized.read_memory(page, 88)
    # stack_t { void *ss_sp; int ss_flags; size_t ss_size; }
    ss_sp, ss_flags, ss_size = struct.unpack_from("<Qi4xQ", data)
    tcore.sas.ss_sp, tcore.sas.ss_flags, tcore.sas.ss_size = \
        ss_sp, ss_flags & 0xFFFFFFFF, ss_size
    ti.clear_tid_addr = struct.unpack_from("<Q", data, 64)[0]
    head, length = struct.unpack_from("<QQ", data, 72)
    tcore.futex_rla = head
    tcore.futex_rla_len = length
    tcore.comm = proc.read_text(task.pid, f"task/{tid}/comm")
    private = seized.pending_signals(tid)
    if private:
        tcore.signals_p.signals.extend(_siginfo_entry(i) for i in private)


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class ThreadPlan:
    """State of one thread the restorer applies last."""

    tid: int
    frame: bytes                    # rt_sigframe, to place at frame_addr
    frame_addr: int
    fs_base: int
    gs_base: int
    rseq: tuple[int, int, int] | None                  # ptr, len, sig
    clear_tid_addr: int
    robust_list: tuple[int, int]                       # head, len
    comm: str
    sigpending: list[bytes]         # siginfo_t of signals queued to it


@dataclasses.dataclass
class CpuPlan:
    """Signal actions of the task and the state of each thread."""

    sigactions: dict[int, tuple[int, int, int, int]]   # signo -> kernel sa
    threads: list[ThreadPlan]                          # leader first
    sigpending: list[bytes]         # siginfo_t queued to the whole process


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    core = task.core
    threads = [_thread_plan(task, tid, task.thread_cores[tid])
               for tid in task.threads]
    actions = {}
    for i, sa in enumerate(core.tc.sigactions):
        sig = i + 1
        if sig in (SIGKILL, SIGSTOP) or sig > NSIG:
            continue
        actions[sig] = (sa.sigaction, sa.flags, sa.restorer, sa.mask)
    shared = [bytes(e.siginfo) for e in core.tc.signals_s.signals
              if not is_stop(bytes(e.siginfo))] \
        if core.tc.HasField("signals_s") else []
    task.restorer_args.cpu = CpuPlan(actions, threads, shared)


def is_stop(info: bytes) -> bool:
    """A stop signal's siginfo: never queued by the restorer (it would stop
    the task there); criu sends it once the task is stopped again."""
    return int.from_bytes(info[:4], "little") in STOP_SIGNALS


def pending_stops(task: RestoreTask) -> list[tuple[int, int, bool]]:
    """(tid, signal, to the whole process) of the stop signals pending on
    a task dumped stopped, for criu to send after it stopped again."""
    out = []
    tc = task.core.tc
    if tc.HasField("signals_s"):
        out += [(task.pid, int.from_bytes(e.siginfo[:4], "little"), True)
                for e in tc.signals_s.signals if is_stop(bytes(e.siginfo))]
    for tid in task.threads:
        th = task.thread_cores[tid].thread_core
        if th.HasField("signals_p"):
            out += [(tid, int.from_bytes(e.siginfo[:4], "little"), False)
                    for e in th.signals_p.signals
                    if is_stop(bytes(e.siginfo))]
    return out


def _thread_plan(task: RestoreTask, tid: int, core: Any) -> ThreadPlan:
    where = f"task {task.pid}: thread {tid}: cpu"
    if core.mtype != 1 or not core.HasField("thread_info"):
        raise RestoreError(f"{where}: core image is not x86_64")
    ti = core.thread_info
    tcore = core.thread_core
    gp = ti.gpregs
    if gp.HasField("mode") and gp.mode != 1:
        raise RestoreError(f"{where}: 32-bit tasks are not supported")
    try:
        xsave = xcpu.core_to_xsave(ti.fpregs)
    except xcpu.MissingXFeature as e:
        raise RestoreError(f"{where}: it holds {e} register state and this "
                           "CPU has no such registers") from e
    if tcore.HasField("blk_sigset"):
        mask = tcore.blk_sigset
    else:
        mask = task.core.tc.blk_sigset
    alt = sigframe.AltStack()
    if tcore.HasField("sas"):
        alt = sigframe.AltStack(tcore.sas.ss_sp, tcore.sas.ss_flags,
                                tcore.sas.ss_size)
    addr = sigframe.place_frame(gp.sp, len(xsave))
    frame = sigframe.build_frame(addr, gp, xsave, mask, alt)
    rseq = None
    if tcore.HasField("rseq_entry") and tcore.rseq_entry.rseq_abi_size:
        r = tcore.rseq_entry
        rseq = (r.rseq_abi_pointer, r.rseq_abi_size, r.signature)
    pending = [bytes(e.siginfo) for e in tcore.signals_p.signals
               if not is_stop(bytes(e.siginfo))] \
        if tcore.HasField("signals_p") else []
    return ThreadPlan(tid, frame, addr, gp.fs_base, gp.gs_base, rseq,
                      ti.clear_tid_addr, (tcore.futex_rla,
                                          tcore.futex_rla_len),
                      tcore.comm if tcore.HasField("comm") else "", pending)
