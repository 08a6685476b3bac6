"""Facts about a task read from /proc/PID, for the dump.

Only parsing lives here (no ptrace, no images): each function reads one
/proc file and returns plain Python values, raising DumpError naming the
task and the file when it cannot.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, TypeVar

from criu.errors import DumpError

T = TypeVar("T")

# The rows of /proc/PID/limits, in the kernel's order, which is also the
# order of resource numbers (RLIMIT_CPU = 0 ... RLIMIT_RTTIME = 15).
LIMIT_NAMES = (
    "Max cpu time", "Max file size", "Max data size", "Max stack size",
    "Max core file size", "Max resident set", "Max processes",
    "Max open files", "Max locked memory", "Max address space",
    "Max file locks", "Max pending signals", "Max msgqueue size",
    "Max nice priority", "Max realtime priority", "Max realtime timeout",
)
RLIM_INFINITY = (1 << 64) - 1


def _read(pid: int, name: str, what: Callable[[str], T]) -> T:
    path = f"/proc/{pid}/{name}"
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return what(f.read())
    except OSError as e:
        raise DumpError(f"task {pid}: cannot read {path}: "
                        f"{e.strerror}") from e


@dataclasses.dataclass
class ProcStat:
    """The fields of /proc/PID/stat criu needs."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    sid: int
    flags: int
    nice: int
    num_threads: int
    exit_signal: int
    rt_priority: int
    policy: int


def stat(pid: int, tid: int | None = None) -> ProcStat:
    name = "stat" if tid is None else f"task/{tid}/stat"
    text = _read(pid, name, str)
    # comm is in parentheses and may itself contain ") ": cut at the last.
    lpar, rpar = text.index("("), text.rindex(")")
    rest = text[rpar + 2:].split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return ProcStat(pid=int(text[:lpar]), comm=text[lpar + 1:rpar],
                    state=rest[0], ppid=int(rest[1]), pgid=int(rest[2]),
                    sid=int(rest[3]), flags=int(rest[6]), nice=int(rest[16]),
                    num_threads=int(rest[17]), exit_signal=int(rest[35]),
                    rt_priority=int(rest[37]), policy=int(rest[38]))


def _colon_fields(text: str) -> dict[str, str]:
    """"Key:  value" lines (status, fdinfo) as {key: value}."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def status(pid: int, tid: int | None = None) -> dict[str, str]:
    """/proc/PID/status (of thread tid) as {"Uid": "0\t0\t0\t0", ...}."""
    name = "status" if tid is None else f"task/{tid}/status"
    return _read(pid, name, _colon_fields)


def threads(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError as e:
        raise DumpError(f"task {pid}: cannot list threads: "
                        f"{e.strerror}") from e


def children(pid: int) -> list[int]:
    """Children of every thread of pid (needs CONFIG_PROC_CHILDREN)."""
    kids: list[int] = []
    for tid in threads(pid):
        kids += [int(c) for c in _read(pid, f"task/{tid}/children",
                                       str).split()]
    return kids


def limits(pid: int) -> list[tuple[int, int]]:
    """(soft, hard) for every resource number, from /proc/PID/limits.

    Reading this file needs no capability, unlike prlimit() on another
    user's task, which needs CAP_SYS_RESOURCE (absent here).
    """
    def value(word: str) -> int:
        return RLIM_INFINITY if word == "unlimited" else int(word)

    def parse(text: str) -> list[tuple[int, int]]:
        rows: dict[str, tuple[int, int]] = {}
        for line in text.splitlines()[1:]:
            for name in LIMIT_NAMES:
                if line.startswith(name):
                    soft, hard = line[len(name):].split()[:2]
                    rows[name] = (value(soft), value(hard))
        missing = [n for n in LIMIT_NAMES if n not in rows]
        if missing:
            raise DumpError(f"task {pid}: /proc/{pid}/limits lacks "
                            f"{', '.join(missing)}")
        return [rows[n] for n in LIMIT_NAMES]
    return _read(pid, "limits", parse)


@dataclasses.dataclass
class FdInfo:
    """One fd of a task: /proc/PID/fdinfo/N plus where /proc/PID/fd/N points."""

    fd: int
    pos: int
    flags: int                  # open flags, octal in fdinfo (O_CLOEXEC incl.)
    mnt_id: int
    target: str                 # readlink of /proc/PID/fd/N
    st: os.stat_result          # stat of the open file (through the link)
    extra: dict[str, str]       # "key: value" lines (the last of a key)
    text: str = ""              # the whole fdinfo, for repeated keys
    #                             (lock:, tfd:, inotify ...)


def fds(pid: int) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))
    except OSError as e:
        raise DumpError(f"task {pid}: cannot list fds: {e.strerror}") from e


def fdinfo(pid: int, fd: int) -> FdInfo:
    text = _read(pid, f"fdinfo/{fd}", str)
    info = _colon_fields(text)
    link = f"/proc/{pid}/fd/{fd}"
    try:
        target = os.readlink(link)
        st = os.stat(link)
    except OSError as e:
        raise DumpError(f"task {pid}: fd {fd}: cannot stat: "
                        f"{e.strerror}") from e
    return FdInfo(fd=fd, pos=int(info.get("pos", "0")),
                  flags=int(info.get("flags", "0"), 8),
                  mnt_id=int(info.get("mnt_id", "0")), target=target, st=st,
                  extra=info, text=text)


def link(pid: int, name: str) -> str:
    """readlink /proc/PID/<name> (cwd, root, exe, ns/...)."""
    path = f"/proc/{pid}/{name}"
    try:
        return os.readlink(path)
    except OSError as e:
        raise DumpError(f"task {pid}: cannot read {path}: "
                        f"{e.strerror}") from e


def mnt_id_of(pid: int, name: str) -> int:
    """Mount id of the file /proc/PID/<name> points at (cwd, root)."""
    # /proc/PID/cwd is a directory: its mount shows through an O_PATH fd.
    fd = os.open(f"/proc/{pid}/{name}", os.O_PATH | os.O_CLOEXEC)
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    finally:
        os.close(fd)
    return -1


def read_int(pid: int, name: str) -> int:
    return _read(pid, name, lambda s: int(s.split()[0], 0))


def read_text(pid: int, name: str) -> str:
    return _read(pid, name, lambda s: s.rstrip("\n"))
