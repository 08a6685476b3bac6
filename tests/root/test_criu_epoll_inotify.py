"""epoll and inotify fds on dump: what restore could not bring back
exactly is refused in one line naming the task, the fd and why, the tree
left running untraced; what is dumped is what CRIU's own crit decodes."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess

import pytest

from criu_testlib import Victim, criu, one_line

# The epoll's target lives at fd 100, out of the way of the counter's
# open() calls, which take the lowest free fd.
EPOLL_SETUP = """
import os, select, sys
_r, _w = os.pipe()
os.dup2(_r, 100)
os.close(_r)
_ep = select.epoll()
_ep.register(100, select.EPOLLIN)
"""


def _info(v: Victim) -> list[int]:
    """The numbers the victim's set-up wrote next to its counter."""
    path = pathlib.Path(f"{v.counter}.info")
    return [int(x) for x in path.read_text().split()]


def _write_info(*names: str) -> str:
    values = ", ".join(names)
    return (f"open(sys.argv[1] + '.info', 'w').write("
            f"' '.join(map(str, ({values},))))\n")


def _refused(v: Victim, tmp_path: pathlib.Path) -> str:
    r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
    assert r.returncode == 1, r.stderr
    line = one_line(r.stderr)
    assert line.startswith("Error (dump/files): "), line
    v.assert_running_untraced()
    assert not (tmp_path / "img" / "inventory.img").exists()
    return line


def test_epoll_target_closed_since_add(tmp_path: pathlib.Path) -> None:
    """The watched pipe lives on at another fd: the epoll names fd 100,
    which is closed."""
    v = Victim(tmp_path, extra=EPOLL_SETUP + "_keep = os.dup(100)\n"
               "os.close(100)\n" + _write_info("_ep.fileno()"))
    try:
        (epfd,) = _info(v)
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {epfd}: epoll: target fd 100 is no " \
            "longer open" in line, line
    finally:
        v.kill()


def test_epoll_target_fd_reused(tmp_path: pathlib.Path) -> None:
    """fd 100 now holds another file than the one the epoll watches."""
    v = Victim(tmp_path, extra=EPOLL_SETUP + "_keep = os.dup(100)\n"
               "os.dup2(_w, 100)\n" + _write_info("_ep.fileno()"))
    try:
        (epfd,) = _info(v)
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {epfd}: epoll: target fd 100 of task " \
            f"{v.pid} is no longer the watched file" in line, line
    finally:
        v.kill()


def test_epoll_shared_with_a_task_lacking_the_target(
        tmp_path: pathlib.Path) -> None:
    """A child inherited the epoll and closed the target: restore could not
    add the target through the child's fds."""
    child_code = ("_child = os.fork()\n"
                  "if _child == 0:\n"
                  "    os.close(100)\n"
                  "    import time\n"
                  "    time.sleep(600)\n"
                  "    os._exit(0)\n")
    v = Victim(tmp_path, extra=EPOLL_SETUP + child_code +
               _write_info("_ep.fileno()", "_child"))
    epfd, child = _info(v)
    try:
        line = _refused(v, tmp_path)
        assert f"fd {epfd}: epoll shared with task " in line, line
        assert "target fd 100 is no longer open" in line, line
        with open(f"/proc/{child}/status") as f:
            assert "TracerPid:\t0\n" in f.read()
    finally:
        os.kill(child, signal.SIGKILL)
        v.kill()


INOTIFY_SETUP = """
import ctypes, os, sys
_libc = ctypes.CDLL(None, use_errno=True)
_path = sys.argv[1] + '.watched'
_keep = os.open(_path, os.O_RDWR | os.O_CREAT, 0o600)
_in = _libc.inotify_init1(0)
_wd = _libc.inotify_add_watch(_in, _path.encode(), 2)
assert _in >= 0 and _wd > 0
os.unlink(_path)
"""


def test_inotify_watch_on_a_deleted_file(tmp_path: pathlib.Path) -> None:
    """The watched file was unlinked (still open, so the watch lives on):
    restore would find no file to watch."""
    v = Victim(tmp_path, extra=INOTIFY_SETUP + _write_info("_in", "_wd"))
    try:
        ifd, wd = _info(v)
        line = _refused(v, tmp_path)
        assert f"task {v.pid}: fd {ifd}: inotify watch wd {wd} " in line, line
        assert "deleted" in line or "handle" in line, line
    finally:
        v.kill()


@pytest.mark.skipif(not os.path.exists("/usr/bin/crit"),
                    reason="CRIU's crit is not installed")
def test_crit_decodes_epoll_and_inotify(tmp_path: pathlib.Path) -> None:
    """What we image, CRIU's crit reads: the target's data and the watch's
    wd, mask and handle."""
    watched = tmp_path / "dir"
    watched.mkdir()
    setup = (EPOLL_SETUP.replace("select.EPOLLIN)",
                                 "select.EPOLLIN | select.EPOLLET)")
             + "import ctypes\n"
             "_libc = ctypes.CDLL(None, use_errno=True)\n"
             "_in = _libc.inotify_init1(0)\n"
             f"_wd = _libc.inotify_add_watch(_in, b'{watched}', 0x300)\n")
    v = Victim(tmp_path, extra=setup)
    try:
        images = tmp_path / "img"
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
        v.assert_running_untraced()
        out = subprocess.run(["/usr/bin/crit", "decode", "-i",
                              str(images / "files.img")],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        entries = json.loads(out.stdout)["entries"]
        (ep,) = [e["epfd"] for e in entries if e["type"] == "EVENTPOLL"]
        (t,) = ep["tfd"]
        assert (t["tfd"], t["data"], t["events"]) == \
            (100, 100, 0x80000019)      # select.epoll: data is the fd
        st = watched.stat()
        (ify,) = [e["ify"] for e in entries if e["type"] == "INOTIFY"]
        (w,) = ify["wd"]
        assert (w["wd"], w["i_ino"], w["mask"]) == (1, st.st_ino, 0x300)
        # the kernel's encoding of the device, as CRIU's images have it
        assert w["s_dev"] == os.major(st.st_dev) << 20 | os.minor(st.st_dev)
        assert w["f_handle"]["path"] == str(watched)
        assert len(w["f_handle"]["handle"]) == 16
    finally:
        v.kill()
