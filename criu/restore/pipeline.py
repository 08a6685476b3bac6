"""The restore pipeline: read images -> check PIDs -> clone3 with the dumped
PID -> resource hooks in the child -> restorer blob -> criu finishes the
task under ptrace -> detach (-d) or wait for it like CRIU.

criu traces the new task from its birth (PTRACE_O_EXITKILL: if criu dies,
the half-made task dies too).  The blob ends with a SIGSTOP to itself;
criu then unmaps the blob's region with one syscall run in the task and
lets it execute rt_sigreturn from a `syscall` instruction of its vdso, so
nothing of criu remains.  Any failure before that kills the task; the images directory is
only ever read.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from typing import Any

from compel.arch.x86.regs import UserRegs
from compel.blob import Blob
from compel.native import clone as nclone
from compel.native import memory as nmem
from compel.native import ptrace as pt
from compel.native.wait import kill_and_reap, waitpid
from criu import log as criu_log
from criu import resources
from criu.errors import CriuError, ImageError, RestoreError
from criu.imagedir import ImageDir
from criu.options import Options
from criu.resources.base import RestoreContext, RestoreTask
from criu.restore import restorer
from criu.restore.procself import ProcSelf

TASK_STOPPED = 3            # task_core_entry.task_state (CRIU's value)
NR_MUNMAP = 11
NR_RT_SIGRETURN = 15
SYSCALL_INSN = b"\x0f\x05"
CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                 signal.SIGSYS, signal.SIGABRT)


def blob_path() -> str:
    return os.path.join(os.path.dirname(restorer.__file__), os.pardir,
                        "restorer", "restorer.blob")


def restore(opts: Options) -> RestoreContext:
    """Restore the tree imaged in opts.images_dir; return once it runs
    (with -d) or once it has exited (without)."""
    logger = criu_log.get_logger()
    images = ImageDir(opts.images_dir)
    if not images.exists("inventory.img"):
        raise ImageError(f"{images.path}: no inventory.img: not a complete "
                         "dump")
    ctx = RestoreContext(opts=opts, images=images, log=logger,
                         inventory=images.read_one("inventory.img"))
    _read_tree(ctx)
    for task in ctx.tasks:
        _check_pid_free(task.pid)
    try:
        blob = Blob.load(os.path.normpath(blob_path()))
    except Exception as e:  # noqa: BLE001 - any load failure is the same
        raise RestoreError(f"restorer blob {blob_path()}: {e} (run make)") \
            from e
    task = ctx.tasks[0]
    started = time.monotonic()
    ctx.log.info("Restoring task %d", task.pid)
    pid = _create(ctx, task, blob)
    ctx.stats.restore_time = time.monotonic() - started
    ctx.stats.forking_time = ctx.registry.get("restore.forking_time", 0.0)
    ctx.stats.pages_restored = sum(
        e.nr_pages for e in ctx.images.read(f"pagemap-{task.pid}.img")[1:])
    logger.info("Restore finished successfully. Tasks resumed.")
    if opts.pidfile:
        _write_pidfile(opts, pid)
    if not opts.restore_detached:
        _wait_tree(ctx, pid)
    return ctx


def _read_tree(ctx: RestoreContext) -> None:
    entries = ctx.images.read("pstree.img")
    if len(entries) != 1:
        raise RestoreError(f"pstree.img: {len(entries)} tasks; only one-task "
                           "trees are supported yet")
    pe = entries[0]
    threads = list(pe.threads) or [pe.pid]
    if threads != [pe.pid]:
        raise RestoreError(f"task {pe.pid}: {len(threads)} threads; only "
                           "single-threaded tasks are supported yet")
    core = ctx.images.read_one(f"core-{pe.pid}.img")
    ids = None
    if ctx.images.exists(f"ids-{pe.pid}.img"):
        ids = ctx.images.read_one(f"ids-{pe.pid}.img")
    elif core.HasField("ids"):
        ids = core.ids
    ctx.tasks.append(RestoreTask(pid=pe.pid, ppid=pe.ppid, pgid=pe.pgid,
                                 sid=pe.sid, threads=threads, core=core,
                                 ids=ids))


def _check_pid_free(pid: int) -> None:
    if os.path.exists(f"/proc/{pid}"):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        raise RestoreError(f"task {pid}: PID {pid} is already used by a "
                           f"running process ({comm})")


# ------------------------------------------------------------ the new task
def _create(ctx: RestoreContext, task: RestoreTask, blob: Blob) -> int:
    """Fork the task with its PID, drive it to the end of the restorer."""
    go_r, go_w = os.pipe()
    status_r, status_w = os.pipe()
    started = time.monotonic()
    try:
        pid = nclone.fork_with_tid([task.pid])
    except FileExistsError:
        for fd in (go_r, go_w, status_r, status_w):
            os.close(fd)
        raise RestoreError(f"task {task.pid}: PID {task.pid} is already "
                           "used") from None
    except OSError as e:
        for fd in (go_r, go_w, status_r, status_w):
            os.close(fd)
        raise RestoreError(f"task {task.pid}: cannot create it with clone3: "
                           f"{e.strerror}") from e
    if pid == 0:
        os.close(go_w)
        os.close(status_r)
        _child(ctx, task, blob, go_r, status_w)     # never returns
    ctx.registry["restore.forking_time"] = time.monotonic() - started
    os.close(go_r)
    os.close(status_w)
    try:
        pt.seize(pid, pt.PTRACE_O_EXITKILL | pt.PTRACE_O_TRACESYSGOOD)
        os.write(go_w, b"g")
        os.close(go_w)
        go_w = -1
        _drive(ctx, task, pid, status_r)
    except BaseException:
        kill_and_reap(pid)
        raise
    finally:
        if go_w >= 0:
            os.close(go_w)
        os.close(status_r)
    return pid


def _child(ctx: RestoreContext, task: RestoreTask, blob: Blob, go_r: int,
           status_w: int) -> None:
    try:
        os.read(go_r, 1)
        os.close(go_r)
        criu_log.reopen_for_pid()          # --log-pid: a log file per task
        status_w = task.service_fds.keep(status_w, "status pipe")
        # Hooks change fds and the cwd: keep the images dir reachable.
        ctx.images.fd = task.service_fds.keep(ctx.images.fd, "images dir")
        ctx.images.path = ctx.images.path.resolve()
        # And the task's own /proc: the fs hook may chroot it away.
        task.proc_self = ProcSelf.open_here(task.service_fds,
                                            f"task {task.pid}")
        for module in resources.load():
            ctx.log.debug("task %d: restoring %s", task.pid, module.NAME)
            module.restore(ctx, task)
        restorer.jump(ctx, task, blob, status_w)
    except CriuError as e:
        _report(status_w, str(e))
    except BaseException as e:  # noqa: BLE001 - the child must not escape
        _report(status_w, f"task {task.pid}: {type(e).__name__}: {e}")
        ctx.log.debug("%s", traceback.format_exc())
    os._exit(1)


def _report(fd: int, message: str) -> None:
    try:
        os.write(fd, message.encode(errors="replace")[:4000])
    except OSError:
        pass


def _read_status(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace").strip()


def _drive(ctx: RestoreContext, task: RestoreTask, pid: int,
           status_r: int) -> None:
    """Follow the child until the restorer stops itself, then finish it."""
    where = f"task {task.pid}"
    while True:
        st = waitpid(pid)
        assert st is not None
        if st.exited:
            reason = _read_status(status_r) or f"{where}: {st.describe()}"
            raise RestoreError(reason)
        if st.is_event_stop:
            pt.cont(pid)
            continue
        sig = st.stop_signal
        if sig == signal.SIGSTOP and st.is_signal_delivery and \
                _at_restorer_end(pid):
            _finish(ctx, task, pid)
            return
        if sig in CRASH_SIGNALS:
            regs = _get_regs(pid)
            raise RestoreError(f"{where}: restore crashed with "
                               f"{signal.Signals(sig).name} at ip "
                               f"{regs.rip:#x}")
        pt.cont(pid, sig)


def _get_regs(pid: int) -> UserRegs:
    return UserRegs.from_buffer_copy(
        pt.get_regset(pid, pt.NT_PRSTATUS, len(bytes(UserRegs()))))


def _set_regs(pid: int, regs: UserRegs) -> None:
    pt.set_regset(pid, pt.NT_PRSTATUS, bytes(regs))


def _at_restorer_end(pid: int) -> bool:
    """The SIGSTOP the restorer sends itself last: rip just after its
    syscall, inside the region r12/r13 describe."""
    regs = _get_regs(pid)
    return regs.r12 <= regs.rip - 2 < regs.r12 + regs.r13 and regs.rax == 0


def _finish(ctx: RestoreContext, task: RestoreTask, pid: int) -> None:
    """Unmap the restorer region, then rt_sigreturn into the target."""
    where = f"task {task.pid}"
    at_trap = _get_regs(pid)
    region, length = at_trap.r12, at_trap.r13
    ip = _vdso_syscall_ip(ctx, task, pid)
    call = at_trap.copy()
    call.set_syscall(NR_MUNMAP, (region, length), ip)
    _set_regs(pid, call)
    for _ in range(2):                      # syscall entry, then exit
        pt.syscall_step(pid)
        st = waitpid(pid)
        assert st is not None
        if st.exited or not st.is_syscall_stop:
            raise RestoreError(f"{where}: unmapping the restorer: "
                               f"{st.describe()}")
    ret = _get_regs(pid).syscall_ret
    if ret != 0:
        raise RestoreError(f"{where}: unmapping the restorer: "
                           f"{os.strerror(-ret)}")
    final = at_trap.copy()
    final.rip = ip
    final.rax = NR_RT_SIGRETURN
    final.orig_rax = 0xFFFFFFFFFFFFFFFF
    _set_regs(pid, final)
    ctx.log.debug("%s: restorer region %#x+%#x unmapped; rt_sigreturn at "
                  "%#x", where, region, length, ip)
    # A task dumped in a group stop stops again before its first step.
    stopped = task.core.tc.task_state == TASK_STOPPED
    pt.detach(pid, signal.SIGSTOP if stopped else 0)


def _vdso_syscall_ip(ctx: RestoreContext, task: RestoreTask,
                     pid: int) -> int:
    """A `syscall` instruction in the restored task: in its vdso (now at
    its dumped address), else in any of its executable mappings.  The
    addresses come from the images: the memory plan lives in the child."""
    from criu.mem import vmas as vm
    mm = ctx.images.read_one(f"mm-{task.pid}.img")
    code_vmas = sorted((v for v in mm.vmas if v.prot & vm.PROT_EXEC and
                        not v.status & vm.VMA_AREA_VSYSCALL),
                       key=lambda v: not v.status & vm.VMA_AREA_VDSO)
    for v in code_vmas:
        try:
            code = nmem.read_remote(pid, v.start, min(v.end - v.start,
                                                       1 << 20))
        except OSError:
            continue
        at = code.find(SYSCALL_INSN)
        if at >= 0:
            return v.start + at
    raise RestoreError(f"task {task.pid}: no syscall instruction in its "
                       "code to return through")


def _write_pidfile(opts: Options, pid: int) -> None:
    path = opts.pidfile
    assert path is not None
    if not os.path.isabs(path):
        path = os.path.join(opts.work_path, path)
    try:
        with open(path, "w") as f:
            f.write(f"{pid}\n")
    except OSError as e:
        raise RestoreError(f"--pidfile {path}: {e.strerror}") from e


def _wait_tree(ctx: RestoreContext, pid: int) -> Any:
    """Without -d criu stays the parent and waits, like CRIU does."""
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        ctx.log.info("task %d exited with status %d", pid,
                     os.WEXITSTATUS(status))
        ctx.exit_code = os.WEXITSTATUS(status)   # type: ignore[attr-defined]
    elif os.WIFSIGNALED(status):
        ctx.log.info("task %d killed by signal %d", pid, os.WTERMSIG(status))
        ctx.exit_code = 1                         # type: ignore[attr-defined]
    return status
