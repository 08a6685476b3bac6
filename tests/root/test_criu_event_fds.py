"""eventfd, signalfd and timerfd through the criu command: what we image,
CRIU's own crit (3.17) decodes, the victim left running; a Python victim
comes back with the three; an image with a clock no timerfd can be made on
is refused in one line naming the task and the fd, no task left behind."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time

import pytest

from criu_testlib import Victim, criu, one_line

SETUP = """
import os, signal, sys
sys.path.insert(0, %r)
from compel.native import fdkinds as _k
_e = os.eventfd(7, os.EFD_SEMAPHORE | os.EFD_NONBLOCK)
_s = _k.signalfd(1 << (signal.SIGUSR1 - 1) | 1 << 33, _k.SFD_NONBLOCK)
_t = _k.timerfd_create(_k.CLOCK_BOOTTIME, _k.TFD_NONBLOCK)
_k.timerfd_settime(_t, 0, 500 * 10**9, 10**9 + 7)
""" % str(pathlib.Path(__file__).resolve().parents[2])


def _fds(pid: int) -> dict[str, int]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        link = os.readlink(f"/proc/{pid}/fd/{name}")
        if link.startswith("anon_inode:["):
            out[link[len("anon_inode:["):-1]] = int(name)
    return out


def _gone(pid: int, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not os.path.exists("/usr/bin/crit"),
                    reason="CRIU's crit is not installed")
def test_crit_decodes_event_signal_timer_fds(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path, extra=SETUP)
    try:
        images = tmp_path / "img"
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
        v.assert_running_untraced()
        out = subprocess.run(["/usr/bin/crit", "show",
                              str(images / "files.img")],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        entries = json.loads(out.stdout)["entries"]
        by_type = {e["type"]: e for e in entries}
        efd = by_type["EVENTFD"]["efd"]
        # O_RDWR | O_NONBLOCK, and EFD_SEMAPHORE in bit 0
        assert (efd["counter"], efd["flags"]) == (7, 0o4003)
        sgfd = by_type["SIGNALFD"]["sgfd"]
        assert sgfd["sigmask"] == "0x200000200"
        tfd = by_type["TIMERFD"]["tfd"]
        assert (tfd["clockid"], tfd["ticks"], tfd["isec"], tfd["insec"]) \
            == (7, 0, 1, 7)
        assert 490 < tfd["vsec"] < 500
        assert tfd["settime_flags"] == "0x0"
    finally:
        v.kill()


def test_python_victim_comes_back_with_them(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path, extra=SETUP)
    pid = v.pid
    images = tmp_path / "img"
    try:
        before = _fds(pid)
        assert set(before) == {"eventfd", "signalfd", "timerfd"}
        r = criu("dump", "-t", str(pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
        assert _gone(pid)
        r = criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        try:
            assert _fds(pid) == before
            with open(f"/proc/{pid}/fdinfo/{before['eventfd']}") as f:
                text = f.read()
            assert "eventfd-count:                7\n" in text
            assert "eventfd-semaphore: 1\n" in text
            with open(f"/proc/{pid}/fdinfo/{before['timerfd']}") as f:
                text = f.read()
            assert "clockid: 7\n" in text
            assert "it_interval: (1, 7)\n" in text
        finally:
            os.kill(pid, 9)
    finally:
        v.kill()


def test_timerfd_on_an_unknown_clock_is_one_line(
        tmp_path: pathlib.Path) -> None:
    from images import dump, load
    v = Victim(tmp_path, extra=SETUP)
    pid = v.pid
    images = tmp_path / "img"
    try:
        fd = _fds(pid)["timerfd"]
        r = criu("dump", "-t", str(pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
        assert _gone(pid)
    finally:
        v.kill()
    with open(images / "files.img", "rb") as f:
        img = load(f)
    for e in img["entries"]:
        if e["type"] == "TIMERFD":
            e["tfd"]["clockid"] = 42
    with open(images / "files.img", "wb") as f:
        dump(img, f)
    r = criu("restore", "-D", str(images), "-d")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert f"task {pid}: fd {fd}: timerfd on clock 42: cannot create the " \
        "timer: timerfd_create: Invalid argument" in line, line
    assert _gone(pid)
