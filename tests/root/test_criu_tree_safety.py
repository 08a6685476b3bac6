"""Nothing lost, for a whole tree: a dump that fails at any step leaves
every task of a tree (a parent, a child, a thread each, memory shared
between them) running as before; a restore that fails in one task leaves
no task of the tree behind, every PID free again, the images untouched;
and a good restore brings the tree back with its PIDs and TIDs."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time

import pytest

from criu_testlib import build_c, criu, dir_digest, iter_steps, one_line

TREE_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* words[0..3]: parent, parent's thread, child, child's thread */
static volatile unsigned long *words;

static void *spin(void *arg)
{
	for (;;) {
		words[(long)arg]++;
		usleep(1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int me = 0;

	words = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fork() == 0)
		me = 2;
	pthread_create(&t, NULL, spin, (void *)(long)(me + 1));
	if (me == 0) {
		FILE *f = fopen(argv[1], "w");
		fprintf(f, "%p\n", (void *)words);
		fclose(f);
	}
	spin((void *)(long)me);
	return 0;
}
"""


class Tree:
    """The victim tree, in its own session; the test is its reaper."""

    def __init__(self, tmp: pathlib.Path, binary: pathlib.Path) -> None:
        self.ready = tmp / "ready"
        self.proc = subprocess.Popen(
            [str(binary), str(self.ready)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while not (self.ready.exists() and self.ready.read_text()):
            assert time.monotonic() < deadline, "the tree did not start"
            time.sleep(0.01)
        self.addr = int(self.ready.read_text(), 16)
        while not _read(f"/proc/{self.pid}/task/{self.pid}/children"):
            assert time.monotonic() < deadline, "no child"
            time.sleep(0.01)
        self.kid = int(_read(f"/proc/{self.pid}/task/{self.pid}/children"))
        while True:     # both processes have started their thread
            self.tids = {p: sorted(int(t) for t in
                                   os.listdir(f"/proc/{p}/task"))
                         for p in (self.pid, self.kid)}
            if all(len(t) == 2 for t in self.tids.values()):
                break
            assert time.monotonic() < deadline, self.tids
            time.sleep(0.01)

    def words(self) -> list[int]:
        with open(f"/proc/{self.pid}/mem", "rb") as f:
            f.seek(self.addr)
            data = f.read(32)
        return [int.from_bytes(data[i:i + 8], "little") for i in (0, 8, 16,
                                                                  24)]

    def assert_running_untraced(self) -> None:
        """Every task and thread there, not traced, not stopped, and all
        four counters in the shared page moving."""
        for pid, tids in self.tids.items():
            assert sorted(int(t) for t in
                          os.listdir(f"/proc/{pid}/task")) == tids
            for tid in tids:
                status = _read(f"/proc/{pid}/task/{tid}/status")
                fields = dict(ln.split(":", 1) for ln in status.splitlines())
                assert fields["TracerPid"].strip() == "0"
                assert fields["State"].strip()[0] in "RS", fields["State"]
        assert "memfd:" not in _read(f"/proc/{self.pid}/maps")
        before = self.words()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(b > a for a, b in zip(before, self.words())):
                return
            time.sleep(0.01)
        raise AssertionError(f"counters stuck: {before} {self.words()}")

    def kill(self) -> None:
        for pid in (self.kid, self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        reap_all()


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def reap_all(limit: float = 10.0) -> None:
    """Reap every child (the test is a subreaper) until none is left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_c(tmp_path_factory.mktemp("tree"), "tree", TREE_C,
                   "-pthread")


@pytest.fixture(autouse=True)
def subreaper():  # type: ignore[no-untyped-def]
    from compel.native.prctl import PR_SET_CHILD_SUBREAPER, prctl
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    yield
    reap_all()


@pytest.mark.parametrize("step", list(iter_steps()))
def test_fault_at_each_dump_step_leaves_the_tree_running(
        step: str, binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    tree = Tree(tmp_path, binary)
    try:
        r = criu("dump", "-t", str(tree.pid), "-D", str(tmp_path / "img"),
                 "-o", "dump.log", "-v4", env={"CRIU_FAULT_INJECT": step})
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert f"fault injected after step {step}" in line
        assert "left running" in line
        tree.assert_running_untraced()
        assert not (tmp_path / "img" / "inventory.img").exists()
    finally:
        tree.kill()


def _dumped(tree: Tree, img: pathlib.Path) -> None:
    r = criu("dump", "-t", str(tree.pid), "-D", str(img))
    assert r.returncode == 0, r.stderr
    tree.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{p}") for p in tree.tids):
        assert time.monotonic() < deadline, "dumped tree still there"
        reap_all(0.05)


def test_failed_restore_in_one_task_leaves_nothing(
        binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    tree = Tree(tmp_path, binary)
    img = tmp_path / "img"
    try:
        _dumped(tree, img)
    finally:
        tree.kill()
    # The child's memory image points at a file that is not there: the
    # child fails after the root was created and forked it.
    (img / f"mm-{tree.kid}.img").rename(tmp_path / "mm-saved")
    (img / f"mm-{tree.kid}.img").symlink_to("/nonexistent")
    before = dir_digest(img)
    r = criu("restore", "-D", str(img), "-d")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("Error (restore/memory): "), line
    assert f"mm-{tree.kid}.img" in line or f"task {tree.kid}" in line, line
    reap_all(1.0)
    for pid, tids in tree.tids.items():
        for tid in tids:
            assert not os.path.exists(f"/proc/{tid}"), f"{tid} left behind"
    assert dir_digest(img) == before


def test_restore_brings_the_tree_back(binary: pathlib.Path,
                                      tmp_path: pathlib.Path) -> None:
    tree = Tree(tmp_path, binary)
    img = tmp_path / "img"
    try:
        _dumped(tree, img)
        r = criu("restore", "-D", str(img), "-d")
        assert r.returncode == 0, r.stderr
        assert int(_read(f"/proc/{tree.pid}/task/{tree.pid}/children")) == \
            tree.kid
        tree.assert_running_untraced()      # same PIDs, TIDs, shared page
    finally:
        tree.kill()
