"""compel on tasks with a different network namespace or a seccomp filter."""

from __future__ import annotations

import os
import shutil

import pytest

import compel
from compel import proc
from compel.native import ns
from compel.stdparasite import StdParasite
from compel.test.victims import Victim

pytestmark = pytest.mark.root


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_parasite_in_other_network_namespace():
    """The control socket is abstract, hence per network namespace: it is
    made in the task's namespace."""
    with Victim("pipe", wrapper=("unshare", "--net")) as v:
        v.wait_blocked()
        assert not ns.same_namespace(v.pid, "net")
        with compel.seize(v.pid) as task, StdParasite.infect(task) as p:
            acts = p.get_sigactions()
        assert acts[9].handler == v.handler  # SIGUSR1
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_seccomp_filter_is_bypassed_for_our_syscalls():
    """The victim's filter kills it on getppid(); ours runs anyway."""
    with Victim("seccomp") as v:
        v.wait_blocked()
        assert proc.status(v.pid)["Seccomp"] == "2"
        with compel.seize(v.pid) as task:
            assert task.remote_syscall("getppid") == os.getpid()
            with StdParasite.infect(task) as p:
                p.get_misc()
        result, checks, status = v.finish()
        assert result == "result seccomp ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0
