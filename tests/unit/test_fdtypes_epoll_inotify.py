"""epoll and inotify fd kinds without root: fdinfo parsing, the image
encoding of file handles, and the restore halves run on this process's own
fds (post_open adding targets with their data, nested first; watches made
at their dumped wd, with and without INOTIFY_IOC_SETNEXTWD)."""

from __future__ import annotations

import errno
import logging
import os
import pathlib
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from compel.native import epoll as nepoll
from compel.native import fsnotify as nfs
from criu.errors import RestoreError
from criu.resources import fdtypes
from criu.resources.fdtypes import epoll, inotify

EPOLL_FDINFO = """\
pos:\t0
flags:\t02000002
mnt_id:\t17
ino:\t1038
tfd:        4 events: 80000019 data: deadbeefcafef00d  pos:0 ino:1d5833 sdev:f
tfd:       12 events:       1c data:                c  pos:0 ino:40e sdev:10
tfd:        4 events: 40000000 data:                5  pos:7 ino:9 sdev:fe00001
"""

INOTIFY_FDINFO = """\
pos:\t0
flags:\t04000
mnt_id:\t17
ino:\t1038
inotify wd:10 ino:20e2c2 sdev:fe00000 mask:100 ignored_mask:0 \
fhandle-bytes:8 fhandle-type:1 f_handle:c2e22000bfa99160
inotify wd:a ino:51001a sdev:fe00003 mask:80000006 ignored_mask:0 \
fhandle-bytes:c fhandle-type:81 f_handle:1a0051001b3f2ea5010203ff
inotify wd:3 ino:7 sdev:5 mask:2 ignored_mask:0
"""


def test_kinds_are_in_the_table() -> None:
    assert fdtypes.by_type(7) is epoll
    assert fdtypes.by_type(8) is inotify
    from images.pb import fdinfo_pb2
    assert fdinfo_pb2.EVENTPOLL == epoll.FD_TYPE
    assert fdinfo_pb2.INOTIFY == inotify.FD_TYPE


def test_epoll_fdinfo() -> None:
    targets = epoll.parse_fdinfo(EPOLL_FDINFO)
    assert targets == [
        epoll.Target(tfd=4, events=0x80000019, data=0xdeadbeefcafef00d,
                     pos=0, ino=0x1d5833, sdev=0xf),
        epoll.Target(tfd=12, events=0x1c, data=0xc, pos=0, ino=0x40e,
                     sdev=0x10),
        epoll.Target(tfd=4, events=0x40000000, data=5, pos=7, ino=9,
                     sdev=0xfe00001),
    ]
    # kcmp's toff: the rank among targets of the same fd number
    assert [toff for _, toff in epoll._with_toff(targets)] == [0, 0, 1]
    # an older kernel without pos/ino/sdev
    assert epoll.parse_fdinfo("tfd: 3 events: 1 data: ff\n") == [
        epoll.Target(3, 1, 0xff, 0, 0, 0)]
    with pytest.raises(ValueError, match="unexpected epoll fdinfo line"):
        epoll.parse_fdinfo("tfd: what\n")


def test_inotify_fdinfo() -> None:
    watches = inotify.parse_fdinfo(INOTIFY_FDINFO)
    assert watches[0] == inotify.Watch(
        wd=0x10, ino=0x20e2c2, sdev=0xfe00000, mask=0x100, ignored_mask=0,
        fh_type=1, handle=bytes.fromhex("c2e22000bfa99160"))
    assert watches[1].wd == 10 and watches[1].fh_type == 0x81
    assert watches[1].handle == bytes.fromhex("1a0051001b3f2ea5010203ff")
    assert watches[1].mask == 0x80000006
    assert watches[2] == inotify.Watch(3, 7, 5, 2, 0, -1, b"")
    with pytest.raises(ValueError, match="unexpected inotify fdinfo line"):
        inotify.parse_fdinfo("inotify wd:zz\n")


def test_file_handle_in_the_image() -> None:
    from images.pb import fh_pb2
    handle = bytes(range(1, 13))
    words = inotify.handle_words(handle)
    assert len(words) == inotify.FH_WORDS == fh_pb2.min_entries
    assert words[0] == int.from_bytes(handle[:8], "little")
    assert words[2:] == [0] * 14
    fh = fh_pb2.fh_entry(bytes=len(handle), type=1, handle=words)
    again = fh_pb2.fh_entry.FromString(fh.SerializeToString())
    assert inotify.handle_bytes(again) == handle


def test_kernel_dev_numbers() -> None:
    assert inotify.kdev_to_dev(0xfe00000) == os.makedev(254, 0)
    assert inotify.kdev_to_dev((8 << 20) | 0x12345) == os.makedev(8, 0x12345)


def _fown() -> Any:
    from images.pb import fown_pb2
    return fown_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)


def _entry(fd_type: int, file_id: int, **kind: Any) -> Any:
    from images.pb import fdinfo_pb2
    return fdinfo_pb2.file_entry(type=fd_type, id=file_id, **kind)


def _epoll_entry(file_id: int, targets: list[tuple[int, int, int]]) -> Any:
    from images.pb import eventpoll_pb2
    return _entry(epoll.FD_TYPE, file_id, epfd=eventpoll_pb2.eventpoll_file_entry(
        id=file_id, flags=os.O_RDWR, fown=_fown(),
        tfd=[eventpoll_pb2.eventpoll_tfd_entry(id=file_id, tfd=t, events=ev,
                                               data=d)
             for t, ev, d in targets]))


def test_fill_order_puts_watched_epolls_first() -> None:
    outer = _epoll_entry(1, [(9, 1, 0), (5, 1, 0)])
    middle = _epoll_entry(2, [(11, 1, 0)])
    inner = _epoll_entry(3, [(4, 1, 0)])
    # fd 12 is a dup of the inner epoll (fd 11)
    assert epoll.fill_order({3: outer, 9: middle, 11: inner},
                            {12: 11}) == [11, 9, 3]
    nested_by_dup = _epoll_entry(4, [(12, 1, 0)])
    assert epoll.fill_order({2: nested_by_dup, 11: inner},
                            {12: 11}) == [11, 2]


@pytest.fixture
def fds() -> Iterator[list[int]]:
    """fds the test opens, closed at the end."""
    opened: list[int] = []
    yield opened
    for fd in opened:
        os.close(fd)


def _ctx() -> Any:
    return SimpleNamespace(log=logging.getLogger("test"), registry={})


def test_post_open_adds_targets_with_their_data(fds: list[int]) -> None:
    r, w = os.pipe()
    r2, w2 = os.pipe()
    fds += [r, w, r2, w2]
    ctx, task = _ctx(), SimpleNamespace(pid=os.getpid())
    from images.pb import pipe_pb2
    pipe = _entry(2, 10, pipe=pipe_pb2.pipe_entry(id=10, pipe_id=1, flags=0,
                                                     fown=_fown()))
    outer_e = _epoll_entry(20, [(r2, nepoll.EPOLLIN, 0xfeedface00000001)])
    inner_e = _epoll_entry(21, [(r, nepoll.EPOLLIN | nepoll.EPOLLET,
                                 0x8000000000000000)])
    outer = epoll.open(ctx, task, outer_e, 0, None)  # type: ignore[arg-type]
    fds.append(outer)
    inner = epoll.open(ctx, task, inner_e, 0, None)  # type: ignore[arg-type]
    fds.append(inner)
    # the outer watches the inner too: filled once inner is
    outer_e.epfd.tfd.add(id=20, tfd=inner, events=nepoll.EPOLLIN, data=7)
    placed = [(r, pipe), (w, pipe), (r2, pipe), (w2, pipe),
              (outer, outer_e), (inner, inner_e), (inner + 100, inner_e)]
    # a dup of an epoll (same file id) is filled once
    epoll.post_open(ctx, task, placed)  # type: ignore[arg-type]
    assert nepoll.epoll_wait(outer, 8, 0) == []
    os.write(w, b"x")
    assert nepoll.epoll_wait(outer, 8, 0) == [(nepoll.EPOLLIN, 7)]
    assert nepoll.epoll_wait(inner, 8, 0) == [(nepoll.EPOLLIN,
                                               0x8000000000000000)]
    assert nepoll.epoll_wait(inner, 8, 0) == []          # edge-triggered
    os.write(w2, b"y")
    assert nepoll.epoll_wait(outer, 8, 0) == [(nepoll.EPOLLIN,
                                               0xfeedface00000001)]
    # targets are the files at those numbers
    pid = os.getpid()
    assert nepoll.same_target(pid, r, pid, inner, r)
    assert not nepoll.same_target(pid, w, pid, inner, r)
    # again (another task holding the same epoll): nothing added twice
    epoll.post_open(ctx, task, placed)  # type: ignore[arg-type]
    with open(f"/proc/self/fdinfo/{outer}") as f:
        assert f.read().count("tfd:") == 2


def test_post_open_names_a_missing_target(fds: list[int]) -> None:
    ctx, task = _ctx(), SimpleNamespace(pid=42)
    e = _epoll_entry(1, [(1000, nepoll.EPOLLIN, 0)])
    ep = epoll.open(ctx, task, e, 5, None)  # type: ignore[arg-type]
    fds.append(ep)
    with pytest.raises(RestoreError,
                       match=f"task 42: fd {ep}: epoll target fd 1000: the "
                       "task has no such fd"):
        epoll.post_open(ctx, task, [(ep, e)])  # type: ignore[arg-type]


def test_kcmp_epoll_errors(fds: list[int]) -> None:
    pid = os.getpid()
    ep = nepoll.epoll_create1()
    r, w = os.pipe()
    fds += [ep, r, w]
    nepoll.epoll_ctl(ep, nepoll.EPOLL_CTL_ADD, r, nepoll.EPOLLIN, 1)
    with pytest.raises(OSError) as e:
        nepoll.same_target(pid, 100000, pid, ep, r)
    assert e.value.errno == errno.EBADF
    with pytest.raises(OSError) as e:
        nepoll.same_target(pid, r, pid, ep, w)
    assert e.value.errno == errno.ENOENT


def _wd_entry(path: pathlib.Path, wd: int, mask: int) -> Any:
    """A watch as an image holds it; a handle that opens nothing, so the
    path hint is what restore finds the inode by."""
    from images.pb import fh_pb2, fsnotify_pb2
    st = path.stat()
    return fsnotify_pb2.inotify_wd_entry(
        id=1, i_ino=st.st_ino, mask=mask, ignored_mask=0,
        s_dev=(os.major(st.st_dev) << 20) | os.minor(st.st_dev), wd=wd,
        f_handle=fh_pb2.fh_entry(bytes=8, type=0xfe,
                                 handle=inotify.handle_words(b"\xff" * 8),
                                 path=str(path)))


@pytest.mark.parametrize("setnextwd", [True, False])
def test_watches_come_back_at_their_wd(
        tmp_path: pathlib.Path, fds: list[int],
        monkeypatch: pytest.MonkeyPatch, setnextwd: bool) -> None:
    if not setnextwd:
        # A kernel without CONFIG_CHECKPOINT_RESTORE: add/remove rounds.
        def enotty(fd: int, wd: int) -> None:
            raise OSError(errno.ENOTTY, "ioctl: not a typewriter")
        monkeypatch.setattr(nfs, "inotify_set_next_wd", enotty)
    d = tmp_path / "d"
    d.mkdir()
    (d / "f").write_text("")
    from images.pb import fsnotify_pb2
    ie = fsnotify_pb2.inotify_file_entry(
        id=1, flags=os.O_NONBLOCK, fown=_fown(),
        wd=[_wd_entry(d / "f", 9, nfs.IN_MODIFY),
            _wd_entry(d, 4, nfs.IN_CREATE)])
    ctx, task = _ctx(), SimpleNamespace(pid=42)
    ifd = inotify.open(ctx, task, _entry(8, 1, ify=ie), 3,
                       None)  # type: ignore[arg-type]
    fds.append(ifd)
    with pytest.raises(BlockingIOError):
        nfs.read_events(ifd)        # nothing queued (no IN_IGNORED left)
    (d / "new").write_text("x")
    events = nfs.read_events(ifd)
    assert (4, nfs.IN_CREATE, 0, b"new") in events
    assert (9, nfs.IN_MODIFY, 0, b"") not in events
    with open(d / "f", "w") as f:
        f.write("x")
    assert nfs.read_events(ifd) == [(9, nfs.IN_MODIFY, 0, b"")]
    with open(f"/proc/self/fdinfo/{ifd}") as f:
        assert {w.wd for w in inotify.parse_fdinfo(f.read())} == {4, 9}


def test_watch_without_its_inode(tmp_path: pathlib.Path,
                                 fds: list[int]) -> None:
    (tmp_path / "gone").write_text("")
    from images.pb import fsnotify_pb2
    ie = fsnotify_pb2.inotify_file_entry(
        id=1, flags=0, fown=_fown(),
        wd=[_wd_entry(tmp_path / "gone", 1, nfs.IN_MODIFY)])
    (tmp_path / "gone").unlink()
    with pytest.raises(RestoreError,
                       match=r"task 42: fd 3: inotify watch wd 1 .*cannot "
                       "find the watched inode"):
        inotify.open(_ctx(), SimpleNamespace(pid=42), _entry(8, 1, ify=ie),
                     3, None)  # type: ignore[arg-type]
