"""Inside the new task: place the restorer blob and its arguments, jump.

Runs after every resource hook, in criu's clone3'd child.  It picks a
region that collides neither with criu's current mappings nor with any of
the target's, maps blob + argument block + stack + scratch room there,
fills the argument block (criu/restorer/args.py) from what the hooks left
in task.restorer_args (memory, cpu, creds plans), and calls the blob.  The
call never returns: the blob either becomes the target or exits with a one
line reason written to the status pipe.

The fs hook has run by now and may have chrooted the task away from /proc:
criu's own mappings, fds and memory are reached through task.proc_self, the
/proc/self directory fd opened before the first hook, never by path.
"""

from __future__ import annotations

import os
from typing import Any

from compel.blob import Blob
from compel.native import memory as nmem
from compel.native import selfcall
from criu.arch import current as arch
from criu.errors import RestoreError
from criu.mem import vmas as vm
from criu.resources.base import RestoreContext, RestoreTask
from criu.restore.procself import ProcSelf
from criu.restorer import args as ra

PAGE = 4096
STACK_SIZE = 64 << 10
THREAD_STACK_SIZE = 16 << 10        # other threads only restore themselves
TASK_SIZE = arch.TASK_SIZE          # top of the user address space
LOWEST = 0x10000000
PROT_RWX = nmem.PROT_READ | nmem.PROT_WRITE | nmem.PROT_EXEC
MAP_PRIVATE_ANON = nmem.MAP_PRIVATE | nmem.MAP_ANONYMOUS
MAP_FIXED_NOREPLACE = nmem.MAP_FIXED_NOREPLACE
SPECIAL_NAMES = ("[vvar]", "[vvar_vclock]", "[vdso]")


def _page_up(n: int) -> int:
    return (n + PAGE - 1) // PAGE * PAGE


def own_mappings(proc: ProcSelf) -> list[vm.Vma]:
    """criu's mappings in the new task, read through the /proc/self fd
    opened before the hooks (the fs hook may have chrooted the task)."""
    return vm.parse_smaps(proc.read_text("maps"))


def find_region(size: int, busy: list[tuple[int, int]]) -> int:
    """Lowest address >= LOWEST where `size` bytes touch no busy range."""
    addr = LOWEST
    for start, end in sorted(busy):
        if end <= addr:
            continue
        if start >= addr + size:
            break
        addr = _page_up(end)
    if addr + size > TASK_SIZE:
        raise RestoreError("restorer: no free room for the restorer region")
    return addr


def special_moves(own: list[vm.Vma],
                  specials: list[tuple[int, int, int]],
                  where: str) -> list[dict[str, int]]:
    """Pair criu's vvar/vvar_vclock/vdso with the dumped ones, by kind and
    address order; sizes must agree (same kernel)."""
    mine_vvar = [v for v in own if v.name in ("[vvar]", "[vvar_vclock]")]
    mine_vdso = [v for v in own if v.name == "[vdso]"]
    dumped_vvar = sorted((s, e) for s, e, st in specials
                         if st & vm.VMA_AREA_VVAR)
    dumped_vdso = sorted((s, e) for s, e, st in specials
                         if st & vm.VMA_AREA_VDSO)
    moves = []
    for mine, dumped, what in ((mine_vvar, dumped_vvar, "vvar"),
                               (mine_vdso, dumped_vdso, "vdso")):
        if not dumped:
            continue        # the task had none: ours is unmapped with criu
        if len(mine) != len(dumped) or any(
                m.size != e - s for m, (s, e) in zip(mine, dumped)):
            raise RestoreError(
                f"{where}: {what} layout differs from the dump's "
                f"(dumped {[hex(e - s) for s, e in dumped]}, here "
                f"{[hex(m.size) for m in mine]}): restore on the kernel "
                "that dumped")
        moves += [dict(**{"from": m.start}, to=s, len=m.size)
                  for m, (s, _) in zip(mine, dumped)]
    return moves


def _creds(creds: Any) -> dict[str, Any]:
    """rst_creds of one thread (present=0: keep criu's)."""
    if creds is None:
        return {"present": 0}

    def cap(words: Any) -> int:
        w = list(words)
        return (w[0] if w else 0) | ((w[1] if len(w) > 1 else 0) << 32)
    groups = list(creds.groups)
    if len(groups) > 64:
        raise RestoreError(f"creds: {len(groups)} supplementary groups, "
                           "the restorer takes 64")
    return dict(present=1, uid=creds.uid, euid=creds.euid, suid=creds.suid,
                fsuid=creds.fsuid, gid=creds.gid, egid=creds.egid,
                sgid=creds.sgid, fsgid=creds.fsgid, ngroups=len(groups),
                groups=groups, secbits=creds.secbits,
                cap_inh=cap(creds.cap_inh), cap_prm=cap(creds.cap_prm),
                cap_eff=cap(creds.cap_eff), cap_bnd=cap(creds.cap_bnd),
                cap_amb=cap(getattr(creds, "cap_amb", [])))


def build_block(base: int, region_start: int, region_len: int,
                stacks: list[int], scratch: int, task: RestoreTask,
                moves: list[dict[str, int]], close_fds: list[int],
                status_fd: int) -> ra.RestorerBlock:
    """The argument block: the task's part, then one rst_thread per thread
    (leader first) with its own restorer stack (stacks[i], tops)."""
    mem = task.restorer_args.memory
    cpu = task.restorer_args.cpu
    creds = getattr(task.restorer_args, "creds", {}) or {}
    block = ra.RestorerBlock(base=base)
    f = block.fields
    f.update(self_start=region_start, self_len=region_len,
             stack_top=stacks[0], scratch=scratch, log_fd=status_fd,
             pages_fd=mem.pages_fd)
    unmap = [dict(start=0, len=region_start),
             dict(start=region_start + region_len,
                  len=TASK_SIZE - region_start - region_len)]
    f["unmap"] = block.add_array(ra.RST_RANGE, unmap)
    f["nr_unmap"] = len(unmap)
    f["moves"] = block.add_array(ra.RST_MOVE, moves)
    f["nr_moves"] = len(moves)
    f["vmas"] = block.add_array(ra.RST_VMA, mem.vmas)
    f["nr_vmas"] = len(mem.vmas)
    f["runs"] = block.add_array(ra.RST_RUN, [dict(start=s, len=n, off=o)
                                             for s, n, o in mem.runs])
    f["nr_runs"] = len(mem.runs)
    mm = mem.mm
    auxv = b"".join(w.to_bytes(8, "little") for w in mm.mm_saved_auxv)
    f["mm"] = dict(start_code=mm.mm_start_code, end_code=mm.mm_end_code,
                   start_data=mm.mm_start_data, end_data=mm.mm_end_data,
                   start_brk=mm.mm_start_brk, brk=mm.mm_brk,
                   start_stack=mm.mm_start_stack, arg_start=mm.mm_arg_start,
                   arg_end=mm.mm_arg_end, env_start=mm.mm_env_start,
                   env_end=mm.mm_env_end,
                   auxv=block.add_bytes(auxv) if auxv else 0,
                   auxv_size=len(auxv), exe_fd=mem.exe_fd)
    offset, size, sig = selfcall.glibc_rseq()
    f.update(own_rseq_offset=offset, own_rseq_size=size, own_rseq_sig=sig)
    actions = [dict(handler=0, flags=0, restorer=0, mask=0)] * ra.RST_NSIG
    mask = 0
    for sig_no, (handler, flags, restorer, sa_mask) in cpu.sigactions.items():
        actions[sig_no - 1] = dict(handler=handler, flags=flags,
                                   restorer=restorer, mask=sa_mask)
        mask |= 1 << (sig_no - 1)
    f.update(sigactions=actions, sigaction_set=mask)
    rlimits = getattr(task.restorer_args, "rlimits", [])
    f["rlimits"] = block.add_array(ra.RST_RLIMIT, rlimits)
    f["nr_rlimits"] = len(rlimits)
    f["dumpable"] = mm.dumpable if mm.HasField("dumpable") else -1
    f["close_fds"] = block.add_fds(close_fds)
    f["nr_close_fds"] = len(close_fds)
    f["sigpending_shared"] = _siginfos(block, cpu.sigpending)
    f["nr_sigpending_shared"] = len(cpu.sigpending)
    # Parts of the resources that hand each rst_thread their own fields.
    from criu import resources
    thread_parts = [part for module in resources.load()
                    if (part := getattr(module, "restorer_thread_fields",
                                        None)) is not None]
    threads = []
    for th, stack in zip(cpu.threads, stacks):
        comm = th.comm.encode()[:15]
        entry = dict(
            tid=th.tid, stack_top=stack,
            frame_src=block.add_bytes(th.frame, 64),
            frame_len=len(th.frame), frame_dst=th.frame_addr,
            fs_base=th.fs_base, gs_base=th.gs_base,
            clear_tid_addr=th.clear_tid_addr,
            robust_list=th.robust_list[0],
            robust_list_len=th.robust_list[1],
            sigpending=_siginfos(block, th.sigpending),
            nr_sigpending=len(th.sigpending),
            # The leader's name is the task's comm, set by the task hook.
            has_comm=int(bool(comm) and th.tid != task.pid),
            comm=list(comm + bytes(16 - len(comm))),
            pdeath_sig=_pdeath_sig(task, th.tid),
            creds=_creds(creds.get(th.tid)))
        if th.rseq:
            entry.update(rseq_ptr=th.rseq[0], rseq_len=th.rseq[1],
                         rseq_sig=th.rseq[2])
        for thread_part in thread_parts:
            entry.update(thread_part(task, th.tid, block))
        threads.append(entry)
    f["threads"] = block.add_array(ra.RST_THREAD, threads)
    f["nr_threads"] = len(threads)
    # Parts of the resources that hand the blob their own typed fields.
    for module in resources.load():
        part = getattr(module, "restorer_fields", None)
        if part is not None:
            f.update(part(task, block))
    return block


def _pdeath_sig(task: RestoreTask, tid: int) -> int:
    """A thread's parent-death signal, set after its credentials (a
    credential change clears it).  Only a parent inside the tree: outside,
    the parent is criu, and the signal would fire when criu exits."""
    if task.ppid == 0:
        return 0
    return task.thread_cores[tid].thread_core.pdeath_sig


def _siginfos(block: ra.RestorerBlock, infos: list[bytes]) -> int:
    if not infos:
        return 0
    for info in infos:
        if len(info) != ra.RST_SIGINFO_SIZE:
            raise RestoreError(f"a pending signal's siginfo has "
                               f"{len(info)} bytes, not "
                               f"{ra.RST_SIGINFO_SIZE}")
    return block.add_bytes(b"".join(infos))


def target_fds(ctx: RestoreContext, task: RestoreTask) -> set[int]:
    if task.ids is None:
        return set()
    name = f"fdinfo-{task.ids.files_id}.img"
    if not ctx.images.exists(name):
        return set()
    return {fi.fd for fi in ctx.images.read(name)}


def jump(ctx: RestoreContext, task: RestoreTask, blob: Blob,
         status_fd: int) -> tuple[int, int]:
    """Map the restorer and run it; returns only if it cannot be started.

    The returned (start, length) of the region is what the parent unmaps
    once the blob stops itself at the end (it reads them from r12, r13).
    """
    where = f"task {task.pid}: restorer"
    mem = task.restorer_args.memory
    if mem is None or getattr(task.restorer_args, "cpu", None) is None:
        raise RestoreError(f"{where}: memory or cpu state missing")
    proc = task.proc_self
    if proc is None:
        raise RestoreError(f"{where}: /proc/self was not opened before the "
                           "resource hooks")
    own = own_mappings(proc)
    moves = special_moves(own, mem.specials, where)
    keep = target_fds(ctx, task)
    if task.table_owner or task.shares_table:
        # Another task of the table may still be restoring with fds of its
        # own in it: criu closes what is left once all are at their end.
        close_fds: list[int] = []
    else:
        close_fds = [fd for fd in proc.fds() if fd not in keep]
    blob_len = _page_up(blob.size)
    scratch_len = _page_up(sum(m["len"] for m in moves))
    nr_threads = len(task.restorer_args.cpu.threads)
    # Size the argument block with a dry run at address 0.
    probe = build_block(0, 0, 0, [0] * nr_threads, 0, task, moves,
                        close_fds, status_fd)
    args_len = _page_up(probe.size)
    stacks_len = STACK_SIZE + (nr_threads - 1) * THREAD_STACK_SIZE
    region_len = blob_len + args_len + stacks_len + scratch_len
    target = [(v["start"], v["end"]) for v in mem.vmas]
    target += [(m["to"], m["to"] + m["len"]) for m in moves]
    for attempt in range(3):
        busy = target + [(v.start, v.end) for v in own_mappings(proc)
                         if v.end <= TASK_SIZE]
        start = find_region(region_len, busy)
        try:
            nmem.mmap(start, region_len, PROT_RWX,
                      MAP_PRIVATE_ANON | MAP_FIXED_NOREPLACE)
            break
        except FileExistsError:
            if attempt == 2:    # criu's own memory keeps moving under us
                raise RestoreError(f"{where}: no stable room for the "
                                   "restorer region") from None
    args_at = start + blob_len
    stacks = [args_at + args_len + STACK_SIZE]
    for _ in range(nr_threads - 1):
        stacks.append(stacks[-1] + THREAD_STACK_SIZE)
    scratch = stacks[-1]
    block = build_block(args_at, start, region_len, stacks, scratch,
                        task, moves, close_fds, status_fd)
    with open(proc.open("mem", os.O_RDWR), "r+b", buffering=0) as f:
        f.seek(start)
        f.write(blob.relocated(start))
        f.seek(args_at)
        f.write(block.to_bytes())
    ctx.log.debug("task %d: restorer at %#x (%d bytes), %d vmas, %d runs",
                  task.pid, start, region_len, len(mem.vmas), len(mem.runs))
    selfcall.call_blob(start + blob.symbol("restorer_entry"), args_at)
    raise RestoreError(f"{where}: returned")
