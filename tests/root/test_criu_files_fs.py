"""Files and fs resources, both sides: a real dump of a task holding
regular files (position, O_APPEND, a dup, close-on-exec), /dev/null and a
pipe with data, then the restore hooks run in a forked child: its fd table,
cwd and umask must match what the task had."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from criu_testlib import CRIU, criu

VICTIM = r"""
import fcntl, os, sys, time
d = sys.argv[1]

def high(fd):
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)
    os.close(fd)
    return new

os.umask(0o027)
os.chdir(os.path.join(d, "sub"))
f = high(os.open(os.path.join(d, "data"), os.O_RDWR | os.O_CREAT, 0o644))
r, w = map(high, os.pipe())
a = high(os.open(os.path.join(d, "log"), os.O_WRONLY | os.O_APPEND |
                 os.O_CREAT))
n = high(os.open("/dev/null", os.O_WRONLY))
os.write(f, b"hello world")
os.lseek(f, 5, os.SEEK_SET)
fcntl.fcntl(w, 1031, 1 << 17)                  # F_SETPIPE_SZ: 128 KiB
os.write(w, b"pipedata")
os.write(a, b"12345")
os.dup2(f, 3)
os.dup2(3, 4)                                   # same open file description
os.dup2(r, 5)
os.dup2(w, 6)
os.dup2(a, 7)
os.dup2(n, 8, inheritable=False)                # close-on-exec
os.dup2(a, 3000)                                # far up the fd table
for fd in (f, r, w, a, n):
    os.close(fd)
# "ready" must name a task whose fd table is final: creating it directly
# would let the test see it while its fd (9) is still open, snapshot that
# fd, and then miss it in the dump (the old flake under load).  Its name
# appears only once the fd is closed.
open(os.path.join(d, "ready.tmp"), "w").close()  # closed, then
os.rename(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
while True:
    time.sleep(1)
"""
# The victim's fds once it is ready: nothing else may be open then.
VICTIM_FDS = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "3000"}

CHILD = r"""
import json, os, sys
from criu import log
from criu.imagedir import ImageDir
from criu.options import Options
from criu.resources import files, fs
from criu.resources.base import RestoreContext, RestoreTask
images, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logger = log.setup(4, "child.log", images)
d = ImageDir(images)
core = d.read_one(f"core-{pid}.img")
ctx = RestoreContext(opts=Options(images_dir=images), images=d, log=logger)
task = RestoreTask(pid=pid, ppid=0, pgid=pid, sid=pid, threads=[pid],
                   core=core, ids=core.ids)
ctx.tasks.append(task)
res = task.service_fds.keep(os.open(out, os.O_WRONLY | os.O_CREAT, 0o600),
                            "result")
files.restore(ctx, task)
fs.restore(ctx, task)
view = {}
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    if fd >= task.service_fds.base:
        continue
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            info = f.read().split("\n")
    except OSError:
        continue
    fields = dict(line.split(":", 1) for line in info if ":" in line)
    target = os.readlink(f"/proc/self/fd/{fd}")
    view[fd] = [target.split(":")[0] if target.startswith("pipe:") else target,
                int(fields["pos"]), int(fields["flags"], 8)]
umask = os.umask(0)
data = os.read(5, 100).decode()
os.write(res, json.dumps({"fds": view, "cwd": os.getcwd(), "umask": umask,
                          "pipe": data}).encode())
os._exit(0)
"""


def start_until_ready(code: str, tmp: pathlib.Path) -> subprocess.Popen:
    """Start a Python victim in its own session with `tmp` as argument and
    wait (up to 30 s) until it has renamed its `ready` file into place."""
    v = subprocess.Popen([sys.executable, "-c", code, str(tmp)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    try:
        while not (tmp / "ready").exists():
            assert v.poll() is None, f"victim exited ({v.returncode})"
            assert time.monotonic() < deadline, "victim never got ready"
            time.sleep(0.01)
    except BaseException:
        v.kill()
        v.wait()
        raise
    return v


def _view(pid: int) -> dict[str, list]:  # type: ignore[type-arg]
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        fd = int(name)
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            fields = dict(line.split(":", 1) for line in f.read().split("\n")
                          if ":" in line)
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        out[str(fd)] = [target.split(":")[0] if target.startswith("pipe:")
                        else target, int(fields["pos"]),
                        int(fields["flags"], 8)]
    return out


def test_files_and_fs_round_trip(tmp_path: pathlib.Path) -> None:
    (tmp_path / "sub").mkdir()
    v = start_until_ready(VICTIM, tmp_path)
    try:
        before = _view(v.pid)
        assert set(before) == VICTIM_FDS
        images = tmp_path / "img"
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
    finally:
        v.kill()
        v.wait()
    from criu.imagedir import ImageDir
    with ImageDir(images) as d:
        fdi = {e.fd: e for e in d.read("fdinfo-1.img")}
    assert fdi[3].id == fdi[4].id           # the dup shares one file id
    assert fdi[8].flags == 1                # FD_CLOEXEC
    if os.path.exists("/usr/bin/crit"):     # CRIU's crit reads our pipe data
        out = subprocess.run(["/usr/bin/crit", "decode", "-i",
                              str(images / "pipes-data.img")],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert '"bytes": 8' in out.stdout
    out = tmp_path / "result.json"
    r2 = subprocess.run([sys.executable, "-c", CHILD, str(images),
                         str(v.pid), str(out)], capture_output=True,
                        text=True, timeout=60,
                        cwd=pathlib.Path(__file__).resolve().parents[2])
    assert r2.returncode == 0, r2.stderr + (images / "child.log").read_text()
    got = json.loads(out.read_text())
    assert got["cwd"] == str(tmp_path / "sub")
    assert got["umask"] == 0o027
    assert got["pipe"] == "pipedata"
    assert got["fds"] == before


def test_files_and_fs_full_restore(tmp_path: pathlib.Path) -> None:
    """The same task through a real `criu dump` + `criu restore -d`."""
    (tmp_path / "sub").mkdir()
    v = start_until_ready(VICTIM, tmp_path)
    images = tmp_path / "img"
    try:
        before = _view(v.pid)
        assert set(before) == VICTIM_FDS
        r = criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.wait(timeout=30)
    finally:
        if v.poll() is None:
            v.kill()
            v.wait()
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{v.pid}"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r = criu("restore", "-D", str(images), "-d", "-o", "restore.log", "-v4")
    assert r.returncode == 0, r.stderr
    try:
        assert _view(v.pid) == before
        assert os.readlink(f"/proc/{v.pid}/cwd") == str(tmp_path / "sub")
        with open(f"/proc/{v.pid}/status") as f:
            assert "Umask:\t0027\n" in f.read()
        # the pipe's buffered data came back (read through our own end)
        fd = os.open(f"/proc/{v.pid}/fd/5", os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert fcntl.fcntl(fd, 1032) == 1 << 17     # F_GETPIPE_SZ
            assert os.read(fd, 100) == b"pipedata"
        finally:
            os.close(fd)
    finally:
        os.kill(v.pid, 9)


PRINTER = r"""
import sys, time
i = 0
while True:
    i += 1
    print(i, flush=True)
    time.sleep(0.005)
"""


def test_stdout_pipe_inherited(tmp_path: pathlib.Path) -> None:
    """stdout on a pipe whose reader stays outside: restored with
    --inherit-fd fd[N]:pipe:[INODE], the task writes on into the same pipe."""
    r, w = os.pipe()
    v = subprocess.Popen([sys.executable, "-c", PRINTER], stdout=w,
                         stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    pid = v.pid
    images = tmp_path / "img"
    reader = os.fdopen(r, "r")
    try:
        last = int(reader.readline())
        res = criu("dump", "-t", str(pid), "-D", str(images))
        assert res.returncode == 0, res.stderr
        v.wait(timeout=30)
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{pid}"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # what was written before the dump, and is still in the pipe
        from criu.imagedir import ImageDir
        with ImageDir(images) as d:
            pipe_ids = {f.pipe.pipe_id for f in d.read("files.img")
                        if f.type == 2}
        assert pipe_ids == {os.fstat(w).st_ino}
        ino = pipe_ids.pop()
        out = subprocess.run([str(CRIU), "restore", "-D", str(images), "-d",
                              "--inherit-fd", f"fd[{w}]:pipe:[{ino}]"],
                             pass_fds=(w,), capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        os.close(w)
        w = -1
        numbers = [int(reader.readline()) for _ in range(400)]
        # one sequence, no gap, no repeat: the same task writing on
        assert numbers == list(range(last + 1, last + 401))
    finally:
        reader.close()
        if w >= 0:
            os.close(w)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


GHOSTS = r"""
import os, sys, tempfile, time
d = sys.argv[1]
t = tempfile.TemporaryFile(dir=d)               # O_TMPFILE or unlinked
t.write(b"temporary data")
t.flush()
os.dup2(t.fileno(), 3)
p = os.path.join(d, "gone")
g = os.open(p, os.O_RDWR | os.O_CREAT, 0o640)
os.pwrite(g, b"head", 0)
os.pwrite(g, b"tail", 512 << 10)                # a 512 KiB hole between
os.lseek(g, 2, os.SEEK_SET)
os.dup2(g, 4)
os.dup2(os.open(p, os.O_RDONLY), 5)             # a second description
os.unlink(p)
open(os.path.join(d, "ready.tmp"), "w").close()  # closed, then
os.rename(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
while True:
    time.sleep(1)
"""


def test_unlinked_files_come_back(tmp_path: pathlib.Path) -> None:
    v = start_until_ready(GHOSTS, tmp_path)
    images = tmp_path / "img"
    try:
        before = _view(v.pid)
        assert before["4"][0] == f"{tmp_path}/gone (deleted)"
        r = criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.wait(timeout=30)
    finally:
        if v.poll() is None:
            v.kill()
            v.wait()
    # the hole is not in the image: only the data regions are
    ghosts = sorted(images.glob("ghost-file-*.img"))
    assert len(ghosts) == 2
    assert sum(p.stat().st_size for p in ghosts) < 1 << 16
    if os.path.exists("/usr/bin/crit"):     # CRIU's crit reads them
        for img in [*ghosts, images / "remap-fpath.img"]:
            out = subprocess.run(["/usr/bin/crit", "decode", "-i", str(img)],
                                 capture_output=True, text=True)
            assert out.returncode == 0, f"{img.name}: {out.stderr}"
    r = criu("restore", "-D", str(images), "-d", "-o", "restore.log", "-v4")
    assert r.returncode == 0, r.stderr
    try:
        after = _view(v.pid)
        # O_TMPFILE's flag bits cannot be set again on a reopened file
        after["3"][2] |= before["3"][2] & 0o20200000
        assert after == before
        with open(f"/proc/{v.pid}/fd/3", "rb") as f:
            assert f.read() == b"temporary data"
        with open(f"/proc/{v.pid}/fd/5", "rb") as f:
            data = f.read()
        assert len(data) == (512 << 10) + 4
        assert data[:4] == b"head" and data[-4:] == b"tail"
        assert data[4:-4].count(0) == len(data) - 8
        st = os.stat(f"/proc/{v.pid}/fd/4")
        assert st.st_nlink == 0 and oct(st.st_mode & 0o777) == oct(0o640)
    finally:
        os.kill(v.pid, 9)


def test_ghost_limit(tmp_path: pathlib.Path) -> None:
    big = ("import os, sys, time\n"
           "f = os.open(os.path.join(sys.argv[1], 'big'), "
           "os.O_RDWR | os.O_CREAT)\n"
           "os.ftruncate(f, 2 << 20)\n"
           "os.unlink(os.path.join(sys.argv[1], 'big'))\n"
           "open(os.path.join(sys.argv[1], 'r.tmp'), 'w').close()\n"
           "os.rename(os.path.join(sys.argv[1], 'r.tmp'), "
           "os.path.join(sys.argv[1], 'ready'))\n"
           "time.sleep(600)\n")
    v = start_until_ready(big, tmp_path)
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"))
        assert r.returncode == 1
        assert "over the ghost limit" in r.stderr
        assert v.poll() is None
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"),
                 "--ghost-limit", "3M", "-R")
        assert r.returncode == 0, r.stderr
    finally:
        v.kill()
        v.wait()


def test_other_devices_need_evasive_devices(tmp_path: pathlib.Path) -> None:
    """A device other than /dev/null & co. (here /dev/net/tun, not
    attached to any interface) is refused without --evasive-devices and
    reopened by its path with it."""
    from criu_testlib import Victim, criu as run_criu, one_line
    v = Victim(tmp_path, extra="import os\n"
               "t = os.open('/dev/net/tun', os.O_RDWR)\n"
               "os.dup2(t, 7)\nos.close(t)\n")
    images = tmp_path / "img"
    try:
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"task {v.pid}: fd 7: /dev/net/tun: character device " \
            "10:200" in line and "--evasive-devices" in line, line
        v.assert_running_untraced()
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images),
                     "--evasive-devices")
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
        r = run_criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        try:
            assert os.readlink(f"/proc/{v.pid}/fd/7") == "/dev/net/tun"
            st = os.stat(f"/proc/{v.pid}/fd/7")
            assert os.major(st.st_rdev) == 10 and os.minor(st.st_rdev) == 200
            start, deadline = v.count(), time.monotonic() + 30
            while v.count() <= start:               # it runs on
                assert time.monotonic() < deadline
                time.sleep(0.01)
        finally:
            os.kill(v.pid, 9)
    finally:
        v.kill()


def test_link_remap(tmp_path: pathlib.Path) -> None:
    """A file deleted under its name while another link keeps it: refused
    without --link-remap; with it, a dump that fails later removes its
    link_remap link again, and a good dump and restore give the task the
    same file back with no link left."""
    from criu_testlib import Victim, criu as run_criu, one_line
    v = Victim(tmp_path, extra=(
        "import os\n"
        f"t = os.open({str(tmp_path / 'a')!r}, os.O_RDWR | os.O_CREAT)\n"
        f"os.link({str(tmp_path / 'a')!r}, {str(tmp_path / 'b')!r})\n"
        f"os.unlink({str(tmp_path / 'a')!r})\nos.dup2(t, 9)\n"))
    images = tmp_path / "img"
    links = lambda: sorted(p.name for p in tmp_path.glob("link_remap.*"))  # noqa: E731
    try:
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 1
        assert "still linked elsewhere" in one_line(r.stderr)
        assert "--link-remap" in one_line(r.stderr)
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images),
                     "--link-remap", env={"CRIU_FAULT_INJECT": "images"})
        assert r.returncode == 1
        assert links() == []
        v.assert_running_untraced()
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images),
                     "--link-remap")
        assert r.returncode == 0, r.stderr
        assert len(links()) == 1
        v.proc.wait(timeout=30)
        r = run_criu("restore", "-D", str(images), "-d")
        assert r.returncode == 0, r.stderr
        try:
            assert links() == []
            assert os.readlink(f"/proc/{v.pid}/fd/9") == \
                f"{tmp_path / 'a'} (deleted)"
            assert os.stat(f"/proc/{v.pid}/fd/9").st_ino == \
                os.stat(tmp_path / "b").st_ino
        finally:
            os.kill(v.pid, 9)
    finally:
        v.kill()
