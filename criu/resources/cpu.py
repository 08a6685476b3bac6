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

from criu.arch.x86 import cpu as xcpu
from criu.arch.x86 import sigframe
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources.base import (DumpContext, DumpTask, RestoreContext,
                                 RestoreTask)

NAME = "cpu"

NSIG = 64
SIGKILL, SIGSTOP = 9, 19
PR_GET_TID_ADDRESS = 40
SIGACTION_SIZE = 32          # struct sigaction of rt_sigaction on x86_64
STACK_T_SIZE = 24
ITIMERS = ("real", "virtual", "prof")   # ITIMER_* 0, 1, 2
ITIMERVAL_SIZE = 32          # struct itimerval: two struct timeval


def dump(ctx: DumpContext, task: DumpTask) -> None:
    seized = task.seized
    if seized is None:
        raise DumpError(f"task {task.pid}: cpu: task is not seized")
    if len(task.threads) != 1:
        raise DumpError(f"task {task.pid}: cpu: {len(task.threads)} threads; "
                        "only single-threaded tasks are supported yet")
    tid = task.pid
    core = task.core
    core.mtype = 1                                       # X86_64
    ti = core.thread_info
    regs = seized.saved_regs(tid)
    xcpu.fixup_syscall_restart(regs)
    xcpu.regs_to_core(regs, ti.gpregs)
    xcpu.xsave_to_core(seized.get_xsave(tid), ti.fpregs)

    mask = seized.get_sigmask(tid)
    core.tc.blk_sigset = mask
    tcore = core.thread_core
    tcore.blk_sigset = mask

    rseq = seized.rseq_configuration(tid)
    if rseq.rseq_abi_size:
        tcore.rseq_entry.rseq_abi_pointer = rseq.rseq_abi_pointer
        tcore.rseq_entry.rseq_abi_size = rseq.rseq_abi_size
        tcore.rseq_entry.signature = rseq.signature

    actions, sas, tid_addr = _ask_inside(task)
    ti.clear_tid_addr = tid_addr
    tcore.sas.ss_sp, tcore.sas.ss_flags, tcore.sas.ss_size = sas
    for handler, flags, restorer, sa_mask in actions:
        core.tc.sigactions.add(sigaction=handler, flags=flags,
                               restorer=restorer, mask=sa_mask)
    if not tcore.HasField("futex_rla"):
        tcore.futex_rla = 0
        tcore.futex_rla_len = 0
    _warn_not_imaged(ctx, task)


def _warn_not_imaged(ctx: DumpContext, task: DumpTask) -> None:
    """Signal and timer state that is not imaged yet (pending signals,
    interval and POSIX timers): said in a warning, not lost silently."""
    st = proc.status(task.pid)
    pending = int(st.get("SigPnd", "0"), 16) | int(st.get("ShdPnd", "0"), 16)
    if pending:
        ctx.log.warning("task %d: pending signals %s are not dumped yet: "
                        "the restored task will not receive them", task.pid,
                        ", ".join(str(n) for n in range(1, NSIG + 1)
                                  if pending & (1 << (n - 1))))
    if proc.read_text(task.pid, "timers").strip():
        ctx.log.warning("task %d: POSIX timers are not dumped yet: the "
                        "restored task will have none", task.pid)
    with task.remote_page() as page:
        for which in range(len(ITIMERS)):
            task.seized.remote_syscall_checked(
                "getitimer", which, page + which * ITIMERVAL_SIZE)
        data = task.seized.read_memory(page, len(ITIMERS) * ITIMERVAL_SIZE)
    for which, name in enumerate(ITIMERS):
        # it_value (the second timeval) non-zero: armed
        if any(struct.unpack_from("<2q", data, which * ITIMERVAL_SIZE + 16)):
            ctx.log.warning("task %d: interval timer ITIMER_%s is armed and "
                            "not dumped yet: the restored task will not get "
                            "its signals", task.pid, name.upper())


def _ask_inside(task: DumpTask) -> tuple[list[tuple[int, int, int, int]],
                                          tuple[int, int, int], int]:
    """Signal actions 1..64, sigaltstack and clear-tid address of the task,
    through remote syscalls writing into a page mapped for the purpose."""
    seized = task.seized
    with task.remote_page() as page:
        for sig in range(1, NSIG + 1):
            if sig in (SIGKILL, SIGSTOP):
                continue
            seized.remote_syscall_checked("rt_sigaction", sig, 0,
                                          page + (sig - 1) * SIGACTION_SIZE, 8)
        data = seized.read_memory(page, NSIG * SIGACTION_SIZE)
        actions = [struct.unpack_from("<4Q", data, i * SIGACTION_SIZE)
                   for i in range(NSIG)]
        at = page + NSIG * SIGACTION_SIZE
        seized.remote_syscall_checked("sigaltstack", 0, at)
        seized.remote_syscall_checked("prctl", PR_GET_TID_ADDRESS, at + 64,
                                      0, 0, 0)
        tail = seized.read_memory(at, 72)
        # stack_t { void *ss_sp; int ss_flags; size_t ss_size; }
        ss_sp, ss_flags, ss_size = struct.unpack_from("<Qi4xQ", tail)
        tid_addr = struct.unpack_from("<Q", tail, 64)[0]
    return actions, (ss_sp, ss_flags & 0xFFFFFFFF, ss_size), tid_addr


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class CpuPlan:
    """Thread state the restorer applies last."""

    frame: bytes                    # rt_sigframe, to place at frame_addr
    frame_addr: int
    fs_base: int
    gs_base: int
    sigactions: dict[int, tuple[int, int, int, int]]   # signo -> kernel sa
    rseq: tuple[int, int, int] | None                  # ptr, len, sig
    clear_tid_addr: int


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    core = task.core
    if core.mtype != 1 or not core.HasField("thread_info"):
        raise RestoreError(f"task {task.pid}: cpu: core image is not x86_64")
    ti = core.thread_info
    tcore = core.thread_core
    gp = ti.gpregs
    if gp.HasField("mode") and gp.mode != 1:
        raise RestoreError(f"task {task.pid}: cpu: 32-bit tasks are not "
                           "supported")
    try:
        xsave = xcpu.core_to_xsave(ti.fpregs)
    except xcpu.MissingXFeature as e:
        raise RestoreError(f"task {task.pid}: cpu: it holds {e} register "
                           "state and this CPU has no such registers") from e
    mask = tcore.blk_sigset if tcore.HasField("blk_sigset") \
        else core.tc.blk_sigset
    alt = sigframe.AltStack()
    if tcore.HasField("sas"):
        alt = sigframe.AltStack(tcore.sas.ss_sp, tcore.sas.ss_flags,
                                tcore.sas.ss_size)
    addr = sigframe.place_frame(gp.sp, len(xsave))
    frame = sigframe.build_frame(addr, gp, xsave, mask, alt)
    actions = {}
    for i, sa in enumerate(core.tc.sigactions):
        sig = i + 1
        if sig in (SIGKILL, SIGSTOP) or sig > NSIG:
            continue
        actions[sig] = (sa.sigaction, sa.flags, sa.restorer, sa.mask)
    rseq = None
    if tcore.HasField("rseq_entry") and tcore.rseq_entry.rseq_abi_size:
        r = tcore.rseq_entry
        rseq = (r.rseq_abi_pointer, r.rseq_abi_size, r.signature)
    task.restorer_args.cpu = CpuPlan(frame, addr, gp.fs_base, gp.gs_base,
                                     actions, rseq, ti.clear_tid_addr)
