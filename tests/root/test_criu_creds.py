"""Credentials of a task of another user come back after dump + restore:
uids, gids, supplementary groups, capability sets (root restores them)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from criu_testlib import COUNTER, criu

FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
          "CapAmb", "NoNewPrivs")


def _creds(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in FIELDS:
                out[key] = value.split()
    return out


def _become_user() -> None:
    os.setgroups([18943, 100])
    os.setresgid(18943, 18943, 18943)
    os.setresuid(18943, 18943, 18943)


@pytest.fixture
def shared_dir():  # type: ignore[no-untyped-def]
    """A directory the other user can reach (pytest's tmp_path is 0700)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="criu-creds-", dir="/tmp"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_creds_round_trip(shared_dir: pathlib.Path) -> None:
    tmp_path = shared_dir
    counter = tmp_path / "n"
    # Debian's python: the venv's interpreter is not readable by that user
    p = subprocess.Popen(["/usr/bin/python3", "-c", COUNTER, str(counter)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=_become_user, cwd=tmp_path)
    images = tmp_path / "img"
    try:
        deadline = time.monotonic() + 30
        while not counter.exists():
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        before = _creds(p.pid)
        assert before["Uid"] == ["18943"] * 4
        r = criu("dump", "-t", str(p.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    while os.path.exists(f"/proc/{p.pid}"):
        assert time.monotonic() < deadline + 30
        time.sleep(0.01)
    r = criu("restore", "-D", str(images), "-d")
    assert r.returncode == 0, r.stderr
    try:
        assert _creds(p.pid) == before
        start = int(counter.read_text() or 0)
        while int(counter.read_text() or 0) <= start:
            assert time.monotonic() < deadline + 90
            time.sleep(0.01)
    finally:
        os.kill(p.pid, 9)
