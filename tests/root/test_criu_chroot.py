"""A task living in a chroot: dump, restore, and it goes on in its root.

The victim chroots into a directory that holds no /proc (nor anything but
what the test puts there), moves into a subdirectory and counts, through
paths that only resolve from inside that root, into a file there.  After
`criu restore -d` its /proc/PID/root and cwd are the same directories and
the count goes on: criu's restore must not need any path of its own (not
even /proc/self) once the fs hook has changed the new task's root.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import time
from typing import Callable, Iterator

import pytest

from compel.native import prctl as nprctl
from compel.native.wait import kill_and_reap
from criu_testlib import build_c, criu

# Counts as long as its root and cwd are the ones it chose: "/inside"
# exists only in the chroot, getcwd() must say "/sub".
VICTIM_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	unsigned long n = 0;
	char buf[64];
	int fd, len;

	if (argc != 2 || chroot(argv[1]) || chdir("/sub"))
		return 2;
	for (;;) {
		if (access("/inside", F_OK) || !getcwd(buf, sizeof(buf)) ||
		    strcmp(buf, "/sub"))
			return 3;
		len = snprintf(buf, sizeof(buf), "%lu", ++n);
		fd = open("count.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return 4;
		if (write(fd, buf, len) != len || close(fd))
			return 5;
		if (rename("count.tmp", "/count"))
			return 6;
		nanosleep(&pause, NULL);
	}
}
"""


@pytest.fixture(scope="module", autouse=True)
def subreaper() -> Iterator[None]:
    """The restored task (criu, its parent, exits with -d) becomes our
    child while this module runs, so the test can reap what it kills."""
    nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 1)
    yield
    nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 0)


@pytest.fixture(scope="module")
def victim_exe(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_c(tmp_path_factory.mktemp("chroot-victim"), "victim",
                   VICTIM_C)


def wait_for(predicate: Callable[[], bool], what: str,
             limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.01)


def count(root: pathlib.Path) -> int:
    try:
        return int((root / "count").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def test_chrooted_task_restored_in_its_root(victim_exe: pathlib.Path,
                                            tmp_path: pathlib.Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "inside").touch()
    images = tmp_path / "img"
    proc = subprocess.Popen([str(victim_exe), str(root)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    pid = proc.pid
    try:
        wait_for(lambda: count(root) > 0 or proc.poll() is not None,
                 "the victim counting in its chroot")
        assert proc.poll() is None, f"victim exited ({proc.returncode})"
        assert os.readlink(f"/proc/{pid}/root") == str(root)
        assert os.readlink(f"/proc/{pid}/cwd") == str(root / "sub")
        r = criu("dump", "-t", str(pid), "-D", str(images), "-o", "dump.log",
                 "-v4")
        assert r.returncode == 0, r.stderr
        proc.wait(timeout=30)           # criu killed it: reap it
        before = count(root)
        r = criu("restore", "-D", str(images), "-d", "-o", "restore.log",
                 "-v4")
        assert r.returncode == 0, r.stderr + (images /
                                              "restore.log").read_text()
        assert os.readlink(f"/proc/{pid}/root") == str(root)
        assert os.readlink(f"/proc/{pid}/cwd") == str(root / "sub")
        # It counts on from where it stopped, through its own root and cwd
        # (it exits at once if either were another directory).
        wait_for(lambda: count(root) > before + 20 or
                 not os.path.exists(f"/proc/{pid}/root"),
                 "the restored task counting on")
        assert count(root) > before + 20
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        assert "TracerPid:\t0\n" in status
        assert "State:\tZ" not in status
    finally:
        kill_and_reap(pid)
