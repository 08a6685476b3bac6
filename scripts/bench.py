#!/usr/bin/env python3
"""Dump/restore benchmark: several victims, several times each, with our
criu and optionally another one.

    scripts/bench.py [--runs N] [--only NAME[,NAME]] [--other-criu PATH]
                     [--size-mib M] [--tree N] [--threads N] [--redis-keys N]
                     [--fds N]
                     [--timeout S]

Victims (--only takes their names):
  loop     a tiny C loop
  mem      a C process holding --size-mib MiB (1024) of non-zero memory
  tree     a C process and its --tree - 1 (63) sleeping children
  threads  one C process with --threads (32) threads
  redis    redis-server holding --redis-keys (1M) keys, filled over a RESP
           pipe on 127.0.0.1 before the dump; DBSIZE and one GET through
           redis-cli after the restore
  python   python3 running a threading.Thread
  fds      a C process holding --fds (10000) fds of mixed kinds (files
           each at its own offset, dups, directories, /dev/null, a FIFO,
           pipes, one pipe holding 1 MiB)

Each round starts a fresh victim, runs `criu dump -t PID -D DIR` (which
kills it) and `criu restore -D DIR -d`, checks the restored victim (same
PIDs alive, thread count, redis' keys) and kills it.  For each criu and
victim it prints the median wall time of dump and of restore, the size of
the pages-*.img and the page throughput (bytes per second of dump /
restore, where the victim has memory worth measuring) and criu's peak RSS
(ru_maxrss of the criu process, from wait4 in a small C runner that
starts it: a child of this Python process would inherit its peak).  With --other-criu, both are
run alternately round by round and the ratios (other / ours, >1 means ours
is faster) are printed.  A criu that fails on a victim gets one line,
"criu failed: <its error>", and the other victims go on.  Needs root.

The script makes itself a child subreaper, so that everything it starts
(the victims, their children, the restored tasks once criu exits) stays
its descendant and is reaped here; it only ever kills PIDs it started (the
restored tasks have the same PIDs, checked by their name and parent).
"""

from __future__ import annotations

import abc
import argparse
import ctypes
import os
import pathlib
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUR_CRIU = ROOT / ".venv" / "bin" / "criu"
PR_SET_CHILD_SUBREAPER = 36

VICTIM_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* argv[1]: MiB of non-zero memory to hold; then loop forever. */
int main(int argc, char **argv)
{
	size_t size = (size_t)atol(argv[1]) << 20;
	unsigned char *mem = NULL;
	volatile unsigned long ticks = 0;
	size_t i;

	if (size) {
		mem = malloc(size);
		if (!mem)
			return 1;
		for (i = 0; i < size; i++)
			mem[i] = (unsigned char)(i * 7 + 1) | 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ticks++;
		usleep(1000);
	}
	return mem[0];
}
"""

TREE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* argv[1]: processes in all; the first forks the others, which sleep. */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), i;
	volatile unsigned long ticks = 0;

	for (i = 1; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0)
			for (;;) {
				ticks++;
				usleep(100000);
			}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ticks++;
		usleep(1000);
	}
}
"""

THREADS_C = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_barrier_t started;

static void *worker(void *arg)
{
	volatile unsigned long ticks = 0;

	pthread_barrier_wait(&started);
	for (;;) {
		ticks++;
		usleep(10000);
	}
	return arg;
}

/* argv[1]: threads in all, the main one included. */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), i;
	volatile unsigned long ticks = 0;
	pthread_t t;

	pthread_barrier_init(&started, NULL, n);
	for (i = 1; i < n; i++)
		if (pthread_create(&t, NULL, worker, NULL))
			return 1;
	pthread_barrier_wait(&started);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ticks++;
		usleep(1000);
	}
}
"""

# criu is run through this: a child of ours inherits our peak RSS (at exec
# the kernel keeps the old mm's high-water mark in ru_maxrss, and a vfork
# child's old mm is ours), so criu's own peak needs a fresh child of a
# small process.
RUNNER_C = r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* runner OUT PROG ARGS...: run PROG, write "<its ru_maxrss KiB> <wall ns>"
 * to OUT, exit as it did.  PROG dies with the runner. */
int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "Error: cannot run %s: %s\n", argv[2],
			strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &b);
	f = fopen(argv[1], "w");
	if (f) {
		fprintf(f, "%ld %lld\n", ru.ru_maxrss,
			(b.tv_sec - a.tv_sec) * 1000000000LL + b.tv_nsec - a.tv_nsec);
		fclose(f);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
"""

FDS_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * argv[1]: fds to hold, argv[2]: a scratch directory.  Mixed kinds: a
 * quarter regular files opened one by one (each its own description, at
 * its own offset), a quarter dups of a few files, directories, /dev/null
 * and FIFOs, the rest pipe ends; one pipe holds 1 MiB.
 */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), i, fd, p[2], big[2];
	struct rlimit rl = { n + 64, n + 64 };
	static char buf[1 << 20];
	char path[4096];

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return 1;
	if (pipe(big) || fcntl(big[1], F_SETPIPE_SZ, 1 << 20) < (1 << 20))
		return 2;
	memset(buf, 'x', sizeof(buf));
	if (write(big[1], buf, sizeof(buf)) != sizeof(buf))
		return 3;
	snprintf(path, sizeof(path), "%s/fifo", argv[2]);
	mkfifo(path, 0600);
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "%s/file%d", argv[2], i);
		fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || write(fd, buf, 4096) != 4096)
			return 4;
		close(fd);
	}
	for (i = 0; i < n / 4; i++) {
		snprintf(path, sizeof(path), "%s/file%d", argv[2], i % 64);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return 5;
		lseek(fd, i % 4096, SEEK_SET);
	}
	for (i = 0; i < n / 4; i++) {
		switch (i % 4) {
		case 0: fd = dup(3); break;
		case 1: fd = open(argv[2], O_RDONLY | O_DIRECTORY); break;
		case 2: fd = open("/dev/null", O_RDWR); break;
		default:
			snprintf(path, sizeof(path), "%s/fifo", argv[2]);
			fd = open(path, O_RDWR);
		}
		if (fd < 0)
			return 6;
	}
	while (fcntl(n - 2, F_GETFD) < 0) {
		if (pipe(p))
			return 7;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}
"""

PY_THREAD = r"""
import threading, time

def work():
    n = 0
    while True:
        n += 1
        time.sleep(0.001)

threading.Thread(target=work, name="worker", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(0.01)
"""


class VictimError(Exception):
    """A victim could not be built or started (not criu's fault)."""


# --- processes this script started: pid -> comm ---------------------------

OURS: dict[int, str] = {}
CRIU_RUNNING: list[int] = []    # the criu command under way, if any


def proc_stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a live or zombie task, None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def is_ours(pid: int) -> bool:
    """The task now at pid is the one we started there (or its restored
    copy): same name, and its parent is us or another of ours."""
    st = proc_stat(pid)
    if st is None or pid not in OURS:
        return False
    comm, _, ppid = st
    return comm == OURS[pid] and (ppid == os.getpid() or ppid in OURS)


def register(pids: list[int]) -> None:
    for pid in pids:
        st = proc_stat(pid)
        if st is not None:
            OURS[pid] = st[0]


def reap() -> None:
    """Reap whatever of ours has died (we are a child subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Reap until none of pids exists any more; those still there after
    timeout are returned."""
    deadline = time.monotonic() + timeout
    while True:
        reap()
        left = [p for p in pids if os.path.exists(f"/proc/{p}")]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.005)


def kill_ours(pids: list[int]) -> None:
    """SIGKILL those of pids that are still ours, wait until they are gone,
    and forget them."""
    mine = [p for p in pids if is_ours(p)]
    for pid in mine:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left = wait_gone(mine)
    if left:
        print(f"  warning: PIDs {left} did not go away", file=sys.stderr)
    for pid in pids:
        OURS.pop(pid, None)


def kill_all_ours(*_args: object) -> None:
    for pid in CRIU_RUNNING:    # first the criu that works on our victims
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    CRIU_RUNNING.clear()
    kill_ours(list(OURS))
    if _args:                   # called as a signal handler
        print("bench.py: stopped by a signal; its victims are killed",
              file=sys.stderr)
        raise SystemExit(1)


# --- victims ---------------------------------------------------------------

def wait_ready(proc: subprocess.Popen, what: str,
               timeout: float = 30.0) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else b""
    proc.stdout.close()
    if line != b"ready":
        register([proc.pid])
        kill_ours([proc.pid])
        raise VictimError(f"{what} did not start")


def spawn(argv: list[str], what: str) -> int:
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError as e:
        raise VictimError(f"{what}: {e}") from e
    wait_ready(proc, what)
    # criu kills the task at dump: it is reaped by reap(), not by Popen.
    proc.returncode = 0
    return proc.pid


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def nthreads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def alive(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[1] not in "ZX"


def build_c(work: pathlib.Path, name: str, src: str,
            libs: tuple[str, ...] = ()) -> pathlib.Path:
    exe = work / name
    if not exe.exists():
        c = work / f"{name}.c"
        c.write_text(src)
        r = subprocess.run(["gcc", "-O2", "-o", str(exe), str(c), *libs],
                           capture_output=True, text=True)
        if r.returncode:
            raise VictimError(f"gcc {name}.c: {r.stderr.strip()}")
    return exe


class Victim(abc.ABC):
    """A benchmarked workload; each kind says how it starts."""

    key = ""
    label = ""
    gbps = False            # is page throughput worth printing?

    def prepare(self, work: pathlib.Path) -> None:
        self.work = work

    @abc.abstractmethod
    def start(self) -> list[int]:
        """Start one; its PIDs (the root first), registered as ours."""

    def check(self, pids: list[int]) -> str | None:
        """After restore: None if the victim is whole, else what is not."""
        for pid in pids:
            if not alive(pid):
                return f"PID {pid} is not running after restore"
        return None


class Loop(Victim):
    key, label = "loop", "tiny loop"

    def __init__(self, mib: int = 0):
        self.mib = mib

    def prepare(self, work):
        super().prepare(work)
        self.exe = build_c(work, "victim", VICTIM_C)

    def start(self):
        pids = [spawn([str(self.exe), str(self.mib)], self.label)]
        register(pids)
        return pids


class Mem(Loop):
    key, gbps = "mem", True

    def __init__(self, mib: int):
        super().__init__(mib)
        self.label = f"{mib} MiB"


class Tree(Victim):
    key = "tree"

    def __init__(self, n: int):
        self.n = n
        self.label = f"tree {n}"

    def prepare(self, work):
        super().prepare(work)
        self.exe = build_c(work, "victim-tree", TREE_C)

    def start(self):
        root = spawn([str(self.exe), str(self.n)], self.label)
        pids = [root] + children(root)
        register(pids)
        if len(pids) != self.n:
            kill_ours(pids)
            raise VictimError(f"{self.label}: {len(pids)} processes started")
        return pids

    def check(self, pids):
        return super().check(pids) or (
            None if sorted(children(pids[0])) == sorted(pids[1:]) else
            f"restored root has children {children(pids[0])}")


class Threads(Victim):
    key = "threads"

    def __init__(self, n: int):
        self.n = n
        self.label = f"{n} threads"

    def prepare(self, work):
        super().prepare(work)
        self.exe = build_c(work, "victim-threads", THREADS_C, ("-pthread",))

    def start(self):
        pids = [spawn([str(self.exe), str(self.n)], self.label)]
        register(pids)
        return pids

    def check(self, pids):
        n = nthreads(pids[0])
        return super().check(pids) or (
            None if n == self.n else f"{n} threads after restore")


class PyThread(Victim):
    key, label = "python", "py thread"

    def prepare(self, work):
        super().prepare(work)
        self.python = shutil.which("python3") or sys.executable

    def start(self):
        pids = [spawn([self.python, "-c", PY_THREAD], self.label)]
        register(pids)
        return pids

    def check(self, pids):
        n = nthreads(pids[0])
        return super().check(pids) or (
            None if n == 2 else f"{n} threads after restore")


class Fds(Victim):
    key = "fds"

    def __init__(self, n: int):
        self.n = n
        self.label = f"{n} fds"

    def prepare(self, work):
        super().prepare(work)
        self.exe = build_c(work, "victim-fds", FDS_C)
        self.scratch = work / "fds-scratch"
        self.scratch.mkdir(exist_ok=True)

    def start(self):
        pids = [spawn([str(self.exe), str(self.n), str(self.scratch)],
                      self.label)]
        register(pids)
        self.count = len(os.listdir(f"/proc/{pids[0]}/fd"))
        return pids

    def check(self, pids):
        try:
            n = len(os.listdir(f"/proc/{pids[0]}/fd"))
        except OSError:
            n = 0
        return super().check(pids) or (
            None if n == self.count else
            f"{n} fds after restore, {self.count} before")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Redis(Victim):
    key, gbps = "redis", True

    def __init__(self, keys: int):
        self.keys = keys
        self.label = (f"redis {keys // 1000000}M" if keys % 1000000 == 0
                      else f"redis {keys}")

    def prepare(self, work):
        super().prepare(work)
        server = shutil.which("redis-server")
        cli = shutil.which("redis-cli")
        if not server or not cli:
            raise VictimError("redis-server or redis-cli not installed "
                              "(scripts/install-deps.sh)")
        self.server: str = server
        self.cli: str = cli
        self.fill = b"".join(resp(b"SET", b"key:%d" % i, b"val:%d" % i)
                             for i in range(self.keys))

    def start(self):
        port = free_port()
        try:
            proc = subprocess.Popen(
                [self.server, "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--logfile", "", "--dir", str(self.work)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise VictimError(f"redis-server: {e}") from e
        proc.returncode = 0     # reaped by reap()
        pids = [proc.pid]
        register(pids)
        try:
            self.port = port
            self._fill(port)
        except (OSError, VictimError) as e:
            kill_ours(pids)
            raise VictimError(f"{self.label}: {e}") from e
        return pids

    def _connect(self, port: int, timeout: float = 10.0) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", port), 5)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _fill(self, port: int) -> None:
        with self._connect(port) as s:
            s.settimeout(60)
            # Replies (+OK) are read as they come so that neither side
            # blocks on a full socket buffer.
            want = 5 * self.keys
            got = 0

            def drain():
                nonlocal got
                while got < want:
                    b = s.recv(1 << 20)
                    if not b:
                        break
                    got += len(b)

            t = threading.Thread(target=drain)
            t.start()
            s.sendall(self.fill)
            t.join()
            if got != want:
                raise VictimError(f"filling: {got} of {want} reply bytes")
            s.sendall(resp(b"DBSIZE"))
            r = s.recv(64)
            if r != b":%d\r\n" % self.keys:
                raise VictimError(f"DBSIZE after filling: {r!r}")

    def check(self, pids):
        problem = super().check(pids)
        if problem:
            return problem
        k = self.keys // 2
        try:
            out = [subprocess.run(
                [self.cli, "-h", "127.0.0.1", "-p", str(self.port), *cmd],
                capture_output=True, text=True, timeout=10).stdout.strip()
                for cmd in (["DBSIZE"], ["GET", f"key:{k}"])]
        except subprocess.TimeoutExpired:
            return "redis-cli timed out after restore"
        if out != [str(self.keys), f"val:{k}"]:
            return f"after restore DBSIZE, GET key:{k} gave {out}"
        return None


# --- criu ------------------------------------------------------------------

def criu_error(text: str, rc: int) -> str:
    """One line out of criu's stderr: its first error, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln[:300]
    if lines:
        return lines[-1][:300]
    return f"exit status {rc}, nothing on stderr"


def run_criu(criu: str, args: list[str], timeout: float,
             work: pathlib.Path) -> tuple[float, int, int, str]:
    """(wall seconds, exit status, peak RSS KiB, error line) of one criu
    command; killed after timeout seconds."""
    runner = build_c(work, "runner", RUNNER_C)
    out = work / "runner.out"
    out.unlink(missing_ok=True)
    with tempfile.TemporaryFile(dir=work) as err:
        start = time.monotonic()
        try:
            proc = subprocess.Popen([str(runner), str(out), criu, *args],
                                    stdout=subprocess.DEVNULL,
                                    stderr=err, stdin=subprocess.DEVNULL)
        except OSError as e:
            return 0.0, 127, 0, str(e)
        timer = threading.Timer(timeout, lambda: os.kill(proc.pid,
                                                         signal.SIGKILL))
        timer.start()
        CRIU_RUNNING.append(proc.pid)
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            timer.cancel()
            CRIU_RUNNING.clear()
        wall = time.monotonic() - start
        rc = proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if rc and wall >= timeout:
        return wall, rc, 0, f"timed out after {timeout:g} s"
    try:
        rss_s, ns_s = out.read_text().split()
        rss, wall = int(rss_s), int(ns_s) / 1e9
    except (OSError, ValueError):
        rss = 0
    return wall, rc, rss, criu_error(text, rc) if rc else ""


def pages_bytes(d: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in d.glob("pages-*.img"))


def one_round(criu: str, victim: Victim, work: pathlib.Path,
              timeout: float) -> dict[str, float] | str:
    """One dump and restore: its numbers, or why it failed."""
    pids = victim.start()
    d = pathlib.Path(tempfile.mkdtemp(prefix="dump-", dir=work))
    try:
        dump_t, rc, dump_rss, err = run_criu(
            criu, ["dump", "-t", str(pids[0]), "-D", str(d)], timeout, work)
        if rc:
            return f"criu failed: dump: {err}"
        left = wait_gone(pids)
        if left:
            return f"dump left PIDs {left} alive"
        size = pages_bytes(d)
        rest_t, rc, rest_rss, err = run_criu(
            criu, ["restore", "-D", str(d), "-d"], timeout, work)
        if rc:
            return f"criu failed: restore: {err}"
        time.sleep(0.05)        # let a restored task that crashes do it
        problem = victim.check(pids)
        if problem:
            return f"restored but broken: {problem}"
        return {"dump": dump_t, "restore": rest_t, "bytes": size,
                "dump_rss": dump_rss, "restore_rss": rest_rss}
    finally:
        kill_ours(pids)
        shutil.rmtree(d, ignore_errors=True)


def summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    med["dump_gbps"] = med["bytes"] / med["dump"] / 1e9
    med["restore_gbps"] = med["bytes"] / med["restore"] / 1e9
    med["rss_mib"] = max(max(r["dump_rss"], r["restore_rss"])
                         for r in rounds) / 1024
    return med


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", help="victims, comma-separated "
                    "(loop,mem,tree,threads,redis,python,fds)")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--tree", type=int, default=64,
                    help="processes in the tree victim")
    ap.add_argument("--threads", type=int, default=32,
                    help="threads of the threads victim")
    ap.add_argument("--redis-keys", type=int, default=1000000)
    ap.add_argument("--fds", type=int, default=10000,
                    help="open fds of the fds victim")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds before a criu command is killed")
    ap.add_argument("--other-criu")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("bench.py needs root (ptrace, clone3 with set_tid)",
              file=sys.stderr)
        return 1
    crius = [("ours", str(OUR_CRIU))]
    if opts.other_criu:
        crius.append(("other", opts.other_criu))
    victims: list[Victim] = [Loop(), Mem(opts.size_mib), Tree(opts.tree),
                             Threads(opts.threads), Redis(opts.redis_keys),
                             PyThread(), Fds(opts.fds)]
    if opts.only:
        keys = [k.strip() for k in opts.only.split(",") if k.strip()]
        known = {v.key for v in victims}
        bad = [k for k in keys if k not in known]
        if bad:
            ap.error(f"--only: unknown {', '.join(bad)} "
                     f"(victims: {', '.join(v.key for v in victims)})")
        victims = [v for v in victims if v.key in keys]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        print("bench.py: cannot become a child subreaper", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, kill_all_ours)
    signal.signal(signal.SIGHUP, kill_all_ours)

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    failed: dict[tuple[str, str], str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="criu-bench-") as tmp:
            work = pathlib.Path(tmp)
            for v in victims:
                try:
                    v.prepare(work)
                except VictimError as e:
                    for cname, _ in crius:
                        failed[(cname, v.label)] = f"victim failed: {e}"
                    print(f"{v.label}: victim failed: {e}", flush=True)
                    continue
                for _ in range(opts.runs):
                    for cname, criu in crius:  # alternate the criu binaries
                        k = (cname, v.label)
                        if k in failed and k not in results:
                            continue    # it failed before: don't insist
                        try:
                            r = one_round(criu, v, work, opts.timeout)
                        except VictimError as e:
                            r = f"victim failed: {e}"
                        if isinstance(r, str):
                            if failed.get(k) != r:
                                print(f"{cname} / {v.label}: {r}",
                                      flush=True)
                            failed[k] = r
                        else:
                            results.setdefault(k, []).append(r)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        kill_all_ours()

    print(f"{'criu':6} {'victim':11} {'dump s':>8} {'restore s':>10} "
          f"{'pages MiB':>10} {'dump GB/s':>10} {'rest GB/s':>10} "
          f"{'peak RSS MiB':>13} runs")
    meds = {}
    for v in victims:
        for cname, _ in crius:
            k = (cname, v.label)
            rounds = results.get(k)
            if not rounds:
                print(f"{cname:6} {v.label:11} {failed.get(k, 'no run')}")
                continue
            m = meds[k] = summary(rounds)
            gb = (f"{m['dump_gbps']:10.2f} {m['restore_gbps']:10.2f}"
                  if v.gbps else f"{'-':>10} {'-':>10}")
            print(f"{cname:6} {v.label:11} {m['dump']:8.3f} "
                  f"{m['restore']:10.3f} {m['bytes'] / 2**20:10.1f} {gb} "
                  f"{m['rss_mib']:13.1f} {len(rounds)}")
    if opts.other_criu:
        for v in victims:
            a, b = meds.get(("ours", v.label)), meds.get(("other", v.label))
            if a and b:
                print(f"ratio other/ours {v.label}: dump "
                      f"{b['dump'] / a['dump']:.2f}, restore "
                      f"{b['restore'] / a['restore']:.2f}")
            else:
                print(f"ratio {v.label}: not available (a criu failed)")
    first = victims[0] if victims else None
    return 1 if first is not None and first.key == "loop" and \
        ("ours", first.label) not in results else 0


if __name__ == "__main__":
    sys.exit(main())
