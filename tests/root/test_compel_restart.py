"""Restart semantics: a victim blocked in a syscall continues after
infect+cure exactly as after a plain SIGSTOP/SIGCONT (the kernel's own
stop): the syscall restarts, or fails with EINTR where the kernel does
that after any stop (epoll_wait), never another error."""

from __future__ import annotations

import os
import signal

import pytest

import compel
from compel import proc
from compel.stdparasite import StdParasite
from compel.test.victims import Victim

pytestmark = pytest.mark.root

EXPECTED = {
    "pipe": "result pipe ret=3 errno=0 eintr=0",
    "nanosleep": "result nanosleep ret=0 errno=0 eintr=0",
    "futex": "result futex ret=-1 errno=110 eintr=0",   # ETIMEDOUT, not EINTR
    # errno stays 4 from the EINTR the careful victim retried after
    "epoll": "result epoll ret=1 errno=4 eintr=1",
}


def _kernel_stop(v: Victim) -> None:
    os.kill(v.pid, signal.SIGSTOP)
    while proc.state(v.pid) != "T":
        os.sched_yield()
    os.kill(v.pid, signal.SIGCONT)


def _compel_stop(v: Victim) -> None:
    with compel.seize(v.pid) as task:
        assert task.remote_syscall("getpid") == v.pid
        with StdParasite.infect(task) as p:
            p.get_sigactions()
            assert task.remote_syscall("getppid") == os.getpid()
            p.get_itimers()


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_blocked_syscall_like_kernel_stop(mode):
    with Victim(mode) as control:
        control.wait_blocked()
        _kernel_stop(control)
        kernel_result, checks, _ = control.finish()
    assert kernel_result == EXPECTED[mode]
    with Victim(mode) as v:
        v.wait_blocked()
        _compel_stop(v)
        result, checks, status = v.finish()
    assert result == kernel_result
    assert checks == ["check ok"] and status == 0


def test_spinning_victim_registers_intact():
    with Victim("spin") as v:
        _compel_stop(v)
        _compel_stop(v)
        result, checks, status = v.finish()
        assert result == "result spin ret=0 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def _kernel_stop_with_signal(v: Victim, sig: int) -> None:
    os.kill(v.pid, signal.SIGSTOP)
    while proc.state(v.pid) != "T":
        os.sched_yield()
    os.kill(v.pid, sig)
    os.kill(v.pid, signal.SIGCONT)


def _compel_stop_with_signal(v: Victim, sig: int) -> None:
    with compel.seize(v.pid) as task:
        os.kill(v.pid, sig)  # queued while we hold the task
        with StdParasite.infect(task) as p:
            p.get_sigactions()
        assert task.remote_syscall("getpid") == v.pid


@pytest.mark.parametrize("sig, expected", [
    # SIGUSR1's handler has SA_RESTART: read restarts after the handler
    (signal.SIGUSR1, "result pipe ret=3 errno=0 eintr=0"),
    # SIGUSR2's has not: read fails with EINTR
    (signal.SIGUSR2, "result pipe ret=-1 errno=4 eintr=0"),
])
def test_signal_arriving_while_held(sig, expected):
    with Victim("pipe") as control:
        control.wait_blocked()
        _kernel_stop_with_signal(control, sig)
        kernel_result, _, _ = control.finish()
    assert kernel_result == expected
    with Victim("pipe") as v:
        v.wait_blocked()
        _compel_stop_with_signal(v, sig)
        result, checks, status = v.finish()
    assert result == kernel_result
    assert checks == ["check ok"] and status == 0
