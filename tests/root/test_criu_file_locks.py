"""File locks: a tree holding one is refused without --file-locks (and
left running); with it, a lock taken by another process while the tree
was away fails the restore in one line and leaves nothing behind."""

from __future__ import annotations

import fcntl
import os
import pathlib
import subprocess
import time

from criu_testlib import CRIU, Victim, criu, one_line


def _locker(tmp: pathlib.Path) -> Victim:
    path = tmp / "locked"
    return Victim(tmp, extra=(f"import fcntl, os\nlk = os.open({str(path)!r}, "
                              "os.O_RDWR | os.O_CREAT)\n"
                              "fcntl.flock(lk, fcntl.LOCK_EX)\n"))


def test_lock_needs_file_locks_option(tmp_path: pathlib.Path) -> None:
    v = _locker(tmp_path)
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line.startswith("Error (dump/file_locks): "), line
        assert f"task {v.pid}: fd " in line and "FLOCK" in line
        assert "--file-locks" in line
        v.assert_running_untraced()
    finally:
        v.kill()


def test_lock_taken_meanwhile_fails_restore(tmp_path: pathlib.Path) -> None:
    v = _locker(tmp_path)
    images = tmp_path / "img"
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-l")
        assert r.returncode == 0, r.stderr
    finally:
        v.kill()
    # Someone else takes the lock while the tree is in the images.
    other = os.open(tmp_path / "locked", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        r = subprocess.run([str(CRIU), "restore", "-D", str(images), "-d",
                            "-l"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line.startswith("Error (restore/file_locks): "), line
        assert f"task {v.pid}: fd " in line and "FLOCK lock" in line
        time.sleep(0.1)
        assert not os.path.exists(f"/proc/{v.pid}")     # nothing left
    finally:
        os.close(other)


def _leaser(tmp: pathlib.Path) -> Victim:
    path = tmp / "leased"
    path.write_text("lease\n")
    return Victim(tmp, extra=(f"import fcntl, os, signal\n"
                              "signal.signal(signal.SIGIO, signal.SIG_IGN)\n"
                              f"ls = os.open({str(path)!r}, os.O_RDONLY)\n"
                              "fcntl.fcntl(ls, 1024, fcntl.F_WRLCK)\n"))


def test_lease_needs_file_locks_option(tmp_path: pathlib.Path) -> None:
    v = _leaser(tmp_path)
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line.startswith("Error (dump/file_locks): "), line
        assert f"task {v.pid}: fd " in line and "LEASE" in line
        assert "--file-locks" in line
        v.assert_running_untraced()
    finally:
        v.kill()


def test_lease_being_broken_is_refused(tmp_path: pathlib.Path) -> None:
    v = _leaser(tmp_path)
    try:
        # Opening the file for writing starts breaking the write lease
        # (for lease_break_time seconds, the holder ignores SIGIO).
        try:
            fd = os.open(tmp_path / "leased", os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
            raise AssertionError("the lease was not there to break")
        except BlockingIOError:
            pass
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"),
                 "-l")
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line.startswith("Error (dump/file_locks): "), line
        assert f"task {v.pid}: fd " in line
        assert "lease being broken (BREAKING, to UNLCK)" in line, line
        v.assert_running_untraced()
    finally:
        v.kill()


def test_lease_conflicting_open_fails_restore(tmp_path: pathlib.Path) -> None:
    v = _leaser(tmp_path)
    images = tmp_path / "img"
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-l")
        assert r.returncode == 0, r.stderr
    finally:
        v.kill()
    # The file is open elsewhere now: a write lease cannot be taken.
    other = os.open(tmp_path / "leased", os.O_RDWR)
    try:
        r = subprocess.run([str(CRIU), "restore", "-D", str(images), "-d",
                            "-l"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line.startswith("Error (restore/file_locks): "), line
        assert f"task {v.pid}: fd " in line and "LEASE lock" in line
        time.sleep(0.1)
        assert not os.path.exists(f"/proc/{v.pid}")     # nothing left
    finally:
        os.close(other)
