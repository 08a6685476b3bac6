"""Building and driving compel's test victim (victims/victim.c).

A Victim is started in a mode (spin, pipe, nanosleep, futex, epoll,
threads, pending), announces itself with a "ready ..." line, blocks, then
reports "result ..." and "check ok" (or "check FAIL ...") on stdout.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import subprocess
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "victims" / "victim.c"

# Modes and the syscall each one blocks in (x86_64 numbers).
BLOCKING_SYSCALL = {"pipe": 0, "threads": 0, "pending": 0, "seccomp": 0,
                    "nanosleep": 230, "futex": 202, "epoll": 232}
# Seconds a released victim may take to report before we call it stuck.
FINISH_LIMIT = 30
NEEDS_INPUT = ("pipe", "threads", "pending", "epoll", "seccomp", "zleader")


def build_c(source: pathlib.Path, *flags: str) -> pathlib.Path:
    """Compile a C program once per content (safe for parallel tests)."""
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode())
    out_dir = pathlib.Path(tempfile.gettempdir()) / "compel-test-bin"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{source.stem}-{digest.hexdigest()[:16]}"
    if not out.exists():
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        subprocess.run(["gcc", "-O1", "-Wall", "-o", str(tmp), str(source),
                        *flags], check=True)
        os.replace(tmp, out)
    return out


def victim_binary() -> pathlib.Path:
    return build_c(SOURCE, "-lpthread")


def _state(pid: int, tid: int) -> str:
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_stopped(pid: int, limit: float = FINISH_LIMIT) -> None:
    """Wait until process pid is in a group stop ('T').  Not a timing
    check: used where compel is what must stop it (a SIGSTOP held back and
    sent again, detach leaving it stopped); if compel fails to, the test
    fails after `limit` seconds instead of spinning forever."""
    deadline = time.monotonic() + limit
    while _state(pid, pid) != "T":
        if time.monotonic() > deadline:
            raise AssertionError(f"task {pid} never stopped "
                                 f"(state {_state(pid, pid)})")
        time.sleep(0.001)


class Victim:
    """One running victim process (ours: we kill it if it outlives a test)."""

    def __init__(self, mode: str, wrapper: tuple[str, ...] = ()) -> None:
        """wrapper: a command that execs the victim (e.g. unshare -n)."""
        self.mode = mode
        self.proc = subprocess.Popen([*wrapper, str(victim_binary()), mode],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.kill()
            raise RuntimeError(f"victim {mode} did not start: {line!r}")
        self.info = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.pid = self.proc.pid

    @property
    def buf(self) -> tuple[int, int]:
        return int(self.info["buf"], 16), int(self.info["len"])

    @property
    def handler(self) -> int:
        return int(self.info["handler"], 16)

    def wait_blocked(self) -> None:
        """Wait until the victim sleeps inside its blocking syscall."""
        if self.mode == "zleader":
            while _state(self.pid, self.pid) != "Z":
                time.sleep(0.005)
            tid = next(int(t) for t in os.listdir(f"/proc/{self.pid}/task")
                       if int(t) != self.pid)
            nr = 0
        else:
            tid = self.pid
            nr = BLOCKING_SYSCALL.get(self.mode)
            if nr is None:
                return
        # Bounded only so that a victim compel broke (crashed, or running
        # elsewhere) fails the test instead of hanging the suite.
        deadline = time.monotonic() + FINISH_LIMIT
        while True:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/syscall") as f:
                    fields = f.read().split()
                state = _state(self.pid, tid)
            except OSError:
                fields, state = [], "gone"
            if fields and fields[0] == str(nr) and state == "S":
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"victim {self.mode} (pid {self.pid}) never blocked in "
                    f"syscall {nr} (state {state}, exit {self.proc.returncode})")
            time.sleep(0.005)

    def release(self) -> None:
        """Let the victim leave its blocking call (input or SIGUSR2)."""
        if self.mode in NEEDS_INPUT:
            try:
                self.proc.stdin.write("go\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass  # it stopped reading already (e.g. read got EINTR)
        elif self.mode == "spin":
            os.kill(self.pid, signal.SIGUSR2)

    def finish(self) -> tuple[str, list[str], int]:
        """Release it, read its report; (result line, check lines, status)."""
        self.release()
        try:
            text, _ = self.proc.communicate(timeout=FINISH_LIMIT)
        except subprocess.TimeoutExpired:
            # Not a timing check: a victim that is released but never
            # reports is stuck (e.g. its signal mask was not given back, so
            # the wake-up signal stays blocked); fail instead of hanging.
            self.kill()
            raise AssertionError(f"victim {self.mode} (pid {self.pid}) did "
                                 f"not finish {FINISH_LIMIT} s after being "
                                 "released: it is stuck") from None
        out = text.splitlines()
        status = self.proc.returncode
        result = next((l for l in out if l.startswith("result ")), "")
        checks = [l for l in out if l.startswith("check ")]
        return result, checks, status

    def readline(self) -> str:
        return self.proc.stdout.readline()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                try:
                    f.close()
                except OSError:
                    pass

    def __enter__(self) -> "Victim":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
