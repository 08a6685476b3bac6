"""Real programs, dumped and restored by hand as a user would (issue:
files and IPC): a shell pipeline with data in flight between its
processes, and a process that keeps writing to a log file deleted while
open.  Each must finish or go on exactly as if nothing had happened."""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import subprocess
import time

from criu_testlib import criu

PATTERN = b"0123456789abcdef\n"
TOTAL = 1_500_000_000


def _expected_digest() -> str:
    h = hashlib.sha256()
    block = PATTERN * (1 << 16)
    left = TOTAL
    while left:
        piece = block[:left]
        h.update(piece)
        left -= len(piece)
    return h.hexdigest()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _wait_for(path: pathlib.Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_shell_pipeline_with_data_in_flight(tmp_path: pathlib.Path) -> None:
    """yes | head -c N | sha256sum, dumped in the middle: the sum after the
    restore is the sum of exactly N bytes (no byte lost or doubled in the
    pipes between the three processes)."""
    out, done = tmp_path / "sum", tmp_path / "done"
    script = (f"yes 0123456789abcdef | head -c {TOTAL} | sha256sum > {out}; "
              f"echo ok > {done}")
    shell = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    pids = [shell.pid]
    try:
        deadline = time.monotonic() + 10
        while len(_children(shell.pid)) < 3:
            assert time.monotonic() < deadline, "the pipeline did not start"
            time.sleep(0.01)
        time.sleep(0.3)                     # data flowing in every pipe
        pids += _children(shell.pid)
        images = tmp_path / "img"
        r = criu("dump", "-t", str(shell.pid), "-D", str(images), "-o",
                 "dump.log", "-v4")
        assert r.returncode == 0, r.stderr
        shell.wait(timeout=30)
        assert not done.exists()            # killed mid-way
        r = criu("restore", "-D", str(images), "-d", "-o", "restore.log",
                 "-v4")
        assert r.returncode == 0, r.stderr
        _wait_for(done, 120)
        assert out.read_text().split()[0] == _expected_digest()
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if shell.returncode is None:
            shell.wait(timeout=30)


LOGGER = r"""
import os, sys, time
log = open(sys.argv[1], "w", buffering=1)
os.unlink(sys.argv[1])
n = 0
while True:
    n += 1
    log.write(f"line {n}\n")
    time.sleep(0.002)
"""


def test_writing_to_a_deleted_log(tmp_path: pathlib.Path) -> None:
    """The log was deleted while open: after the restore the fd is still
    the deleted file, with every line written before the dump, and the
    numbering goes on from where it stopped."""
    import sys
    path = tmp_path / "app.log"
    p = subprocess.Popen([sys.executable, "-c", LOGGER, str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/proc/{p.pid}/fd/3") or \
                "(deleted)" not in os.readlink(f"/proc/{p.pid}/fd/3"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)
        images = tmp_path / "img"
        r = criu("dump", "-t", str(p.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        p.wait(timeout=30)
        r = criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        assert os.readlink(f"/proc/{p.pid}/fd/3") == f"{path} (deleted)"
        assert not path.exists()
        time.sleep(0.3)
        with open(f"/proc/{p.pid}/fd/3") as f:
            lines = f.read().splitlines()
        numbers = [int(line.split()[1]) for line in lines[:-1]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(numbers) > 100
    finally:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if p.returncode is None:
            p.wait(timeout=30)


def test_http_server(tmp_path: pathlib.Path) -> None:
    """python3 -m http.server on the loopback: after the restore it still
    listens on its port and serves a file."""
    import socket
    import sys
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "hello.txt").write_text("hello from before the dump\n")
    p = subprocess.Popen([sys.executable, "-m", "http.server", "--bind",
                          "127.0.0.1", str(port)], cwd=tmp_path,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/hello.txt"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.read() == b"hello from before the dump\n"
                break
            except OSError:
                assert time.monotonic() < deadline, "http.server not up"
                time.sleep(0.05)
        images = tmp_path / "img"
        r = criu("dump", "-t", str(p.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        p.wait(timeout=30)
        r = criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == b"hello from before the dump\n"
    finally:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if p.returncode is None:
            p.wait(timeout=30)


EPOLL_LOOP = r"""
import ctypes, os, select, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
tfd = libc.timerfd_create(1, 0o4000)            # CLOCK_MONOTONIC, NONBLOCK
spec = struct.pack("qqqq", 0, 5_000_000, 0, 5_000_000)   # every 5 ms
assert libc.timerfd_settime(tfd, 0, spec, None) == 0
a, b = socket.socketpair()
ep = select.epoll()
ep.register(tfd, select.EPOLLIN)
ep.register(b.fileno(), select.EPOLLIN)
ticks = got = 0
while True:
    for fd, _ in ep.poll():
        if fd == tfd:
            ticks += struct.unpack("Q", os.read(tfd, 8))[0]
            a.send(struct.pack("Q", ticks))
        else:
            got = struct.unpack("Q", b.recv(8))[0]
            tmp = sys.argv[1] + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(got))
            os.rename(tmp, sys.argv[1])
"""


def test_epoll_loop_over_socketpair_and_timerfd(tmp_path: pathlib.Path) -> None:
    """An event loop: epoll over a timerfd and one end of a unix socket
    pair, the timer's ticks sent through the pair: after the restore the
    loop goes on counting from where it was."""
    import sys
    counter = tmp_path / "n"
    p = subprocess.Popen([sys.executable, "-c", EPOLL_LOOP, str(counter)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def count() -> int:
        try:
            return int(counter.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0
    try:
        deadline = time.monotonic() + 20
        while count() < 20:
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        images = tmp_path / "img"
        r = criu("dump", "-t", str(p.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        p.wait(timeout=30)
        before = count()
        r = criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 20
        while count() < before + 20:
            assert time.monotonic() < deadline, "the loop does not go on"
            time.sleep(0.01)
    finally:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if p.returncode is None:
            p.wait(timeout=30)
