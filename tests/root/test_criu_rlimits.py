"""rlimits: read from /proc/PID/limits at dump (no CAP_SYS_RESOURCE
needed), set back at restore; a limit that cannot be raised is reported
clearly in the log and the restore goes on, like CRIU."""

from __future__ import annotations

import os
import pathlib
import resource
import subprocess
import time

from criu_testlib import CRIU, Victim, criu


def _limits(pid: int) -> str:
    with open(f"/proc/{pid}/limits") as f:
        return f.read()


def test_unraisable_limit_is_reported(tmp_path: pathlib.Path) -> None:
    v = Victim(tmp_path, extra=(
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_CORE, (4096, 1 << 30))\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 400))\n"))
    images = tmp_path / "img"
    try:
        before = _limits(v.pid)
        r = criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
    finally:
        v.kill()
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{v.pid}"):
        assert time.monotonic() < deadline
        time.sleep(0.01)

    def lower_core_hard() -> None:     # criu runs with a lower hard limit
        resource.setrlimit(resource.RLIMIT_CORE, (0, 1 << 20))

    r = subprocess.run([str(CRIU), "restore", "-D", str(images), "-d",
                        "-o", "restore.log", "-v4"], capture_output=True,
                       text=True, timeout=120, preexec_fn=lower_core_hard)
    assert r.returncode == 0, r.stderr
    try:
        log = (images / "restore.log").read_text()
        assert "rlimit core: cannot set soft 4096 hard 1073741824" in log
        assert "CAP_SYS_RESOURCE" in log
        after = _limits(v.pid)
        core_row = [line for line in after.splitlines()
                    if line.startswith("Max core file size")][0]
        assert core_row.split()[4:6] == ["4096", "1048576"]
        # every other limit came back as it was
        keep = [line for line in before.splitlines()
                if not line.startswith("Max core file size")]
        assert keep == [line for line in after.splitlines()
                        if not line.startswith("Max core file size")]
    finally:
        os.kill(v.pid, 9)


def test_limits_below_criu_own_needs(tmp_path: pathlib.Path) -> None:
    """Address space, data and open-file limits below what criu itself
    uses in the new task before the restorer: the task comes back with
    exactly its limits (set by the restorer once criu is gone)."""
    v = Victim(tmp_path, extra=(
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (4, 6))\n"
        "resource.setrlimit(resource.RLIMIT_DATA, (12 << 20, 16 << 20))\n"
        "resource.setrlimit(resource.RLIMIT_AS, (24 << 20, 32 << 20))\n"))
    images = tmp_path / "img"
    try:
        before = _limits(v.pid)
        r = criu("dump", "-t", str(v.pid), "-D", str(images))
        assert r.returncode == 0, r.stderr
        v.proc.wait(timeout=30)
    finally:
        v.kill()
    r = criu("restore", "-D", str(images), "-d", "-o", "restore.log", "-v4")
    assert r.returncode == 0, r.stderr
    try:
        assert _limits(v.pid) == before
        assert "could not be restored" not in \
            (images / "restore.log").read_text()
        at_restore = v.count()     # and it runs within them
        deadline = time.monotonic() + 30
        while v.count() <= at_restore:
            assert time.monotonic() < deadline, "restored task not counting"
            time.sleep(0.01)
    finally:
        os.kill(v.pid, 9)
