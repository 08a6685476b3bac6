"""The fd-type table (criu/resources/fdtypes/): consistent, and an fd no
kind takes is refused in one line naming the task, the fd and what it is."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import pytest

from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import fdtypes, files


def _info(target: str, mode: int, rdev: int = 0) -> proc.FdInfo:
    st = SimpleNamespace(st_mode=mode, st_rdev=rdev, st_dev=1, st_ino=2,
                         st_nlink=1)
    return proc.FdInfo(fd=3, pos=0, flags=0, mnt_id=1, target=target,
                       st=st, extra={})  # type: ignore[arg-type]


def test_table_is_consistent() -> None:
    from images.pb import fdinfo_pb2
    kinds = fdtypes.load()
    assert [k.__name__ for k in kinds] == list(fdtypes.KINDS)
    for kind in kinds:
        for hook in fdtypes.REQUIRED[1:] + tuple(
                h for h in fdtypes.OPTIONAL if hasattr(kind, h)):
            assert callable(getattr(kind, hook)), (kind.__name__, hook)
        assert kind.FD_TYPE in fdinfo_pb2.fd_types.values(), kind.__name__
        assert fdtypes.by_type(kind.FD_TYPE) is kind
    types = [k.FD_TYPE for k in kinds]
    assert len(set(types)) == len(types), types


def test_dispatch() -> None:
    from criu.resources.fdtypes import pipe, reg, tty
    assert files.kind_of(1, _info("/etc/passwd", stat.S_IFREG)) is reg
    assert files.kind_of(1, _info("/dev/null", stat.S_IFCHR,
                                  rdev=(1 << 8) | 3)) is reg
    assert files.kind_of(1, _info("pipe:[5]", stat.S_IFIFO)) is pipe
    assert files.kind_of(1, _info("/dev/pts/0", stat.S_IFCHR,
                                  rdev=136 << 8)) is tty
    assert files.kind_of(1, _info("/dev/ptmx", stat.S_IFCHR,
                                  rdev=(5 << 8) | 2)) is tty
    # Sockets other than unix ones go to inet, which refuses what is not
    # IPv4/IPv6 once it sees the family.
    from criu.resources.fdtypes import inet
    assert files.kind_of(1, _info("socket:[9]", stat.S_IFSOCK)) is inet
    # Any other device is a file reopened by path (--evasive-devices).
    assert files.kind_of(1, _info("/dev/net/tun", stat.S_IFCHR,
                                  rdev=(10 << 8) | 200)) is reg


@pytest.mark.parametrize("target, mode, rdev, what", [
    # An anonymous inode no kind takes is named by its kind.
    ("anon_inode:[userfaultfd]", 0, 0,
     "anon_inode:[userfaultfd]: userfaultfd is not supported yet"),
    ("anon_inode:[io_uring]", 0, 0,
     "anon_inode:[io_uring]: io_uring is not supported yet"),
    # A terminal device no kind takes (ptys are the tty kind's).
    ("/dev/ttyprintk", stat.S_IFCHR, (5 << 8) | 3,
     "/dev/ttyprintk: character device 5:3 is not supported yet"),
])
def test_unknown_kind_refused(target: str, mode: int, rdev: int,
                              what: str) -> None:
    with pytest.raises(DumpError) as e:
        files.kind_of(7, _info(target, mode, rdev))
    msg = str(e.value)
    assert msg.startswith(f"task 7: fd 3: {what}"), msg
    assert "\n" not in msg


def test_unknown_type_refused_on_restore() -> None:
    ext = 16                          # fd_types.EXT: no kind yet
    assert fdtypes.by_type(ext) is None
    with pytest.raises(RestoreError, match=r"^task 7: fd 3: file type 16 is "
                       "not supported yet$"):
        files._open(None, SimpleNamespace(pid=7),  # type: ignore[arg-type]
                    SimpleNamespace(type=ext), 3, {}, files.Opening(1000))
