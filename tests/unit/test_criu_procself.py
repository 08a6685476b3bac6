"""ProcSelf: a restored task's own /proc, reached by fd, not by name."""

from __future__ import annotations

import fcntl
import os
import pathlib
from typing import Iterator

import pytest

from criu.resources.base import ServiceFds
from criu.restore.procself import ProcSelf


@pytest.fixture
def proc() -> Iterator[ProcSelf]:
    p = ProcSelf.open_here(ServiceFds(base=200), "test")
    yield p
    p.close()


def test_kept_as_a_service_fd(proc: ProcSelf) -> None:
    assert proc.fd >= 200
    assert fcntl.fcntl(proc.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert os.readlink(f"/proc/self/fd/{proc.fd}") == f"/proc/{os.getpid()}"


def test_fds_lists_only_open_fds(proc: ProcSelf) -> None:
    """The restorer closes every fd listed: none may be a number that was
    only open while the directory was being listed."""
    r, w = os.pipe()
    os.close(w)
    try:
        listed = proc.fds()
        assert r in listed and w not in listed and proc.fd in listed
        for fd in listed:
            fcntl.fcntl(fd, fcntl.F_GETFD)      # EBADF if it is not open
    finally:
        os.close(r)


def test_reads_through_the_fd_not_the_name(proc: ProcSelf,
                                           tmp_path: pathlib.Path,
                                           monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """Lookups are relative to the fd, not to the cwd (a changed root is
    covered by tests/root/test_criu_chroot.py, which needs root)."""
    monkeypatch.chdir(tmp_path)
    maps = proc.read_text("maps")
    assert "[stack]" in maps
    fd = proc.open("mem", os.O_RDONLY)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "/proc/" + \
            f"{os.getpid()}/mem"
    finally:
        os.close(fd)
