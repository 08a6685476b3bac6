"""A seized task: all its threads frozen under ptrace, their registers and
signal state at hand, and syscalls run inside it.

How the task is left untouched: at seize we save every thread's registers
and blocked mask.  Code runs in the task only with all signals blocked (so
no signal is consumed and pending signals stay pending), from an existing
`syscall` instruction (normally in the vdso: no byte of the task's memory is
changed), stepping with PTRACE_SYSCALL (no breakpoint, no SIGTRAP, no signal
action touched).  On detach the saved registers go back exactly: a thread
that was inside an interrupted syscall still has orig_rax = the syscall and
rax = -ERESTART*, and the kernel, on its way back to user mode after the
detach, restarts the syscall or returns EINTR as it does after any stop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import time

from compel import proc
from compel.arch import current as arch
from compel.errors import (AlreadyTracedError, NoSuchTaskError,
                           NotPermittedError, RemoteError, TaskError,
                           ZombieTaskError)
from compel.native import memory, pidfd
from compel.native import ptrace as pt
from compel.native.wait import WaitStatus, waitpid

ALL_SIGNALS_BLOCKED = 0xFFFFFFFFFFFFFFFF
XSAVE_BUFFER = 16384


class ThreadState:
    """What we saved of one thread when we seized it."""

    def __init__(self, tid: int, regs: "arch.UserRegs", sigmask: int,
                 group_stopped: bool) -> None:
        self.tid = tid
        self.regs = regs
        self.sigmask = sigmask
        self.group_stopped = group_stopped


class Task:
    """A process whose threads are all seized and stopped.

    Use compel.seize(pid) to get one; leave it with detach() (or the `with`
    block), which restores registers and signal masks and resumes the task.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        # The thread we run code on: the leader, unless it has exited while
        # other threads live on (a zombie leader cannot be traced).
        self.main_tid = pid
        self.threads: list[int] = []
        self.saved: dict[int, ThreadState] = {}
        self.was_stopped = False
        self.dead = False  # the task died while we held it
        self._syscall_ip: int | None = None
        self._intercepted: list[tuple[int, int]] = []
        # Stop signals that were pending on the stopped task when we seized
        # it (tid, siginfo): taken off its queue by the seize, queued again
        # at detach.
        self.pending_stops: list[tuple[int, bytes]] = []
        self._detached = False
        self._parasites: list = []
        self._options = pt.PTRACE_O_TRACESYSGOOD

    # ---- seizing ---------------------------------------------------------

    def _seize(self) -> None:
        st = proc.status(self.pid)
        state = st.get("State", "?")[:1]
        leader_gone = state in ("Z", "X")
        if leader_gone and int(st.get("Threads", "1")) <= 1:
            raise ZombieTaskError(f"task {self.pid}: is a zombie")
        if int(st.get("TracerPid", "0")):
            raise AlreadyTracedError(
                f"task {self.pid}: already traced by {st['TracerPid']}")
        if st.get("Tgid") != str(self.pid):
            raise TaskError(f"task {self.pid}: is a thread of {st.get('Tgid')}, "
                            "not a process")
        self.was_stopped = state == "T"
        # Our own syscalls must not meet the task's seccomp filters.
        self._options = pt.PTRACE_O_TRACESYSGOOD
        if st.get("Seccomp", "0") != "0":
            self._options |= pt.PTRACE_O_SUSPEND_SECCOMP
        try:
            if not leader_gone:
                self._seize_thread(self.pid)
            # Until no thread is left unseized: running ones may clone.
            while True:
                new = [t for t in proc.threads(self.pid)
                       if t not in self.saved and t != self.pid]
                if not new:
                    break
                for tid in new:
                    self._seize_thread(tid, is_leader=False)
            if leader_gone:
                if not self.threads:
                    raise ZombieTaskError(f"task {self.pid}: is a zombie")
                self.main_tid = self.threads[0]
        except BaseException:
            self._release_all()
            raise

    def _seize_thread(self, tid: int, is_leader: bool = True) -> None:
        try:
            pt.seize(tid, self._options)
        except ProcessLookupError:
            if not is_leader:
                return  # the thread exited meanwhile
            raise NoSuchTaskError(f"task {self.pid}: no such process") from None
        except PermissionError:
            tracer = proc.tracer(tid) if os.path.exists(f"/proc/{tid}") else 0
            if tracer:
                raise AlreadyTracedError(
                    f"task {self.pid}: already traced by {tracer}") from None
            raise NotPermittedError(
                f"task {self.pid}: not permitted to trace it") from None
        self.threads.append(tid)
        try:
            pt.interrupt(tid)
            group_stopped = self._wait_interrupted(tid)
        except (TaskError, ProcessLookupError):
            if is_leader:
                raise
            if tid in self.threads:  # exiting: let it go
                self.threads.remove(tid)
                try:
                    pt.detach(tid)
                except OSError:
                    pass
            return
        regs = self.get_regs(tid)
        self.saved[tid] = ThreadState(tid, regs, pt.get_sigmask(tid),
                                      group_stopped)

    def _wait_interrupted(self, tid: int) -> bool:
        """Wait for the interrupt stop of a freshly seized thread; a signal
        that arrived first is delivered (as it would have been), then we
        stop again.  True if the thread sits in a group stop."""
        while True:
            st = self._wait(tid)
            if st.is_event_stop:
                return st.is_group_stop
            if st.is_signal_delivery:
                sig = st.stop_signal
                if self.was_stopped and sig in STOP_SIGNALS:
                    # A stop signal still pending on a stopped task: our
                    # interrupt woke it to take it.  Kept, not delivered:
                    # it is pending again when we leave (and callers see
                    # it in pending_stops).
                    self.pending_stops.append((tid, pt.get_siginfo(tid)))
                    pt.cont(tid, 0)
                else:
                    pt.cont(tid, sig)
                pt.interrupt(tid)
                continue
            pt.cont(tid)
            pt.interrupt(tid)

    def _wait(self, tid: int) -> WaitStatus:
        st = waitpid(tid)
        assert st is not None
        if st.exited:
            if tid == self.main_tid:
                self.dead = True
            if tid in self.threads:
                self.threads.remove(tid)
            self.saved.pop(tid, None)
            raise TaskError(f"task {self.pid}: thread {tid} {st.describe()}")
        return st

    # ---- registers and signal state --------------------------------------

    @property
    def leader(self) -> int:
        return self.pid

    def get_regs(self, tid: int | None = None) -> "arch.UserRegs":
        """General purpose registers (with fs_base, gs_base) of a thread."""
        data = pt.get_regset(tid or self.main_tid, pt.NT_PRSTATUS,
                             ctypes.sizeof(arch.UserRegs))
        return arch.UserRegs.from_buffer_copy(data)

    def set_regs(self, regs: "arch.UserRegs", tid: int | None = None) -> None:
        pt.set_regset(tid or self.main_tid, pt.NT_PRSTATUS, bytes(regs))

    def get_fpregs(self, tid: int | None = None) -> "arch.UserFpregs":
        data = pt.get_regset(tid or self.main_tid, pt.NT_PRFPREG,
                             ctypes.sizeof(arch.UserFpregs))
        return arch.UserFpregs.from_buffer_copy(data)

    def set_fpregs(self, fpregs: "arch.UserFpregs",
                   tid: int | None = None) -> None:
        pt.set_regset(tid or self.main_tid, pt.NT_PRFPREG, bytes(fpregs))

    def get_xsave(self, tid: int | None = None) -> bytes:
        """The XSAVE area (standard layout) of a thread; see arch XSave."""
        return pt.get_regset(tid or self.main_tid, pt.NT_X86_XSTATE, XSAVE_BUFFER)

    def set_xsave(self, data: bytes, tid: int | None = None) -> None:
        pt.set_regset(tid or self.main_tid, pt.NT_X86_XSTATE, data)

    def get_sigmask(self, tid: int | None = None) -> int:
        """The blocked mask the thread had when seized (what it really has:
        while we run code inside, all signals are blocked)."""
        return self.saved[tid or self.main_tid].sigmask

    def set_sigmask(self, mask: int, tid: int | None = None) -> None:
        """Change the mask the thread will have after detach."""
        tid = tid or self.main_tid
        pt.set_sigmask(tid, mask)
        self.saved[tid].sigmask = mask

    def pending_signals(self, tid: int | None = None,
                        shared: bool = False) -> list[bytes]:
        """Queued siginfos (128 bytes each) of a thread or, with shared, of
        the whole process; they stay queued."""
        return pt.peek_all_siginfo(tid or self.main_tid, shared)

    def saved_regs(self, tid: int | None = None) -> "arch.UserRegs":
        """The registers the thread had when seized (a copy)."""
        return self.saved[tid or self.main_tid].regs.copy()

    def set_saved_regs(self, regs: "arch.UserRegs", tid: int | None = None) -> None:
        """Registers the thread will get back at detach."""
        self.saved[tid or self.main_tid].regs = regs.copy()

    def rseq_configuration(self, tid: int | None = None) -> pt.RseqConfiguration:
        return pt.get_rseq_configuration(tid or self.main_tid)

    # ---- memory ----------------------------------------------------------

    def read_memory(self, addr: int, size: int) -> bytes:
        return memory.read_remote(self.main_tid, addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Write into writable memory of the task (process_vm_writev)."""
        got = memory.write_remote(self.main_tid, addr, data)
        if got != len(data):
            raise RemoteError(f"task {self.pid}: short write at {addr:#x}")

    def maps(self) -> list[proc.Mapping]:
        return proc.maps(self.pid, self.main_tid)

    # ---- remote syscalls -------------------------------------------------

    def syscall_ip(self) -> int:
        """Address of a `syscall` instruction in the task: found in the vdso
        (or another executable mapping), so nothing has to be written."""
        if self._syscall_ip is not None:
            return self._syscall_ip
        mappings = [m for m in self.maps() if m.executable and m.path != "[vsyscall]"]
        mappings.sort(key=lambda m: m.path != "[vdso]")
        for m in mappings:
            size = min(m.end - m.start, 1 << 20)
            try:
                code = self.read_memory(m.start, size)
            except OSError:
                continue
            at = code.find(arch.SYSCALL_INSN)
            if at >= 0:
                self._syscall_ip = m.start + at
                return self._syscall_ip
        raise RemoteError(f"task {self.pid}: no syscall instruction in its "
                          "executable mappings")

    def remote_syscall(self, nr: int | str, *args: int,
                       tid: int | None = None) -> int:
        """Run one syscall inside the task (thread tid, default the leader)
        and return its raw result (negative errno on failure)."""
        tid = tid or self.main_tid
        number = arch.syscalls.nr(nr) if isinstance(nr, str) else nr
        running = [p for p in self._parasites if p.running]
        if running and tid == self.main_tid:
            with running[0].suspended():
                return self._remote_syscall(number, args, tid)
        return self._remote_syscall(number, args, tid)

    def _remote_syscall(self, number: int, args: tuple[int, ...],
                        tid: int) -> int:
        regs = self.saved[tid].regs.copy()
        regs.set_syscall(number, tuple(args), self.syscall_ip())
        try:
            result = self.run_regs(regs, tid=tid)
        finally:
            # The thread's own registers and mask back at once, not only at
            # detach: if the host dies now (SIGKILL), the kernel lets the
            # thread go on from here, and it must not go on from our
            # made-up registers.
            if not self._detached and tid in self.threads:
                self._put_back(tid, self.saved[tid])
        return result.syscall_ret

    def remote_syscall_checked(self, nr: int | str, *args: int,
                               tid: int | None = None) -> int:
        """remote_syscall that raises RemoteError on a negative errno."""
        ret = self.remote_syscall(nr, *args, tid=tid)
        if -4096 < ret < 0:
            name = nr if isinstance(nr, str) else arch.syscalls.name(nr)
            raise RemoteError(f"task {self.pid}: remote {name}: "
                              f"{os.strerror(-ret)}")
        return ret

    def run_regs(self, regs: "arch.UserRegs",
                 tid: int | None = None) -> "arch.UserRegs":
        """Resume thread tid with `regs` and all signals blocked, until the
        syscall at the registers' ip has run; return the registers then."""
        tid = tid or self.main_tid
        pt.set_sigmask(tid, ALL_SIGNALS_BLOCKED)
        self.set_regs(regs, tid)
        stops = 0
        while stops < 2:  # syscall entry, then exit
            pt.syscall_step(tid)
            try:
                st = self._wait(tid)
            except KeyboardInterrupt:
                # The call may block for good (read on an empty pipe): stop
                # the thread so detach can still put its registers back;
                # left running, it would return into our made-up registers.
                self._stop_running_thread(tid)
                raise
            if st.is_syscall_stop:
                stops += 1
            elif st.is_signal_delivery:
                # Only SIGSTOP/SIGKILL-class signals get here (all else is
                # blocked): keep it, to send again before we detach.
                self._keep_signal(tid, st.stop_signal)
        return self.get_regs(tid)

    def _keep_signal(self, tid: int, sig: int) -> None:
        """A signal the thread took while we ran code in it: queued again
        at detach; a stop signal with its siginfo (pending_stops), so that
        it goes back to the queue it came from."""
        if sig in STOP_SIGNALS:
            try:
                self.pending_stops.append((tid, pt.get_siginfo(tid)))
                return
            except OSError:
                pass
        self._intercepted.append((tid, sig))

    def _stop_running_thread(self, tid: int) -> None:
        """Bring a thread we resumed back into a ptrace stop (a blocking
        syscall is interrupted; the saved registers restart the task's own)."""
        try:
            pt.interrupt(tid)
            while True:
                st = self._wait(tid)
                if st.is_event_stop or st.is_syscall_stop:
                    return
                if st.is_signal_delivery:
                    self._keep_signal(tid, st.stop_signal)
                pt.syscall_step(tid)
                pt.interrupt(tid)
        except (OSError, TaskError):
            pass  # gone: nothing left to restore

    def remote_mmap(self, addr: int, length: int, prot: int, flags: int,
                    fd: int = -1, offset: int = 0) -> int:
        return self.remote_syscall_checked("mmap", addr, length, prot, flags,
                                           fd, offset)

    def remote_munmap(self, addr: int, length: int) -> None:
        self.remote_syscall_checked("munmap", addr, length)

    # ---- parasite --------------------------------------------------------

    def infect(self, blob, **kwargs):
        """Map `blob` (compel.blob.Blob or path) into the task and start it;
        returns a compel.infect.Parasite (a context manager that cures)."""
        from compel.infect import Parasite

        parasite = Parasite.start(self, blob, **kwargs)
        self._parasites.append(parasite)
        return parasite

    # ---- leaving ---------------------------------------------------------

    def detach(self, leave_stopped: bool = False) -> None:
        """Cure any parasite, restore registers and masks, let the task go.

        leave_stopped leaves it in a group stop (SIGSTOP), as criu -s does.
        """
        if self._detached:
            return
        try:
            for parasite in reversed(self._parasites):
                parasite.cure()
        finally:
            self._parasites.clear()
            self._restore_and_release(leave_stopped)

    def kill(self) -> None:
        """SIGKILL the task and reap nothing (our parent may)."""
        os.kill(self.pid, signal.SIGKILL)
        for tid in list(self.threads):
            try:
                pt.detach(tid)
            except OSError:
                pass
        self._detached = True

    def _put_back(self, tid: int, state: ThreadState) -> None:
        self.set_regs(state.regs, tid)
        pt.set_sigmask(tid, state.sigmask)

    def _restore_and_release(self, leave_stopped: bool) -> None:
        errors: list[str] = []
        for tid in list(self.threads):
            state = self.saved.get(tid)
            if state is None:
                continue
            try:
                self._put_back(tid, state)
            except ProcessLookupError:
                # Not in a ptrace stop: a signal to us (Ctrl-C) came while
                # it ran a remote syscall, outside the wait that stops it
                # again.  Stop it now, then put its state back.
                self._stop_running_thread(tid)
                try:
                    self._put_back(tid, state)
                except OSError as e:
                    if not self._gone():
                        errors.append(f"thread {tid}: {e}")
            except OSError as e:
                if not self._gone():
                    errors.append(f"thread {tid}: {e}")
        for tid, info in self.pending_stops:
            _requeue_stop(self.pid, tid, info)
        for tid, sig in self._intercepted:
            _requeue_signal(self.pid, tid, sig)
        if leave_stopped and not self._gone():
            os.kill(self.pid, signal.SIGSTOP)
        self._release_all()
        if leave_stopped or self.was_stopped:
            self._wait_group_stop()
        if errors:
            raise TaskError(f"task {self.pid}: restoring state failed: "
                            + "; ".join(errors))

    def _gone(self) -> bool:
        """True once the task has died (killed while we held it)."""
        if not self.dead:
            try:
                self.dead = proc.state(self.main_tid) in ("Z", "X")
            except TaskError:
                self.dead = True
        return self.dead

    def _wait_group_stop(self) -> None:
        """After detach the threads of a stopped task pass through R on
        their way back into the group stop: return once all are there (so
        callers see 'T'), or after 2 s if something else woke them."""
        for _ in range(2000):
            try:
                states = {proc.state(tid) if os.path.exists(
                    f"/proc/{self.pid}/task/{tid}") else "X"
                    for tid in proc.threads(self.pid)}
            except (TaskError, FileNotFoundError):
                return
            if states <= {"T", "Z", "X"}:
                return
            time.sleep(0.001)

    def _release_all(self) -> None:
        for tid in list(self.threads):
            try:
                pt.detach(tid)
            except ProcessLookupError:
                pass
            except OSError as e:
                if e.errno != errno.ESRCH:
                    raise
        self.threads.clear()
        self._detached = True

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()


STOP_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN,
                signal.SIGTTOU)
SI_USER = 0


def _requeue_stop(pid: int, tid: int, info: bytes) -> None:
    """A stop signal taken at seize, pending again: to the process if it
    was sent to it (kill), else to its thread (tgkill)."""
    sig = int.from_bytes(info[:4], "little")
    code = int.from_bytes(info[8:12], "little", signed=True)
    try:
        if code == SI_USER:
            os.kill(pid, sig)
        else:
            pidfd.tgkill(pid, tid, sig)
    except OSError:
        pass


def _requeue_signal(pid: int, tid: int, sig: int) -> None:
    """Queue `sig` to thread tid again (after we swallowed its stop)."""
    try:
        pidfd.tgkill(pid, tid, sig)
    except OSError:
        pass


def seize(pid: int) -> Task:
    """Freeze process `pid` and all its threads under ptrace.

    Raises NoSuchTaskError, ZombieTaskError, AlreadyTracedError,
    NotPermittedError (all TaskError): the task is then left as it was.
    """
    task = Task(pid)
    task._seize()
    return task
