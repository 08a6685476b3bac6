"""compel.seize and remote syscalls on real victims: the task goes on
unaffected, with the same maps, registers, signal mask and pending signals."""

from __future__ import annotations

import os
import signal

import pytest

import compel
from compel import proc
from compel.native import memory
from compel.stdparasite import StdParasite
from compel.test.victims import Victim, wait_stopped

pytestmark = pytest.mark.root


def _snapshot(task: compel.Task) -> dict:
    return {
        "regs": {tid: bytes(task.get_regs(tid)) for tid in task.threads},
        "sigmask": {tid: task.get_sigmask(tid) for tid in task.threads},
        "pending": [task.pending_signals(task.pid, shared=False),
                    task.pending_signals(task.pid, shared=True)],
        "maps": task.maps(),
    }


def test_remote_getpid_on_running_task():
    with Victim("spin") as v:
        with compel.seize(v.pid) as task:
            assert task.threads == [v.pid]
            assert task.remote_syscall("getpid") == v.pid
            assert proc.state(v.pid) == "t"
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_remote_mmap_write_munmap():
    with Victim("pipe") as v:
        v.wait_blocked()
        maps_before = proc.maps(v.pid)
        with compel.seize(v.pid) as task:
            addr = task.remote_mmap(0, 2 * memory.PAGE_SIZE,
                                    memory.PROT_READ | memory.PROT_WRITE,
                                    memory.MAP_PRIVATE | memory.MAP_ANONYMOUS)
            assert any(m.start == addr for m in proc.maps(v.pid))
            task.write_memory(addr, b"inside the victim")
            assert task.read_memory(addr, 17) == b"inside the victim"
            task.remote_munmap(addr, 2 * memory.PAGE_SIZE)
            assert proc.maps(v.pid) == maps_before
        assert proc.maps(v.pid) == maps_before
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_remote_write_into_pipe():
    """The victim's stdout is our pipe: make it write a line into it."""
    with Victim("pipe") as v:
        v.wait_blocked()
        message = b"written by a remote syscall\n"
        with compel.seize(v.pid) as task:
            addr = task.remote_mmap(0, memory.PAGE_SIZE,
                                    memory.PROT_READ | memory.PROT_WRITE,
                                    memory.MAP_PRIVATE | memory.MAP_ANONYMOUS)
            task.write_memory(addr, message)
            assert task.remote_syscall("write", 1, addr, len(message)) == len(message)
            assert task.remote_syscall("write", 12345, addr, 1) == -9  # EBADF
            task.remote_munmap(addr, memory.PAGE_SIZE)
        assert v.readline() == message.decode()
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_state_identical_after_cure():
    """Registers, sigmask, pending queues and maps, compared by seizing
    again after a full infect/cure cycle (the victim blocks again in the
    same read, so even its registers are the same)."""
    with Victim("pending") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task:
            before = _snapshot(task)
            assert len(before["pending"][0]) == 1  # SIGUSR1, thread queue
            assert len(before["pending"][1]) == 1  # SIGUSR2, process queue
            with StdParasite.infect(task) as p:
                p.get_sigactions()
                assert any("compel-parasite" in m.path for m in proc.maps(v.pid))
                assert task.remote_syscall("getpid") == v.pid
        v.wait_blocked()
        with compel.seize(v.pid) as task:
            after = _snapshot(task)
        assert after == before
        masks = proc.signal_masks(v.pid)
        assert masks["SigBlk"] == before["sigmask"][v.pid]
        assert masks["SigPnd"] == 1 << (signal.SIGUSR1 - 1)
        assert masks["ShdPnd"] == 1 << (signal.SIGUSR2 - 1)
        result, checks, status = v.finish()
        assert result == "result pending ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_multithreaded_victim():
    """All threads freeze; only the leader runs the parasite; the other
    threads' registers are untouched and they go on afterwards."""
    with Victim("threads") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task:
            assert len(task.threads) == 4
            assert sorted(task.threads) == sorted(proc.threads(v.pid))
            others = [t for t in task.threads if t != v.pid]
            for tid in task.threads:
                assert proc.status(tid)["State"].startswith("t")
            regs = {tid: task.get_regs(tid) for tid in others}
            xsave = {tid: task.get_xsave(tid) for tid in others}
            with StdParasite.infect(task) as p:
                a, n = v.buf
                fd = os.open("/dev/null", os.O_WRONLY)
                try:
                    assert p.dump_pages([(a, n)], fd) == n
                finally:
                    os.close(fd)
                for tid in others:
                    assert proc.status(tid)["State"].startswith("t")
            for tid in others:
                assert task.get_regs(tid) == regs[tid]
                assert task.get_xsave(tid) == xsave[tid]
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_stopped_task_stays_stopped():
    with Victim("pipe") as v:
        v.wait_blocked()
        os.kill(v.pid, signal.SIGSTOP)
        while proc.state(v.pid) != "T":
            os.sched_yield()
        with compel.seize(v.pid) as task:
            assert task.was_stopped
            assert task.remote_syscall("getpid") == v.pid
            with StdParasite.infect(task) as p:
                p.get_misc()
        assert proc.state(v.pid) == "T"
        os.kill(v.pid, signal.SIGCONT)
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_leave_stopped():
    with Victim("pipe") as v:
        v.wait_blocked()
        task = compel.seize(v.pid)
        task.detach(leave_stopped=True)
        wait_stopped(v.pid)
        os.kill(v.pid, signal.SIGCONT)
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_registers_and_xsave_readable():
    with Victim("spin") as v:
        with compel.seize(v.pid) as task:
            regs = task.get_regs()
            assert regs.fs_base != 0  # glibc's TLS
            xs = compel.arch_xsave(task.get_xsave())
            assert xs.xfeatures & 0b11 == 0b11  # x87 and SSE always
            assert len(xs.data) >= 576
            fp = task.get_fpregs()
            assert bytes(fp)[:160] == xs.legacy[:160]
            task.set_fpregs(fp)
            task.set_xsave(xs.data)
            assert task.get_xsave() == xs.data
            rseq = task.rseq_configuration()
            assert rseq.rseq_abi_size >= 32  # glibc registers rseq
        result, checks, status = v.finish()
        assert checks == ["check ok"]


def test_stopped_multithreaded_task_stays_stopped():
    with Victim("threads") as v:
        v.wait_blocked()
        os.kill(v.pid, signal.SIGSTOP)
        tids = proc.threads(v.pid)
        while not all(proc.state(t) == "T" for t in tids):
            os.sched_yield()
        with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
            p.get_misc()
        assert [proc.state(t) for t in tids] == ["T"] * len(tids)
        os.kill(v.pid, signal.SIGCONT)
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_zombie_leader_with_live_thread():
    """The main thread has exited, another lives on: compel works through
    the live thread (a zombie leader cannot be traced)."""
    with Victim("zleader") as v:
        v.wait_blocked()
        assert proc.state(v.pid) == "Z"
        maps = proc.maps(v.pid, proc.threads(v.pid)[-1])
        with compel.seize(v.pid) as task:
            assert task.main_tid != v.pid and task.threads == [task.main_tid]
            assert task.remote_syscall("gettid") == task.main_tid
            with StdParasite.infect(task) as p:
                assert p.get_sigactions()[signal.SIGUSR1 - 1].handler == v.handler
        assert proc.maps(v.pid, task.main_tid) == maps
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0
