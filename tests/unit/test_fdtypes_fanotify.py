"""fanotify fd kind without root: the fdinfo parser (group flags, inode and
mount marks, the marks dump refuses) and the one-line refusals."""

from __future__ import annotations

import pathlib

import pytest

from compel.native import fsnotify as nfs
from criu.errors import DumpError
from criu.resources import fdtypes
from criu.resources.fdtypes import fanotify

FDINFO = """\
pos:\t0
flags:\t02004002
mnt_id:\t16
ino:\t1057
fanotify flags:12 event-flags:8002
fanotify ino:516bcd sdev:fe00000 mflags:40 mask:a ignored_mask:20 \
fhandle-bytes:8 fhandle-type:1 f_handle:cd6b5100412a79cf
fanotify mnt_id:1b mflags:0 mask:20 ignored_mask:0
fanotify ino:2a sdev:2b mflags:0 mask:8000002 ignored_mask:0
"""


def test_parse_group_and_marks() -> None:
    g = fanotify.parse_fdinfo(FDINFO)
    assert (g.flags, g.event_flags) == (0x12, 0x8002)
    assert len(g.marks) == 3
    ino, mnt, nohandle = g.marks
    assert ino.kind == "inode"
    assert (ino.ino, ino.sdev, ino.mflags, ino.mask, ino.ignored_mask) == \
        (0x516bcd, 0xfe00000, 0x40, 0xa, 0x20)
    assert ino.fh_type == 1
    assert ino.handle == bytes.fromhex("cd6b5100412a79cf")
    assert mnt.kind == "mount"
    assert (mnt.mnt_id, mnt.mflags, mnt.mask, mnt.ignored_mask) == \
        (0x1b, 0, nfs.FAN_OPEN, 0)
    # a filesystem without handles: no fhandle fields
    assert nohandle.kind == "inode" and nohandle.handle == b""
    assert nohandle.fh_type == -1 and nohandle.mask == 0x8000002


def test_parse_no_marks_and_other_kinds() -> None:
    g = fanotify.parse_fdinfo("fanotify flags:0 event-flags:0\n")
    assert (g.flags, g.event_flags, g.marks) == (0, 0, [])
    g = fanotify.parse_fdinfo(
        "fanotify flags:0 event-flags:0\n"
        "fanotify sdev:fe00000 mflags:0 mask:2 ignored_mask:0\n"
        "fanotify mntns:4026531841 mflags:0 mask:1000000 ignored_mask:0\n")
    assert [m.kind for m in g.marks] == ["filesystem", "mount namespace"]
    assert g.marks[0].mask == 2


@pytest.mark.parametrize("text", [
    "fanotify ino:1 sdev:2 mflags:0 mask:2 ignored_mask:0\n",   # no head
    "fanotify flags:0 event-flags:0\nfanotify what\n",
])
def test_parse_errors(text: str) -> None:
    with pytest.raises(ValueError):
        fanotify.parse_fdinfo(text)


def test_refusals_name_the_mark() -> None:
    g = fanotify.parse_fdinfo(
        "fanotify flags:4 event-flags:0\n"
        "fanotify sdev:fe00000 mflags:0 mask:2 ignored_mask:0\n"
        "fanotify mnt_id:1b mflags:0 mask:10000 ignored_mask:0\n")
    with pytest.raises(DumpError, match=r"^task 1: fd 3: fanotify "
                       r"filesystem mark .*not supported$"):
        fanotify._mark_entry("task 1: fd 3", 1, 7, g.marks[0])
    with pytest.raises(DumpError, match=r"mount 27: permission events "
                       r"\(mask 0x10000\): not supported$"):
        fanotify._mark_entry("task 1: fd 3", 1, 7, g.marks[1])


def test_kind_registered() -> None:
    assert fdtypes.by_type(fanotify.FD_TYPE) is fanotify
    assert fanotify.match(type("I", (), {"target": "anon_inode:[fanotify]"})())
    assert not fanotify.match(type("I", (), {"target": "anon_inode:inotify"})())


def _lines(fd: int) -> list[str]:
    with open(f"/proc/self/fdinfo/{fd}") as f:
        return sorted(ln for ln in f.read().splitlines()
                      if ln.startswith("fanotify"))


def test_group_round_trip(tmp_path: pathlib.Path) -> None:
    """A group of this process imaged mark by mark and made again by
    open(): the same fdinfo (needs CAP_SYS_ADMIN, skipped without)."""
    import logging
    import os
    from types import SimpleNamespace

    from images.pb import fdinfo_pb2, fsnotify_pb2

    try:
        gfd = nfs.fanotify_init(nfs.FAN_CLASS_NOTIF | nfs.FAN_NONBLOCK,
                                os.O_RDONLY)
    except PermissionError:
        pytest.skip("fanotify_init needs CAP_SYS_ADMIN")
    made = -1
    try:
        target = tmp_path / "marked"
        target.write_text("")
        nfs.fanotify_mark(gfd, nfs.FAN_MARK_ADD, nfs.FAN_MODIFY,
                          path=str(target))
        nfs.fanotify_mark(gfd, nfs.FAN_MARK_ADD | nfs.FAN_MARK_IGNORED_MASK
                          | nfs.FAN_MARK_IGNORED_SURV_MODIFY, nfs.FAN_OPEN,
                          path=str(target))
        nfs.fanotify_mark(gfd, nfs.FAN_MARK_ADD | nfs.FAN_MARK_MOUNT,
                          nfs.FAN_CLOSE_WRITE, path=str(tmp_path))
        with pytest.raises(OSError) as e:
            nfs.fanotify_mark(gfd, 0, nfs.FAN_OPEN, path=str(target))
        assert e.value.errno == 22 and "fanotify_mark" in str(e.value)
        with open(f"/proc/self/fdinfo/{gfd}") as f:
            group = fanotify.parse_fdinfo(f.read())
        where = f"task {os.getpid()}: fd {gfd}"
        marks = [fanotify._mark_entry(where, os.getpid(), 5, mk)
                 for mk in group.marks]
        entry = fdinfo_pb2.file_entry(
            type=fanotify.FD_TYPE, id=5,
            ffy=fsnotify_pb2.fanotify_file_entry(
                id=5, flags=os.O_NONBLOCK, fown=files_fown(),
                faflags=group.flags, evflags=group.event_flags, mark=marks))
        ctx = SimpleNamespace(log=logging.getLogger("test"))
        task = SimpleNamespace(pid=os.getpid())
        made = fanotify.open(ctx, task, entry, gfd, None)  # type: ignore
        assert _lines(made) == _lines(gfd)
        assert os.get_inheritable(made) is False
    finally:
        os.close(gfd)
        if made >= 0:
            os.close(made)


def files_fown() -> object:
    from criu.resources import files
    return files.fown()
