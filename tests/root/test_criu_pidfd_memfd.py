"""pidfd, memfd and io_uring fds on dump: what restore could not bring back
is refused in one line naming the task, the fd and why, the tree left
running untraced; what is dumped is what CRIU's own crit decodes; and a
Python process holding a memfd and pidfds comes back with them."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

from compel.native import memfd as nmemfd
from criu_testlib import Victim, criu, one_line

NR_IO_URING_SETUP = 425     # x86_64 and every arch of the generic table


def _refused(v: Victim, tmp_path: pathlib.Path) -> str:
    r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
    assert r.returncode == 1, r.stderr
    line = one_line(r.stderr)
    assert line.startswith("Error (dump/files): "), line
    v.assert_running_untraced()
    assert not (tmp_path / "img" / "inventory.img").exists()
    return line


def _fd_of(v: Victim, start: str) -> int:
    for name in os.listdir(f"/proc/{v.pid}/fd"):
        if os.readlink(f"/proc/{v.pid}/fd/{name}").startswith(start):
            return int(name)
    raise AssertionError(f"victim {v.pid} holds no {start}")


def test_io_uring_is_refused_by_name(tmp_path: pathlib.Path) -> None:
    with open("/proc/sys/kernel/io_uring_disabled") as f:
        if f.read().strip() == "2":
            pytest.skip("io_uring is disabled on this host")
    v = Victim(tmp_path, extra=(
        "import ctypes\n"
        "_p = ctypes.create_string_buffer(120)\n"
        f"_ring = ctypes.CDLL(None, use_errno=True).syscall("
        f"{NR_IO_URING_SETUP}, 4, _p)\n"
        "assert _ring >= 0, ctypes.get_errno()\n"))
    try:
        fd = _fd_of(v, "anon_inode:[io_uring]")
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {fd}: anon_inode:[io_uring]: io_uring " \
            "is not supported yet" in line, line
    finally:
        v.kill()


def test_pidfd_of_a_process_outside_the_tree(tmp_path: pathlib.Path) -> None:
    """The victim holds a pidfd of its parent (this test): restore could
    not make it refer to that process."""
    v = Victim(tmp_path, extra="import os\n"
               "_pfd = os.pidfd_open(os.getppid())\n")
    try:
        fd = _fd_of(v, "anon_inode:[pidfd]")
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {fd}: pidfd of process {os.getpid()}, " \
            "which is outside the dumped tree" in line, line
    finally:
        v.kill()


def test_hugetlb_memfd_is_refused(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path, extra="import os\n"
               "try:\n"
               "    _m = os.memfd_create('huge', os.MFD_HUGETLB)\n"
               "except OSError:\n"
               "    _m = None\n")
    try:
        try:
            fd = _fd_of(v, "/memfd:huge")
        except AssertionError:
            pytest.skip("no hugetlb memfds on this host")
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {fd}: /memfd:huge (deleted): a memfd " \
            "outside shmem (MFD_HUGETLB) is not supported yet" in line, line
    finally:
        v.kill()


HOLDER = """
import os, select
_m = os.memfd_create('holder', os.MFD_ALLOW_SEALING)
os.write(_m, b'kept across a restore' * 1000)
os.lseek(_m, 77, os.SEEK_SET)
import fcntl
fcntl.fcntl(_m, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE)
_self = os.pidfd_open(os.getpid())
_kid = os.fork()
if _kid == 0:
    os._exit(3)
_dead = os.pidfd_open(_kid)
os.waitpid(_kid, 0)
"""


def _decode(path: pathlib.Path) -> dict:
    out = subprocess.run(["/usr/bin/crit", "decode", "--pretty", "-i",
                          str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not os.path.exists("/usr/bin/crit"),
                    reason="CRIU's crit is not installed")
def test_memfd_and_pidfds_dump_restore_and_crit(
        tmp_path: pathlib.Path) -> None:
    """A process with a sealed memfd, a pidfd of itself and one of a
    reaped child: CRIU's crit decodes memfd.img and the memfd's shmem
    pagemap; after restore the fds are there, the memfd's offset, seals
    and bytes too, the pidfds say alive and dead."""
    v = Victim(tmp_path, extra=HOLDER)
    img = tmp_path / "img"
    pid = v.pid
    try:
        r = criu("dump", "-t", str(pid), "-D", str(img), "-o", "dump.log",
                 "-v4")
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
        (inode,) = _decode(img / "memfd.img")["entries"]
        assert inode["name"] == "holder"
        assert inode["size"] == len(b"kept across a restore") * 1000
        assert inode["seals"] == "F_SEAL_WRITE"
        pagemap = _decode(img / f"pagemap-shmem-{inode['shmid']}.img")
        assert pagemap["entries"][1]["flags"] == "PE_PRESENT"
        r = criu("restore", "-D", str(img), "-d", "-o", "restore.log",
                 "-v4")
        assert r.returncode == 0, r.stderr
        try:
            links = [(os.readlink(f"/proc/{pid}/fd/{name}"), int(name))
                     for name in os.listdir(f"/proc/{pid}/fd")]
            (m,) = [n for t, n in links if t == "/memfd:holder (deleted)"]
            with open(f"/proc/{pid}/fdinfo/{m}") as f:
                assert "pos:\t77\n" in f.read()
            fd = os.open(f"/proc/{pid}/fd/{m}", os.O_RDONLY)
            try:
                assert os.pread(fd, 21, 21) == b"kept across a restore"
                assert nmemfd.get_seals(fd) == nmemfd.F_SEAL_WRITE
            finally:
                os.close(fd)
            pids = []
            for name, fdnum in links:
                if name == "anon_inode:[pidfd]":
                    with open(f"/proc/{pid}/fdinfo/{fdnum}") as f:
                        pids += [int(line.split()[1]) for line in f
                                 if line.startswith("Pid:")]
            assert sorted(pids) == sorted([-1, pid]), pids
            time.sleep(0.05)
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().split()[2] in "RS"
        finally:
            os.kill(pid, signal.SIGKILL)
    finally:
        v.kill()
