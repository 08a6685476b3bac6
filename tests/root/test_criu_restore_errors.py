"""Restore errors: one line, exit 1, no task left behind, images untouched
(the image directory hashes the same before and after)."""

from __future__ import annotations

import os
import pathlib
import time

import pytest

from criu_testlib import Victim, criu, dir_digest, one_line


def _gone(pid: int, limit: float = 30.0) -> bool:
    """True once no process (not even a zombie) holds pid."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def dumped(tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    """A dump of a victim that was then killed (its PID is free again)."""
    v = Victim(tmp_path)
    images = tmp_path / "img"
    r = criu("dump", "-t", str(v.pid), "-D", str(images))
    assert r.returncode == 0, r.stderr
    v.proc.wait(timeout=30)
    assert _gone(v.pid)
    yield v.pid, images
    if os.path.exists(f"/proc/{v.pid}"):
        # a restore that went through: kill what we created
        os.kill(v.pid, 9)


def test_missing_dir(tmp_path: pathlib.Path) -> None:
    r = criu("restore", "-D", str(tmp_path / "none"))
    assert r.returncode == 1
    assert "no such directory" in one_line(r.stderr)


def test_not_a_complete_dump(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pstree.img").write_bytes(b"")
    before = dir_digest(tmp_path)
    r = criu("restore", "-D", str(tmp_path))
    assert r.returncode == 1
    assert "inventory.img is missing" in one_line(r.stderr)
    assert dir_digest(tmp_path) == before


def test_corrupted_inventory(dumped) -> None:  # type: ignore[no-untyped-def]
    pid, images = dumped
    inv = images / "inventory.img"
    inv.write_bytes(inv.read_bytes()[:6])
    before = dir_digest(images)
    r = criu("restore", "-D", str(images))
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert "inventory.img" in line
    assert dir_digest(images) == before
    assert not os.path.exists(f"/proc/{pid}")


def test_pid_taken(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path)
    try:
        images = tmp_path / "img"
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
        before = dir_digest(images)
        r = criu("restore", "-D", str(images), "-d")
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"PID {v.pid} is already" in line
        assert dir_digest(images) == before
        v.assert_running_untraced()
    finally:
        v.kill()


def test_missing_image_kills_the_new_task(dumped) -> None:  # type: ignore[no-untyped-def]
    pid, images = dumped
    (images / f"fs-{pid}.img").unlink()
    before = dir_digest(images)
    r = criu("restore", "-D", str(images), "-d", "-o", "restore.log", "-v4",
             "-W", str(images.parent))
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert f"fs-{pid}.img" in line and "missing" in line
    assert dir_digest(images) == before
    assert _gone(pid), "a half-restored task was left behind"
