"""Tasks compel cannot work on: one line, exit status 1, task untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import compel
from compel import proc
from compel.test.victims import Victim

pytestmark = pytest.mark.root

VENV_BIN = os.path.join(os.path.dirname(sys.executable))


def _run(cmd: list[str], *, user: str | None = None) -> subprocess.CompletedProcess:
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}",
               "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True)


def _criu_exec(pid: int, *args: str, user: str | None = None):
    return _run([os.path.join(VENV_BIN, "criu"), "exec", "-t", str(pid),
                 *(args or ("getpid",))], user=user)


def _one_line_error(res: subprocess.CompletedProcess, reason: str) -> None:
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert reason in lines[0]
    assert "Traceback" not in res.stderr


def _free_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_criu_exec_getpid_prints_pid_and_task_continues():
    with Victim("spin") as v:
        res = _criu_exec(v.pid)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"Syscall returned {v.pid:x}({v.pid})"
        res = _criu_exec(v.pid, "getppid")
        assert res.stdout.strip().endswith(f"({os.getpid()})")
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_criu_exec_string_and_buffer_arguments(tmp_path):
    with Victim("pipe") as v:
        v.wait_blocked()
        path = tmp_path / "made-by-exec"
        res = _criu_exec(v.pid, "open", f"&{path}", "0102", "0600")
        assert res.returncode == 0, res.stderr
        fd = int(res.stdout.split("(")[1].split(")")[0])
        assert os.readlink(f"/proc/{v.pid}/fd/{fd}") == str(path)
        res = _criu_exec(v.pid, "uname", "@390")
        assert res.returncode == 0, res.stderr
        assert "Argument 0 returns:" in res.stdout and "Linux" in res.stdout
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_no_such_pid():
    pid = _free_pid()
    _one_line_error(_criu_exec(pid), "no such process")
    with pytest.raises(compel.NoSuchTaskError):
        compel.seize(pid)


def test_zombie():
    child = subprocess.Popen(["true"])
    try:
        while proc.state(child.pid) != "Z":
            os.sched_yield()
        _one_line_error(_criu_exec(child.pid), "zombie")
        with pytest.raises(compel.ZombieTaskError):
            compel.seize(child.pid)
        assert proc.state(child.pid) == "Z"
    finally:
        child.wait()


def test_already_traced():
    with Victim("pipe") as v:
        v.wait_blocked()
        tracer = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from compel.native import ptrace as pt; "
             "pt.seize(int(sys.argv[1])); print('seized', flush=True); "
             "sys.stdin.read()", str(v.pid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert tracer.stdout.readline() == "seized\n"
            _one_line_error(_criu_exec(v.pid), f"already traced by {tracer.pid}")
            with pytest.raises(compel.AlreadyTracedError):
                compel.seize(v.pid)
            assert proc.tracer(v.pid) == tracer.pid
        finally:
            tracer.stdin.close()
            tracer.wait()
            tracer.stdout.close()
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0


def test_not_permitted_kernel_thread():
    # kthreadd (PID 2) is a kernel thread: ptrace refuses it even to root.
    assert proc.status(2)["Name"] == "kthreadd"
    _one_line_error(_criu_exec(2), "not permitted")
    with pytest.raises(compel.NotPermittedError):
        compel.seize(2)


def test_not_permitted_other_user():
    with Victim("pipe") as v:
        v.wait_blocked()
        res = _criu_exec(v.pid, user="65534")
        if "Permission denied" in res.stderr and "criu" in res.stderr.split(":")[0]:
            pytest.skip("user nobody cannot run the venv's criu here")
        _one_line_error(res, "not permitted")
        assert proc.tracer(v.pid) == 0
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_unknown_syscall_and_bad_argument():
    with Victim("spin") as v:
        _one_line_error(_criu_exec(v.pid, "no_such_call"), "unknown syscall")
        _one_line_error(_criu_exec(v.pid, "getpid", "12zz"), "bad syscall argument")
        assert proc.tracer(v.pid) == 0
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_compel_command_errors():
    pid = _free_pid()
    res = _run([os.path.join(VENV_BIN, "compel"), "syscall", "-t", str(pid),
                "getpid"])
    _one_line_error(res, "no such process")
    res = _run([os.path.join(VENV_BIN, "compel"), "show", "/nonexistent.blob"])
    _one_line_error(res, "No such file")


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM,
                                   signal.SIGHUP])
def test_criu_exec_interrupted_in_a_blocking_syscall(signo):
    """Ctrl-C (or SIGTERM/SIGHUP) while the remote read blocks: one line,
    status 1, and the task gets its own registers back (its own read goes
    on unharmed)."""
    with Victim("pipe") as v:
        v.wait_blocked()
        exe = subprocess.Popen([os.path.join(VENV_BIN, "criu"), "exec", "-t",
                                str(v.pid), "read", "0", "@16", "16"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        try:
            while True:  # until the remote read(0, buf, 16) sleeps
                assert exe.poll() is None, exe.stderr.read()
                with open(f"/proc/{v.pid}/syscall") as f:
                    fields = f.read().split()
                if (fields[:1] == ["0"] and fields[3] == "0x10"
                        and proc.state(v.pid) == "S"):
                    break
                os.sched_yield()
            exe.send_signal(signo)
            out, err = exe.communicate()
        finally:
            if exe.poll() is None:
                exe.kill()
                exe.wait()
        _one_line_error(subprocess.CompletedProcess(exe.args, exe.returncode,
                                                    out, err), "interrupted")
        assert proc.tracer(v.pid) == 0
        result, checks, status = v.finish()
        assert result == "result pipe ret=3 errno=0 eintr=0"
        assert checks == ["check ok"] and status == 0
