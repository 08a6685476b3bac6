"""Ptys in the dumped tree: what dump refuses (in one line, the tree left
running and untraced) and what CRIU's crit reads of the images.  The
round trips themselves are zdtm's pty00, pty01, pty03 and tty00."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from criu_testlib import Victim, criu, one_line


def test_controlling_tty_outside_the_tree(tmp_path: pathlib.Path) -> None:
    """A session leader whose controlling terminal is a pty whose master
    stays here: restore could not give it back, so dump refuses (unless
    --shell-job says it is the caller's terminal)."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    # Opened without O_NOCTTY by a session leader: its controlling
    # terminal; the fd is closed again, the terminal stays.
    v = Victim(tmp_path, extra=f"import os\nos.close(os.open({name!r}, "
                                "os.O_RDWR))\n")
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"task {v.pid}: its controlling terminal {name} is outside " \
            "the dumped tree; use --shell-job" in line, line
        v.assert_running_untraced()
    finally:
        v.kill()
        os.close(master)
        os.close(slave)


SESSION = r"""
import os, sys, time
m = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
import fcntl, ctypes
fcntl.ioctl(m, 0x40045431, ctypes.c_int(0))          # TIOCSPTLCK: unlock
n = ctypes.c_uint(); fcntl.ioctl(m, 0x80045430, n)    # TIOCGPTN
s = os.open(f"/dev/pts/{n.value}", os.O_RDWR)          # our ctty now
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    while True:
        time.sleep(1)
print(pid, flush=True)
os.waitpid(pid, 0)
"""


def test_session_leader_outside_the_tree(tmp_path: pathlib.Path) -> None:
    """The pty (both sides in the tree) controls the session of a leader
    that is not dumped: no task could take it back as its terminal."""
    leader = subprocess.Popen([sys.executable, "-c", SESSION],
                              stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    child = 0
    try:
        assert leader.stdout is not None
        child = int(leader.stdout.readline())
        r = criu("dump", "-t", str(child), "-D", str(tmp_path / "img"),
                 "-j")
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"is the controlling terminal of session {leader.pid}, " \
            "whose leader is not in the dumped tree" in line, line
        assert f"task {child}: fd " in line
        with open(f"/proc/{child}/status") as f:
            status = f.read()
        assert "TracerPid:\t0" in status and "State:\tS" in status
    finally:
        if child:
            os.kill(child, 9)
        leader.kill()
        leader.wait(timeout=30)
        leader.stdout.close()  # type: ignore[union-attr]


def test_crit_reads_a_pty_pair(tmp_path: pathlib.Path) -> None:
    """tty-info.img of a pty pair as CRIU's crit (3.17) decodes it: one
    entry per side under CRIU's ids (2N+1 master, 2N slave)."""
    if not os.path.exists("/usr/bin/crit"):
        pytest.skip("CRIU's crit is not installed (scripts/install-deps.sh)")
    v = Victim(tmp_path, extra="import os\nm, s = os.openpty()\n")
    images = tmp_path / "img"
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
        v.assert_running_untraced()
        out = subprocess.run(["/usr/bin/crit", "decode", "-i",
                              str(images / "tty-info.img")],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        entries = json.loads(out.stdout)["entries"]
        by_id = {e["id"]: e for e in entries}
        (index,) = {e["pty"]["index"] for e in entries}
        assert sorted(by_id) == [2 * index, 2 * index + 1]
        assert all(e["type"] == "PTY" and "termios" in e and
                   "termios_locked" in e and "winsize" in e
                   for e in entries)
        assert by_id[2 * index + 1]["rdev"] == os.makedev(5, 2)
    finally:
        v.kill()


SHARED_DEV_TTY = r"""
import ctypes, fcntl, os, time
m = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(m, 0x40045431, ctypes.c_int(0))          # TIOCSPTLCK: unlock
n = ctypes.c_uint(); fcntl.ioctl(m, 0x80045430, n)    # TIOCGPTN
s = os.open(f"/dev/pts/{n.value}", os.O_RDWR)          # our ctty now
t = os.open("/dev/tty", os.O_RDWR)
if os.fork() == 0:
    while True:
        time.sleep(1)
"""


def test_dev_tty_shared_by_two_tasks(tmp_path: pathlib.Path) -> None:
    """/dev/tty of a pty of the tree, one description held by a session
    leader and its child: restore reopens /dev/tty in the task that holds
    it, which cannot serve both, so dump refuses before the tree dies."""
    v = Victim(tmp_path, extra=SHARED_DEV_TTY)
    try:
        (child,) = _children(v.pid)
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"task {v.pid}: fd " in line and "/dev/tty: one /dev/tty " \
            f"description held by several tasks ({v.pid}, {child}) is not " \
            "supported yet" in line, line
        v.assert_running_untraced()
    finally:
        for pid in _children(v.pid):
            os.kill(pid, 9)
        v.kill()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []
