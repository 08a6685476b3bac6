"""pidfd and memfd fd kinds without root: fdinfo parsing and matching,
the dump-time target checks, the stand-in for a reaped process, and a
memfd imaged and made again (contents with holes, size, name, seals)
on this process's own memfds."""

from __future__ import annotations

import fcntl
import logging
import os
import pathlib
import select
from types import SimpleNamespace
from typing import Any

import pytest

from compel.native import memfd as nmemfd
from compel.native import memory as nmem
from compel.native import pidfd as npidfd
from criu.dump import proc
from criu.errors import DumpError
from criu.imagedir import ImageDir
from criu.options import Options
from criu.resources import fdtypes, files
from criu.resources.base import DumpContext, RestoreContext
from criu.resources.fdtypes import memfd, pidfd, reg

PAGE = nmem.PAGE_SIZE

LIVE = """\
pos:\t0
flags:\t02004002
mnt_id:\t4
ino:\t202895
Pid:\t25342
NSpid:\t25342
"""

DEAD = """\
pos:\t0
flags:\t02000002
mnt_id:\t4
ino:\t202937
Pid:\t-1
NSpid:\t-1
"""

NESTED = LIVE.replace("NSpid:\t25342", "NSpid:\t25342\t7")


def test_kinds_are_in_the_table() -> None:
    from images.pb import fdinfo_pb2
    assert fdtypes.by_type(fdinfo_pb2.PIDFD) is pidfd
    assert fdtypes.by_type(fdinfo_pb2.MEMFD) is memfd
    kinds = fdtypes.load()
    # A memfd is a regular file: its kind must come before reg's.
    assert kinds.index(memfd) < kinds.index(reg)


def test_pidfd_fdinfo() -> None:
    assert pidfd.parse_fdinfo(LIVE) == pidfd.PidfdInfo(
        pid=25342, nspids=(25342,), ino=202895)
    assert pidfd.parse_fdinfo(DEAD).pid == -1
    assert pidfd.parse_fdinfo(NESTED).nspids == (25342, 7)
    with pytest.raises(ValueError):
        pidfd.parse_fdinfo("pos:\t0\nflags:\t02\n")


def _info(fd: int) -> proc.FdInfo:
    return proc.fdinfo(os.getpid(), fd)


def test_pidfd_of_ourselves_is_matched_and_parsed() -> None:
    fd = npidfd.pidfd_open(os.getpid(), npidfd.PIDFD_NONBLOCK)
    try:
        info = _info(fd)
        assert pidfd.match(info) and not memfd.match(info)
        assert not reg.match(info) or fdtypes.matching(info) is pidfd
        pi = pidfd.parse_fdinfo(info.text)
        assert pi.pid == os.getpid()
        assert info.flags & npidfd.PIDFD_NONBLOCK
    finally:
        os.close(fd)


def _dump_ctx(tmp: pathlib.Path, tasks: list[Any]) -> DumpContext:
    images = ImageDir(tmp / "img", create=True)
    return DumpContext(opts=Options(), images=images,
                       log=logging.getLogger("test"), root_pid=0,
                       tasks=tasks)


def test_pidfd_targets_outside_the_tree_are_refused(
        tmp_path: pathlib.Path) -> None:
    task = SimpleNamespace(pid=100, threads=[100, 101])
    ctx = _dump_ctx(tmp_path, [task])
    ok = pidfd.PidfdInfo(pid=100, nspids=(100,), ino=1)
    pidfd._check_target(ctx, "w", ok, npidfd.PIDFD_THREAD)   # the leader
    with pytest.raises(DumpError, match="thread 101 of task 100"):
        pidfd._check_target(ctx, "w", pidfd.PidfdInfo(101, (101,), 1),
                            npidfd.PIDFD_THREAD)
    with pytest.raises(DumpError, match="process 555, which is outside"):
        pidfd._check_target(ctx, "w", pidfd.PidfdInfo(555, (555,), 1), 0)
    with pytest.raises(DumpError, match="nested pid namespace"):
        pidfd._check_target(ctx, "w", pidfd.PidfdInfo(100, (100, 1), 1), 0)


def test_pidfd_shared_key_only_for_dead_targets() -> None:
    from images.pb import fdinfo_pb2, pidfd_pb2
    def entry(nspid: int, ino: int) -> Any:
        return fdinfo_pb2.file_entry(
            type=pidfd.FD_TYPE, id=1, pidfd=pidfd_pb2.pidfd_entry(
                id=1, ino=ino, flags=0, nspid=nspid, fown=files.fown()))
    assert pidfd.shared_key(entry(-1, 42)) == ("dead", 42)
    assert pidfd.shared_key(entry(-1, 0)) is None
    assert pidfd.shared_key(entry(77, 42)) is None


def test_stand_in_for_a_reaped_process() -> None:
    """Two pidfds opened on a spawn_dying() child before it is reaped are
    pidfds of one dead process: exited, ESRCH, no child to wait for."""
    pid = npidfd.spawn_dying()
    fds = []
    try:
        fds = [npidfd.pidfd_open(pid, 0),
               npidfd.pidfd_open(pid, npidfd.PIDFD_NONBLOCK)]
    finally:
        npidfd.reap_dying(pid)
    try:
        assert os.fstat(fds[0]).st_ino == os.fstat(fds[1]).st_ino
        for fd in fds:
            assert pidfd.parse_fdinfo(_info(fd).text).pid == -1
            p = select.poll()
            p.register(fd, select.POLLIN)
            assert p.poll(0)
            with pytest.raises(ProcessLookupError):
                npidfd.pidfd_send_signal(fd, 0)
            with pytest.raises(ChildProcessError):
                os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
    finally:
        for fd in fds:
            os.close(fd)


def test_memfd_names() -> None:
    assert memfd.name_of("/memfd:a b (deleted)") == "a b"
    assert memfd.name_of("/memfd: (deleted) (deleted)") == " (deleted)"
    assert memfd.name_of("/tmp/memfd:x (deleted)") is None
    assert memfd.name_of("/memfd:x") is None


def _memfd(name: str, flags: int = nmemfd.MFD_CLOEXEC |
           nmemfd.MFD_ALLOW_SEALING) -> int:
    return nmem.memfd_create(name, flags)


def test_data_runs_skip_holes() -> None:
    fd = _memfd("runs")
    try:
        os.pwrite(fd, b"a" * 10, 0)
        os.pwrite(fd, b"b" * (PAGE + 5), 10 * PAGE + 3)
        size = os.fstat(fd).st_size
        assert memfd.data_runs(fd, size) == [(0, PAGE),
                                             (10 * PAGE, 2 * PAGE)]
        os.ftruncate(fd, 100 * PAGE)         # a hole to the end
        assert len(memfd.data_runs(fd, 100 * PAGE)) == 2
        assert memfd.data_runs(fd, 0) == []
    finally:
        os.close(fd)


def test_memfd_dump_and_make_again(tmp_path: pathlib.Path) -> None:
    """The image of a memfd (contents with a hole, a tail mid-page, its
    seals) makes a memfd equal to it; two descriptions share one inode."""
    fd = _memfd("round trip")
    data = os.urandom(3 * PAGE + 17)
    os.pwrite(fd, data, 0)
    os.pwrite(fd, b"tail", 20 * PAGE + 100)
    size = os.fstat(fd).st_size
    nmemfd.add_seals(fd, nmemfd.F_SEAL_WRITE | nmemfd.F_SEAL_GROW)
    os.lseek(fd, 1234, os.SEEK_SET)
    fd2 = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    ctx = _dump_ctx(tmp_path, [])
    task = SimpleNamespace(pid=os.getpid())
    try:
        ids = [memfd.dump(ctx, task, _info(f)) for f in (fd, fd2)]   # type: ignore[arg-type]
        memfd.dump_finish(ctx)
        files.dump_finish(ctx)
    finally:
        os.close(fd)
        os.close(fd2)
    (inode,) = ctx.images.read("memfd.img")
    assert inode.name == "round trip" and inode.size == size
    assert inode.seals == nmemfd.F_SEAL_WRITE | nmemfd.F_SEAL_GROW
    entries = {e.id: e for e in ctx.images.read("files.img")}
    assert {entries[i].memfd.inode_id for i in ids} == {inode.inode_id}
    assert entries[ids[0]].memfd.pos == 1234

    rctx = RestoreContext(opts=Options(), images=ctx.images,
                          log=logging.getLogger("test"))
    memfd.collect(rctx)
    assert memfd.shared_key(entries[ids[0]]) == inode.inode_id
    opening = files.Opening(base=0)
    rtask = SimpleNamespace(pid=os.getpid())
    new = [memfd.open(rctx, rtask, entries[i], 3, opening)  # type: ignore[arg-type]
           for i in ids]
    opening.close()
    try:
        assert os.lseek(new[0], 0, os.SEEK_CUR) == 1234
        assert os.fstat(new[0]).st_ino == os.fstat(new[1]).st_ino
        assert os.fstat(new[0]).st_size == size
        assert os.pread(new[1], len(data), 0) == data
        assert os.pread(new[1], 4, 20 * PAGE + 100) == b"tail"
        assert os.pread(new[1], 100, 5 * PAGE) == bytes(100)
        assert os.lseek(new[1], 4 * PAGE, os.SEEK_DATA) >= 19 * PAGE
        assert nmemfd.get_seals(new[0]) == inode.seals
        assert fcntl.fcntl(new[1], fcntl.F_GETFL) & os.O_ACCMODE == \
            os.O_RDONLY
        with pytest.raises(PermissionError):
            os.pwrite(new[0], b"x", 0)
        link = os.readlink(f"/proc/self/fd/{new[0]}")
        assert link == "/memfd:round trip (deleted)"
    finally:
        for f in new:
            os.close(f)
        ctx.images.close()


def test_memfd_without_sealing_comes_back_without(
        tmp_path: pathlib.Path) -> None:
    from images.pb import memfd_pb2
    mie = memfd_pb2.memfd_inode_entry(
        name="plain", uid=os.getuid(), gid=os.getgid(), size=0, shmid=1,
        seals=nmemfd.F_SEAL_SEAL, inode_id=1)
    fd = memfd._create(mie, "w")
    try:
        assert nmemfd.get_seals(fd) == nmemfd.F_SEAL_SEAL
        with pytest.raises(PermissionError):
            nmemfd.add_seals(fd, nmemfd.F_SEAL_WRITE)
    finally:
        os.close(fd)
