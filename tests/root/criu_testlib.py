"""Helpers for the criu command tests: run our criu, start victims.

Victims are small Python programs started in their own session (so criu
dumps them without --shell-job) that count in a file: a victim still
counting after a failed dump proves it was left running as before.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import signal
import subprocess
import sys
import time
import traceback
from typing import Callable, Iterator

from compel.native.ns import CLONE_NEWNS, unshare

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRIU = ROOT / ".venv" / "bin" / "criu"

COUNTER = r"""
import os, sys, time
path = sys.argv[1]
n = 0
while True:
    n += 1
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(n))
    os.rename(tmp, path)
    time.sleep(0.005)
"""


def criu(*args: str, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(CRIU), *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env,
                          stdin=subprocess.DEVNULL)


def in_private_mounts(body: Callable[[], None]) -> None:
    """Run body() in a child with its own mount namespace and fail the test
    with its traceback if it raises.

    For tests that mount: the host's mount table is what other tests (the
    zdtm runner's outside-view checks among them) compare before and after,
    so mounts made in it, even briefly, would fail them."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        status = 1
        try:
            unshare(CLONE_NEWNS)
            subprocess.run(["mount", "--make-rprivate", "/"], check=True)
            body()
            status = 0
        except BaseException:
            os.write(w, traceback.format_exc().encode())
        finally:
            os._exit(status)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report


class Victim:
    """A counting process in its own session; killed at the end."""

    def __init__(self, tmp: pathlib.Path, extra: str = "") -> None:
        self.counter = tmp / "counter"
        code = extra + COUNTER
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.counter)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        self.wait_counting()

    def count(self) -> int:
        try:
            return int(self.counter.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def wait_counting(self, limit: float = 30.0) -> None:
        """Wait (up to limit seconds) until the counter moves."""
        start = self.count()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"victim {self.pid} exited "
                                     f"({self.proc.returncode})")
            if self.count() > start:
                return
            time.sleep(0.01)
        raise AssertionError(f"victim {self.pid} does not count any more")

    def status(self) -> dict[str, str]:
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
        return out

    def maps(self) -> str:
        with open(f"/proc/{self.pid}/maps") as f:
            return f.read()

    def assert_running_untraced(self) -> None:
        """Not traced, not stopped, no parasite mapping left, counting."""
        with open(f"/proc/{self.pid}/maps") as f:
            maps = f.read()
        assert "memfd:" not in maps, maps
        st = self.status()
        assert st["TracerPid"] == "0", st["TracerPid"]
        assert st["State"][0] in "RSD", st["State"]   # not stopped (T/t)
        self.wait_counting()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def dir_digest(path: pathlib.Path) -> dict[str, str]:
    """name -> sha256 of every file in a directory (not following links)."""
    out = {}
    for p in sorted(path.iterdir()):
        if p.is_file():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    assert "Traceback" not in text
    return lines[0]


def iter_steps() -> Iterator[str]:
    """Every step a dump can be made to fail after (CRIU_FAULT_INJECT):
    one per module of the resource table, so a new module is covered."""
    import importlib

    from criu.resources import RESOURCES
    yield from ("collect", "parasite")
    for name in RESOURCES:
        yield importlib.import_module(name).NAME
    yield "images"


def build_c(tmp: pathlib.Path, name: str, source: str,
            *flags: str) -> pathlib.Path:
    """Compile a C victim program into tmp; its path."""
    src = tmp / f"{name}.c"
    src.write_text(source)
    exe = tmp / name
    subprocess.run(["gcc", "-O1", "-Wall", *flags, "-o", str(exe),
                    str(src)], check=True)
    return exe
