"""--shell-job: a task whose stdio is a terminal owned by a session
outside the dumped tree (a shell's job)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest

from criu_testlib import COUNTER, CRIU, criu, one_line

SHELL = r"""
import os, subprocess, sys
tty = os.open(sys.argv[1], os.O_RDWR)      # session leader: becomes its ctty
p = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[3]],
                     stdin=tty, stdout=tty, stderr=tty, process_group=0,
                     close_fds=True)
print(p.pid, flush=True)
p.wait()
"""


# The job also holds /dev/tty (its controlling terminal) at fd 9.
JOB = "import os\nos.dup2(os.open('/dev/tty', os.O_RDWR), 9)\n" + COUNTER


# A job of two processes (a shell pipeline's or a forking program's): the
# child shares the terminal fds with its parent.
JOB_WITH_CHILD = ("import os, sys\n"
                  "if os.fork() == 0:\n"
                  "    sys.argv[1] += '.child'\n") + JOB


@pytest.fixture(params=[JOB], ids=["one task"])
def shell_job(request, tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    master, slave = os.openpty()
    tty = os.ttyname(slave)
    shell = subprocess.Popen(
        [sys.executable, "-c", SHELL, tty, request.param,
         str(tmp_path / "n")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True)
    assert shell.stdout is not None
    pid = 0
    try:
        pid = int(shell.stdout.readline())
        deadline = time.monotonic() + 30
        while not (tmp_path / "n").exists():    # the job runs its loop
            assert shell.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        yield pid, tty
    finally:
        for p in (*_children(pid), pid, shell.pid):
            if p <= 0:
                continue
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        shell.wait(timeout=30)
        shell.stdout.close()
        os.close(master)
        os.close(slave)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def test_terminal_needs_shell_job(shell_job, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pid, tty = shell_job
    r = criu("dump", "-t", str(pid), "-D", str(tmp_path / "img"), "-R")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert "--shell-job" in line
    assert os.path.exists(f"/proc/{pid}")


def test_shell_job_dump_images_the_terminal(shell_job, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pid, tty = shell_job
    images = tmp_path / "img"
    r = criu("dump", "-t", str(pid), "-D", str(images), "-R", "-j")
    assert r.returncode == 0, r.stderr
    from criu.imagedir import ImageDir
    with ImageDir(images) as d:
        infos = {i.type: i for i in d.read("tty-info.img")}
        assert sorted(infos) == [1, 4]          # PTY and CTTY (/dev/tty)
        info = infos[1]
        assert info.type == 1 and info.pty.index == int(tty.split("/")[-1])
        assert info.rdev == os.stat(tty).st_rdev
        assert info.sid != pid          # the shell's session, not the job's
        files = {f.id: f for f in d.read("files.img")}
        fds = {e.fd: e for e in d.read("fdinfo-1.img")}
        for fd in (0, 1, 2):
            f = files[fds[fd].id]
            assert f.type == 11 and f.tty.tty_info_id == info.id
            assert files[f.tty.regf_id].reg.name == tty
        ctty = files[fds[9].id]
        assert ctty.type == 11 and files[ctty.tty.regf_id].reg.name == \
            "/dev/tty"
    # crit of CRIU reads what we wrote
    if not os.path.exists("/usr/bin/crit"):
        pytest.skip("CRIU's crit is not installed (scripts/install-deps.sh)")
    out = subprocess.run(["/usr/bin/crit", "decode", "-i",
                          str(images / "tty-info.img")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and '"PTY"' in out.stdout


def test_shell_job_dump_and_restore(shell_job, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pid, tty = shell_job
    images = tmp_path / "img"
    r = criu("dump", "-t", str(pid), "-D", str(images), "-j")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}"):       # killed; its shell reaps it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    counter = tmp_path / "n"
    # criu's own stdin is the terminal the job gets back; its size and
    # modes changed meanwhile: restore puts the dumped ones back
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    from compel.native import files as nfiles
    import termios
    ws = nfiles.get_winsize(fd)
    dumped_ws = (ws.ws_row, ws.ws_col)
    attrs = termios.tcgetattr(fd)
    nfiles.set_winsize(fd, nfiles.Winsize(ws.ws_row + 7, ws.ws_col + 9, 0, 0))
    changed = list(attrs)
    changed[3] = attrs[3] ^ termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, changed)
    try:
        r = subprocess.run([str(CRIU), "restore", "-D", str(images), "-j",
                            "-d", "-o", "restore.log", "-v4"], stdin=fd,
                           capture_output=True, text=True, timeout=120)
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    try:
        ws = nfiles.get_winsize(fd)
        assert (ws.ws_row, ws.ws_col) == dumped_ws
        assert termios.tcgetattr(fd)[3] == attrs[3]
    finally:
        os.close(fd)
    try:
        for n in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{n}") == tty
        # criu restore here has no controlling terminal: /dev/tty becomes
        # criu's terminal, with a warning in the log
        assert os.readlink(f"/proc/{pid}/fd/9") == tty
        assert "/dev/tty" in (images / "restore.log").read_text()
        start = int(counter.read_text() or 0)
        while int(counter.read_text() or 0) <= start:
            assert time.monotonic() < deadline + 60
            time.sleep(0.01)
    finally:
        os.kill(pid, 9)


@pytest.mark.parametrize("shell_job", [JOB_WITH_CHILD], ids=["with a child"],
                         indirect=True)
def test_shell_job_with_a_child(shell_job, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both tasks hold the terminal (one open file description, inherited
    at fork): restore reattaches it once and both share it again."""
    pid, tty = shell_job
    deadline = time.monotonic() + 30
    while not _children(pid) or not (tmp_path / "n.child").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (child,) = _children(pid)
    images = tmp_path / "img"
    r = criu("dump", "-t", str(pid), "-D", str(images), "-j")
    assert r.returncode == 0, r.stderr
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    try:
        r = subprocess.run([str(CRIU), "restore", "-D", str(images), "-j",
                            "-d", "-o", "restore.log", "-v4"], stdin=fd,
                           capture_output=True, text=True, timeout=120)
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    try:
        assert _children(pid) == [child]
        for task in (pid, child):
            for n in (0, 1, 2):
                assert os.readlink(f"/proc/{task}/fd/{n}") == tty
        from compel.native import files as nfiles
        assert nfiles.same_file(pid, 0, child, 0)  # one description again
        for counter in (tmp_path / "n", tmp_path / "n.child"):
            start = int(counter.read_text() or 0)
            while int(counter.read_text() or 0) <= start:
                assert time.monotonic() < deadline + 60
                time.sleep(0.01)
    finally:
        for task in (child, pid):
            os.kill(task, 9)
