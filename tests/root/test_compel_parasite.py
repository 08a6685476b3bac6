"""Parasite commands on real victims, and cure leaving no trace."""

from __future__ import annotations

import os
import resource
import signal

import pytest

import compel
from compel import proc
from compel.blob import Blob
from compel.build import build
from compel.errors import ParasiteError
from compel.infect import USER_CMD_BASE
from compel.stdparasite import StdParasite, blob_path
from compel.test.victims import HERE, Victim, wait_stopped

pytestmark = pytest.mark.root

SA_RESTART = 0x10000000
SA_RESTORER = 0x04000000


def _user_cmd(n: int) -> int:
    return USER_CMD_BASE + n


def _pattern(length: int) -> bytes:
    """The victim's buffer contents (victim.c: pattern())."""
    return bytes(((i * 7 + (i >> 12) * 13) & 0xFF) for i in range(length))


def test_sigactions():
    with Victim("pipe") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
            acts = p.get_sigactions()
        usr1 = acts[signal.SIGUSR1 - 1]
        assert usr1.handler == v.handler
        assert usr1.flags & SA_RESTART and usr1.flags & SA_RESTORER
        assert usr1.mask == (1 << (signal.SIGUSR2 - 1)) | (1 << (signal.SIGTERM - 1))
        usr2 = acts[signal.SIGUSR2 - 1]
        assert usr2.handler not in (0, 1) and not usr2.flags & SA_RESTART
        assert acts[signal.SIGPIPE - 1].handler == 1  # SIG_IGN
        assert acts[signal.SIGINT - 1].handler == 0  # SIG_DFL
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_cure_leaves_no_fd_in_the_task():
    """The parasite closes its control socket before we stop it at cure:
    stopped a moment too early, the task kept it as an fd of its own (a
    race: about one cure in ten, so several rounds)."""
    with Victim("pipe") as v:
        v.wait_blocked()
        fds = sorted(os.listdir(f"/proc/{v.pid}/fd"))
        for _ in range(20):
            with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
                p.get_sigactions()
            assert sorted(os.listdir(f"/proc/{v.pid}/fd")) == fds
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_dump_memory_through_pipe(tmp_path):
    with Victim("pipe") as v:
        v.wait_blocked()
        addr, length = v.buf
        out = tmp_path / "pages"
        fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
                # two ranges, the second one first: order is kept
                half = length // 2
                n = p.dump_pages([(addr + half, half), (addr, half)], fd)
                assert n == length
                direct = task.read_memory(addr, 4096)
        finally:
            os.close(fd)
        data = out.read_bytes()
        expected = _pattern(length)
        assert data == expected[length // 2:] + expected[:length // 2]
        assert direct == expected[:4096]
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_creds_misc_altstack_itimers():
    with Victim("pipe") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
            creds = p.get_creds()
            misc = p.get_misc()
            stack = p.get_sigaltstack()
            timers = p.get_itimers()
        st = proc.status(v.pid)
        assert [creds.uid, creds.euid, creds.suid, creds.fsuid] == \
            [int(x) for x in st["Uid"].split()]
        assert creds.cap_eff == int(st["CapEff"], 16)
        assert creds.cap_bnd == int(st["CapBnd"], 16)
        assert misc.umask == int(st["Umask"], 8)
        soft, hard = resource.prlimit(v.pid, resource.RLIMIT_NOFILE)
        nofile = misc.rlimits[resource.RLIMIT_NOFILE]
        assert (nofile.rlim_cur, nofile.rlim_max) == (soft, hard)
        assert stack.ss_flags == 2  # SS_DISABLE: the victim has none
        assert all(t.it_value.tv_sec == 0 and t.it_value.tv_usec == 0
                   for t in timers)
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_parasite_crash_is_cured(tmp_path):
    blob = build([HERE / "parasites" / "crash.c"], tmp_path / "crash.blob",
                 parasite=True)
    with Victim("pipe") as v:
        v.wait_blocked()
        maps = proc.maps(v.pid)
        with compel.seize(v.pid) as task:
            with task.infect(blob) as parasite:
                assert parasite.call(_user_cmd(1))[0] == 42
                with pytest.raises(ParasiteError, match="SIGSEGV|signal 11"):
                    parasite.call(_user_cmd(0))
            assert proc.maps(v.pid) == maps
        assert proc.maps(v.pid) == maps
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_infect_twice_and_blob_from_path():
    with Victim("spin") as v:
        with compel.seize(v.pid) as task:
            for _ in range(2):
                with task.infect(blob_path()) as parasite:
                    parasite.ping()
                    ret, fds = parasite.call(_user_cmd(5))  # GET_MISC
                    assert ret == 0 and fds == []
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_detach_without_with_cures_parasite():
    with Victim("pipe") as v:
        v.wait_blocked()
        maps = proc.maps(v.pid)
        task = compel.seize(v.pid)
        parasite = task.infect(Blob.load(blob_path()))
        parasite.ping()
        task.detach()
        assert proc.maps(v.pid) == maps
        assert proc.tracer(v.pid) == 0
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_task_killed_while_infected():
    """A task killed under us: detach cleans up and does not complain."""
    with Victim("pipe") as v:
        v.wait_blocked()
        task = compel.seize(v.pid)
        parasite = StdParasite(task.infect(blob_path()))
        parasite.get_misc()
        os.kill(v.pid, signal.SIGKILL)
        with pytest.raises(compel.CompelError):
            parasite.get_misc()
        task.detach()
        assert task.dead
    assert v.proc.returncode in (-signal.SIGKILL, 0)  # 0: we reaped it as tracer


def test_sigstop_while_infected_is_kept():
    """SIGSTOP cannot be blocked: it reaches the thread running the
    parasite; we hold it back and the task stops once detached."""
    with Victim("pipe") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
            os.kill(v.pid, signal.SIGSTOP)
            p.get_misc()
            p.get_sigactions()
            assert task.remote_syscall("getpid") == v.pid
        wait_stopped(v.pid)
        os.kill(v.pid, signal.SIGCONT)
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_remote_syscall_on_each_thread():
    with Victim("threads") as v:
        v.wait_blocked()
        with compel.seize(v.pid) as task:
            for tid in task.threads:
                assert task.remote_syscall("gettid", tid=tid) == tid
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_cure_while_a_view_of_the_area_is_held():
    with Victim("spin") as v:
        maps = proc.maps(v.pid)
        with compel.seize(v.pid) as task:
            parasite = task.infect(blob_path())
            parasite.call(_user_cmd(5))
            view = parasite.area[:16]  # still referenced during cure
            parasite.cure()
            assert len(view) == 16
        assert proc.maps(v.pid) == maps
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0
