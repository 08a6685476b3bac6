"""Pure pieces of the criu engine: image names, /proc parsing, stats."""

from __future__ import annotations

import os
import resource

import pytest

from criu import stats
from criu.dump import proc
from criu.errors import ImageError
from criu.imagedir import ImageDir, magic_of
from criu.resources.base import DumpStats


@pytest.mark.parametrize("name, magic", [
    ("inventory.img", "INVENTORY"), ("core-42.img", "CORE"),
    ("fdinfo-3.img", "FDINFO"), ("pipes-data.img", "PIPES_DATA"),
    ("tty-info.img", "TTY_INFO"), ("stats-dump", "STATS"),
    ("fs-1.img", "FS"), ("pagemap-7.img", "PAGEMAP"),
])
def test_magic_of(name: str, magic: str) -> None:
    assert magic_of(name) == magic


def test_magic_of_unknown() -> None:
    with pytest.raises(ImageError):
        magic_of("frob-1.img")


def test_stat_of_self() -> None:
    st = proc.stat(os.getpid())
    assert st.pid == os.getpid() and st.ppid == os.getppid()
    assert st.sid == os.getsid(0) and st.pgid == os.getpgid(0)
    assert st.nice == os.getpriority(os.PRIO_PROCESS, 0)


def test_limits_of_self() -> None:
    limits = proc.limits(os.getpid())
    assert len(limits) == 16
    for res in range(16):
        soft, hard = resource.getrlimit(res)
        as_proc = tuple(proc.RLIM_INFINITY if v == resource.RLIM_INFINITY
                        else v for v in (soft, hard))
        assert limits[res] == as_proc


def test_fdinfo_of_self(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, b"abc")
        info = proc.fdinfo(os.getpid(), fd)
        assert info.target == str(path) and info.pos == 3
        assert info.flags & os.O_APPEND and info.flags & os.O_CLOEXEC
        assert info.st.st_size == 3
    finally:
        os.close(fd)


def test_images_are_written_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from images.pb import pstree_pb2
    d = ImageDir(tmp_path / "img", create=True)
    good = pstree_pb2.pstree_entry(pid=1, ppid=0, pgid=1, sid=1)
    bad = pstree_pb2.pstree_entry(pid=2)    # misses required fields
    with pytest.raises(Exception):
        d.write("pstree.img", [good, bad])
    assert d.names() == []                  # nothing half-written left
    d.write("pstree.img", [good])
    assert [e.pid for e in d.read("pstree.img")] == [1]
    d.close()


def test_display_dump_stats(capsys) -> None:  # type: ignore[no-untyped-def]
    from criu import log
    log.setup(2)
    stats.display_dump(DumpStats(frozen_time=0.5, pages_written=16))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Displaying dump stats:"
    assert "Frozen time: 500000 us" in out
    assert "Memory pages written: 16 (0x10)" in out


def test_ghost_chunks_skip_holes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from criu.resources import ghost
    path = tmp_path / "sparse"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.pwrite(fd, b"a" * 10, 0)
        os.pwrite(fd, b"b" * (3 << 20), 8 << 20)    # past a hole, > CHUNK
        chunks = list(ghost._chunks(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)
    data = {off: len(b) for off, b in chunks}
    assert data[0] >= 10
    assert sum(len(b) for off, b in chunks if off >= 8 << 20) == 3 << 20
    assert all(len(b) <= ghost.CHUNK for _, b in chunks)
    assert not any(0 < off < 8 << 20 and off > 4096 for off in data)
