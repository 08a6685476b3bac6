"""waitpid(2) with __WALL, and decoding of ptrace stop statuses."""

from __future__ import annotations

import dataclasses
import os
import signal

from compel.native import ptrace as pt

__WALL = 0x40000000
__WNOTHREAD = 0x20000000
WNOHANG = os.WNOHANG


@dataclasses.dataclass(frozen=True)
class WaitStatus:
    """A decoded wait status."""

    pid: int
    status: int

    @property
    def exited(self) -> bool:
        return os.WIFEXITED(self.status) or os.WIFSIGNALED(self.status)

    @property
    def stopped(self) -> bool:
        return os.WIFSTOPPED(self.status)

    @property
    def stop_signal(self) -> int:
        """The signal of a stop, without the 0x80 syscall-stop bit."""
        return os.WSTOPSIG(self.status) & 0x7F if self.stopped else 0

    @property
    def event(self) -> int:
        """PTRACE_EVENT_* of the stop, 0 for a plain signal stop."""
        return (self.status >> 16) & 0xFF if self.stopped else 0

    @property
    def is_syscall_stop(self) -> bool:
        """Syscall entry/exit stop (needs PTRACE_O_TRACESYSGOOD)."""
        return self.stopped and os.WSTOPSIG(self.status) == (signal.SIGTRAP | 0x80)

    @property
    def is_event_stop(self) -> bool:
        """PTRACE_EVENT_STOP: interrupt, group-stop or listen of a seized task."""
        return self.event == pt.PTRACE_EVENT_STOP

    @property
    def is_group_stop(self) -> bool:
        return self.is_event_stop and self.stop_signal in (
            signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)

    @property
    def is_signal_delivery(self) -> bool:
        """A signal about to be delivered (the tracer may pass or drop it)."""
        return self.stopped and self.event == 0 and not self.is_syscall_stop

    def describe(self) -> str:
        if os.WIFEXITED(self.status):
            return f"exited with status {os.WEXITSTATUS(self.status)}"
        if os.WIFSIGNALED(self.status):
            return f"killed by {signal.Signals(os.WTERMSIG(self.status)).name}"
        if self.is_syscall_stop:
            return "syscall stop"
        if self.event:
            return f"ptrace event {self.event} stop (signal {self.stop_signal})"
        return f"stopped by signal {self.stop_signal}"


def waitpid(pid: int, flags: int = 0) -> WaitStatus | None:
    """waitpid(pid, __WALL|flags), retried on EINTR; None if WNOHANG and
    nothing changed."""
    got, status = os.waitpid(pid, __WALL | flags)
    if got == 0:
        return None
    return WaitStatus(got, status)


def kill_and_reap(pid: int) -> None:
    """SIGKILL a child of ours and collect it; quiet if it is already gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
