"""`criu restore` modes of criu(8): --exec-cmd (a command takes criu's
place as the parent of the restored root) and -S/--restore-sibling (the
root becomes criu's sibling: its parent is criu's parent)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

from criu_testlib import CRIU, Victim, criu


def _dump_and_reap(v: Victim, img: pathlib.Path) -> None:
    r = criu("dump", "-t", str(v.pid), "-D", str(img))
    assert r.returncode == 0, r.stderr
    v.proc.wait(timeout=30)         # dumped and killed: reap our child


def test_exec_cmd_runs_as_the_roots_parent(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path)
    img = tmp_path / "img"
    _dump_and_reap(v, img)
    out = tmp_path / "out"
    # The command sees the restored root as its own child, counting.
    script = (f"echo $$ $(ps -o ppid= -p {v.pid}) > {out}; "
              f"kill -9 {v.pid}; wait {v.pid} 2>/dev/null; exit 0")
    r = subprocess.run([str(CRIU), "restore", "-D", str(img),
                        "--exec-cmd", "--", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    shell, ppid = out.read_text().split()
    assert shell == ppid


def test_exec_cmd_refuses_what_criu_refuses(tmp_path: pathlib.Path) -> None:
    for args, says in (
            (["restore", "-d", "--exec-cmd", "--", "true"],
             "--restore-detached and --exec-cmd cannot be used together"),
            (["restore", "--exec-cmd"], "--exec-cmd requires a command"),
            (["dump", "-t", "1", "--exec-cmd", "--", "true"],
             "--exec-cmd is available for the restore command only")):
        r = criu(*args, "-D", str(tmp_path))
        assert r.returncode == 1 and says in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_restore_sibling_gives_the_root_criu_s_parent(
        tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path)
    img = tmp_path / "img"
    _dump_and_reap(v, img)
    r = criu("restore", "-D", str(img), "-S")
    try:
        assert r.returncode == 0, r.stderr
        with open(f"/proc/{v.pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        assert ppid == os.getpid()          # criu's parent: this test
        start = v.count()
        deadline = time.monotonic() + 10
        while v.count() == start and time.monotonic() < deadline:
            time.sleep(0.01)
        assert v.count() > start, "the restored root does not count"
    finally:
        try:
            os.kill(v.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.waitpid(v.pid, os.WNOHANG)[0] == v.pid:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)


def test_freeze_cgroup_is_refused_not_ignored(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path)
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(tmp_path / "img"),
                 "--freeze-cgroup", "/sys/fs/cgroup/freezer")
        assert r.returncode == 1
        assert "--freeze-cgroup is not supported yet" in r.stderr
        v.assert_running_untraced()
    finally:
        v.kill()


def test_action_scripts(tmp_path: pathlib.Path) -> None:
    """--action-script runs at each point, in order, with CRIU's
    variables; one that fails at post-dump fails the dump and leaves the
    task running."""
    from criu_testlib import Victim, criu as run_criu, one_line
    trace = tmp_path / "trace"
    script = (f'echo "$CRTOOLS_SCRIPT_ACTION $CRTOOLS_INIT_PID '
              f'$CRTOOLS_IMAGE_DIR" >> {trace}')
    v = Victim(tmp_path)
    images = tmp_path / "img"
    try:
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images), "-R",
                     "--action-script", script, "--action-script",
                     'test "$CRTOOLS_SCRIPT_ACTION" != post-dump')
        assert r.returncode == 1
        assert "failed at post-dump (exit status 1)" in one_line(r.stderr)
        v.assert_running_untraced()
        r = run_criu("dump", "-t", str(v.pid), "-D", str(images),
                     "--action-script", script)
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
        r = run_criu("restore", "-D", str(images), "-d",
                     "--action-script", script)
        assert r.returncode == 0, r.stderr
        os.kill(v.pid, 9)
    finally:
        v.kill()
    lines = trace.read_text().splitlines()
    pid, img = str(v.pid), str(images)
    assert lines == [
        f"pre-dump {pid} {img}", f"post-dump {pid} {img}",     # failed one
        f"pre-dump {pid} {img}", f"post-dump {pid} {img}",
        f"pre-restore  {img}", f"post-restore {pid} {img}",
        f"pre-resume {pid} {img}", f"post-resume {pid} {img}"]
