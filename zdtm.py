#!/usr/bin/env python3
"""The ZDTM runner: checkpoint and restore each test of the corpus.

    ./zdtm.py run -t static/env00          one test (repeat -t for more)
    ./zdtm.py run -a --keep-going -p 2     every test, two at a time
    ./zdtm.py run -t static/env00 --nocr   no checkpoint: the test checks
                                           itself
    ./zdtm.py run -T 'maps|fpu' -x maps01  tests matching a regex, minus some
    ./zdtm.py list                         the tests, their flavours and flags

A run of one test: start it (the test daemonizes and writes its pidfile
once ready), record what is visible of it from outside (/proc/PID: fds,
mappings, cwd, root, exe, mounts, credentials, signal masks; and for every
task of its tree, keyed by pid: parent, group, session, state, a zombie's
exit status, threads with their state and signal masks), `criu dump` it,
`criu restore` it detached, compare the outside view, send SIGTERM, and
read the verdict (PASS / FAIL / SKIP) from the test's output file.  The
runner is a child subreaper, so daemonized tests and restored tasks are its
children: it reaps them itself and notices any task left behind, by a test
or by criu.  It only ever kills PIDs it started (or their restored copies),
found by PID and session, never by name.

Each test has a .desc file next to it, a Python literal dict as in CRIU:
    flavor   flavours it can run in: 'h ns uns' (default all three)
    flags    'suid' (run as root), 'noauto' (only when named), 'excl'
             (run alone), 'crfail' (criu is expected to refuse it)
    opts     extra criu options, for dump and restore
    feature  a `criu check --feature` name the test needs
    arch     the only machine it runs on (e.g. 'x86_64')
    args     extra arguments for the test program (our addition: CRIU keeps
             them in its Makefile)
    not_yet  (our addition) what criu cannot do yet that the test needs:
             with checkpoint/restore it is reported as SKIP with this
             reason; with --nocr it runs (the test itself is sound)
    deps     accepted and not used yet: in CRIU, the programs to copy into
             the root of the ns flavours, which do not run here yet
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Iterable, Iterator, Optional

REPO = pathlib.Path(__file__).resolve().parent
VENV = REPO / ".venv"


def _reexec_in_venv() -> None:
    """./zdtm.py must work from any shell: run under the project's venv."""
    if pathlib.Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not os.access(python, os.X_OK):
        if os.geteuid() == 0:
            sys.exit(f"zdtm.py: {python} is missing: run `make` in {REPO} "
                     "first")
        return      # another user: `list` works, `run` says it needs root
    os.execv(str(python), [str(python), str(pathlib.Path(__file__).resolve()),
                           *sys.argv[1:]])


if __name__ == "__main__":
    _reexec_in_venv()

sys.path.insert(0, str(REPO))

# Credentials of non-root tests: the numbers CRIU's runner uses.
ZDTM_UID = 18943
ZDTM_GID = 58467
ZDTM_GROUPS = (27495, 48244)

TEST_DIRS = ("zdtm/static",)
DUMPS = REPO / "zdtm-dumps"
DEFAULT_CRIU = VENV / "bin" / "criu"
FLAVORS = ("h", "ns", "uns")
NOT_YET = {"ns": "ns flavour: not yet (namespaces are not implemented)",
           "uns": "uns flavour: not yet (user namespaces are not implemented)"}

START_TIMEOUT = 30.0     # the test's parent exits once the test is ready
CRIU_TIMEOUT = 600.0     # one criu dump or restore (1 GiB tests included)
STOP_TIMEOUT = 60.0      # from SIGTERM to exit (checks may walk 1 GiB)
LOG_TAIL = 25


class TestFailed(Exception):
    """The test failed; the message says where and why."""


class TestSkipped(Exception):
    """The test reported SKIP, or cannot run here; the message says why."""


# --------------------------------------------------------------------------
# Test descriptions and discovery


@dataclasses.dataclass(frozen=True)
class TestDesc:
    """A test's .desc: what it needs from the runner and from criu."""
    flavors: tuple[str, ...] = FLAVORS
    flags: frozenset[str] = frozenset()
    opts: tuple[str, ...] = ()
    feature: Optional[str] = None
    arch: Optional[str] = None
    args: tuple[str, ...] = ()
    not_yet: Optional[str] = None

    @classmethod
    def load(cls, path: pathlib.Path) -> "TestDesc":
        if not path.exists():
            return cls()
        try:
            raw = ast.literal_eval(path.read_text())
        except (ValueError, SyntaxError) as e:
            raise SystemExit(f"zdtm.py: {path}: not a Python literal "
                             f"dict: {e}")
        if not isinstance(raw, dict):
            raise SystemExit(f"zdtm.py: {path}: not a dict")
        unknown = set(raw) - {"flavor", "flags", "opts", "feature", "arch",
                              "args", "deps", "not_yet"}
        if unknown:
            raise SystemExit(f"zdtm.py: {path}: unknown keys "
                             f"{sorted(unknown)}")
        return cls(flavors=tuple(raw.get("flavor", " ".join(FLAVORS)).split()),
                   flags=frozenset(raw.get("flags", "").split()),
                   opts=tuple(shlex.split(raw.get("opts", ""))),
                   feature=raw.get("feature") or None,
                   arch=raw.get("arch") or None,
                   args=tuple(shlex.split(raw.get("args", ""))),
                   not_yet=raw.get("not_yet") or None)


@dataclasses.dataclass(frozen=True)
class ZdtmTest:
    """One test program: its display name, binary and description."""
    name: str                 # zdtm/static/env00, or the path given
    binary: pathlib.Path
    desc: TestDesc

    @property
    def short(self) -> str:
        return self.binary.name


def _test_from_binary(binary: pathlib.Path) -> ZdtmTest:
    try:
        name = str(binary.relative_to(REPO))
    except ValueError:
        name = str(binary)
    return ZdtmTest(name, binary, TestDesc.load(binary.with_suffix(".desc")))


def all_tests() -> list[ZdtmTest]:
    """Every test of the corpus: each .c in the test dirs is one test."""
    tests = []
    for d in TEST_DIRS:
        for src in sorted((REPO / d).glob("*.c")):
            tests.append(_test_from_binary(src.with_suffix("")))
    return tests


def find_test(name: str) -> ZdtmTest:
    """static/env00, zdtm/static/env00, env00, or a path to a test binary."""
    name = name.rstrip("/")
    candidates = [pathlib.Path(name).absolute(), REPO / name,
                  REPO / "zdtm" / name] + [REPO / d / name for d in TEST_DIRS]
    for c in candidates:
        if c.is_file() or c.with_suffix(".c").is_file():
            return _test_from_binary(c.resolve())
    raise SystemExit(f"zdtm.py: no test named {name}")


def ensure_built(tests: Iterable[ZdtmTest]) -> None:
    """Build test binaries that are missing or older than their source."""
    stale = [t for t in tests
             if not t.binary.exists() or
             (t.binary.with_suffix(".c").exists() and
              t.binary.with_suffix(".c").stat().st_mtime >
              t.binary.stat().st_mtime)]
    in_repo = [t for t in stale if REPO in t.binary.parents]
    if in_repo:
        targets = [str(t.binary.relative_to(REPO)) for t in in_repo]
        r = subprocess.run(["make", "-s", "-C", str(REPO), *targets])
        if r.returncode:
            raise SystemExit("zdtm.py: building the tests failed")
    for t in stale:
        if not t.binary.exists():
            raise SystemExit(f"zdtm.py: test binary {t.binary} is missing")


# --------------------------------------------------------------------------
# Processes: /proc, children of the subreaper, reaping


def read_proc(pid: int | str, name: str) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/{name}") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_stat(pid: int | str) -> Optional[list[str]]:
    """Fields of /proc/PID/stat after the comm, from field 3 (state) on.

    pid may also be "PID/task/TID", for a thread."""
    text = read_proc(pid, "stat")
    if text is None:
        return None
    return text[text.rindex(")") + 2:].split()


def session_of(pid: int) -> Optional[int]:
    st = proc_stat(pid)
    return int(st[3]) if st else None


def is_zombie(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] in ("Z", "X")


def alive(pid: int) -> bool:
    """Running or stopped: not gone, not a zombie (a process whose leader
    thread has exited while others run on counts as alive)."""
    st = proc_stat(pid)
    if st is None or st[0] == "X":
        return False
    # stat field 20: the number of threads
    return st[0] != "Z" or int(st[20 - 3]) > 1


def children_of(pid: int) -> set[int]:
    """All children of pid, whichever of its threads they hang on."""
    kids: set[int] = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return kids
    for tid in tids:
        text = read_proc(pid, f"task/{tid}/children") or ""
        kids.update(int(p) for p in text.split())
    return kids


def my_children() -> set[int]:
    return children_of(os.getpid())


def session_members(sid: int) -> list[int]:
    """Live tasks in session sid (a test's session: it called setsid())."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and session_of(int(entry)) == sid \
                and alive(int(entry)):
            pids.append(int(entry))
    return pids


def reap(pid: int, timeout: float) -> Optional[int]:
    """Wait for our child pid to exit; its wait status, or None on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def descendants(pid: int) -> list[int]:
    """Every task below pid (children of its threads, recursively)."""
    out: list[int] = []
    todo = sorted(children_of(pid))
    while todo:
        kid = todo.pop(0)
        out.append(kid)
        todo += sorted(children_of(kid))
    return out


def reap_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until none of pids exists any more, reaping those that become
    our children (orphans of a killed tree come to us, the subreaper);
    return those still there after timeout."""
    left = set(pids)
    deadline = time.monotonic() + timeout
    while left:
        for pid in list(left):
            try:
                got, _ = os.waitpid(pid, os.WNOHANG)
                if got == pid:
                    left.discard(pid)
                    continue
            except ChildProcessError:
                pass
            if not os.path.exists(f"/proc/{pid}"):
                left.discard(pid)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    return sorted(left)


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by {signal.Signals(sig).name}"
    return f"exit status {os.WEXITSTATUS(status)}"


def kill_and_reap(pids: Iterable[int]) -> None:
    """SIGKILL exactly these PIDs, then reap those that are our children."""
    pids = list(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        reap(pid, 5.0)


def tail(path: pathlib.Path, n: int = LOG_TAIL) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except FileNotFoundError:
        return [f"({path} does not exist)"]


# --------------------------------------------------------------------------
# What can be seen of a task from outside


def vma_lines(text: str) -> list[str]:
    """/proc/PID/maps, one normalised line per VMA, compared as is.

    Issue 4 asks for identical maps after restore: VMA boundaries included,
    so a split the kernel kept in the original (say, libc's r--p pieces with
    and without private pages) must come back split too.  Only runs of
    blanks are folded."""
    lines = []
    for line in text.splitlines():
        words = line.split()
        # A shared anonymous mapping lives in a shmem object that restore
        # must create anew: only its inode number may differ.
        if len(words) >= 6 and " ".join(words[5:]) == "/dev/zero (deleted)":
            words[4] = "(shmem)"
        lines.append(" ".join(words))
    return lines


def visible_state(pid: int) -> dict[str, object]:
    """What /proc shows of a task without entering it; compared around C/R."""
    base = f"/proc/{pid}"

    def link(name: str) -> Optional[str]:
        try:
            return os.readlink(f"{base}/{name}")
        except OSError:
            return None

    fds = {}
    for fd in sorted(os.listdir(f"{base}/fd"), key=int):
        target = link(f"fd/{fd}")
        info = read_proc(pid, f"fdinfo/{fd}") or ""
        flags = next((ln.split()[1] for ln in info.splitlines()
                      if ln.startswith("flags:")), "?")
        fds[int(fd)] = f"{target} flags={flags}"
    maps = vma_lines(read_proc(pid, "maps") or "")
    mounts = sorted(" ".join(ln.split()[3:5])
                    for ln in (read_proc(pid, "mountinfo") or "").splitlines())
    status = {}
    for ln in (read_proc(pid, "status") or "").splitlines():
        key, _, val = ln.partition(":")
        if key in ("Uid", "Gid", "Groups", "SigBlk", "SigIgn", "SigCgt",
                   "NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "CapBnd"):
            status[key] = val.split()
    return {"fds": fds, "maps": maps, "cwd": link("cwd"), "root": link("root"),
            "exe": link("exe"), "mounts": mounts, "status": status,
            "comm": (read_proc(pid, "comm") or "").strip()}


# State letters of /proc/PID/stat that all mean "alive": whether the task
# happens to run or sleep when looked at is no difference.
ALIVE_STATES = frozenset("RSDIWP")

# Fields of /proc/PID/status compared for every task of the tree (the root's
# are in visible_state()), and those compared for each of its threads.
TASK_STATUS_KEYS = ("Uid", "Gid", "Groups", "SigIgn", "SigCgt", "ShdPnd",
                    "NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "CapBnd")
THREAD_STATUS_KEYS = ("SigBlk", "SigPnd")


def tree_pids(root: int) -> list[int]:
    """The test's tree: root and all its descendants, parents first."""
    order, seen, queue = [], set(), [root]
    while queue:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        order.append(pid)
        queue.extend(sorted(children_of(pid)))
    return order


def state_class(letter: str) -> str:
    """Running and sleeping are both "alive"; T, t, Z and X are themselves."""
    return "alive" if letter in ALIVE_STATES else letter


def status_fields(text: Optional[str], keys: Iterable[str]) -> dict:
    keys = set(keys)
    out = {}
    for ln in (text or "").splitlines():
        key, _, val = ln.partition(":")
        if key in keys:
            out[key] = " ".join(val.split())
    return out


def _flatten(prefix: str, value: object, into: dict) -> None:
    """Nested dicts and lists as flat "prefix key" entries, for diffs."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix} {k}", v, into)
    elif isinstance(value, list):
        for item in value:
            into[f"{prefix} [{item}]"] = "present"
    else:
        into[prefix] = value


def task_state(pid: int, root: int) -> Optional[dict[str, object]]:
    """One task of the tree as /proc shows it, with each of its threads.

    The parent, group and session (by pid: restored tasks keep their pids),
    the state class, a zombie's exit status, the threads' tids, and per
    thread its state class, name, blocked and pending signals.  Tasks other
    than the root also get what visible_state() records of the root (fds,
    mappings, credentials...), zombies only what they still have."""
    st = proc_stat(pid)
    if st is None:
        return None
    entry: dict[str, object] = {"ppid": int(st[1]), "pgid": int(st[2]),
                                "sid": int(st[3]),
                                "state": state_class(st[0])}
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return None
    if st[0] in "ZX" and tids in ([], [pid]):
        # A zombie process (not a live one whose leader thread exited).
        entry["exit status"] = int(st[49]) if len(st) > 49 else None
        return entry
    entry["threads"] = " ".join(map(str, tids))
    for tid in tids:
        tst = proc_stat(f"{pid}/task/{tid}")
        entry[f"thread {tid} state"] = state_class(tst[0]) if tst else None
        entry[f"thread {tid} comm"] = \
            (read_proc(pid, f"task/{tid}/comm") or "").strip()
        for k, v in status_fields(read_proc(pid, f"task/{tid}/status"),
                                  THREAD_STATUS_KEYS).items():
            entry[f"thread {tid} {k}"] = v
    entry.update(status_fields(read_proc(pid, "status"), TASK_STATUS_KEYS))
    if pid != root:
        try:
            seen = visible_state(pid)
        except OSError:
            # Gone meanwhile, or a live process whose leader thread exited
            # (its mountinfo, fds... read EINVAL): what is left is compared.
            seen = {}
        for key in ("fds", "maps", "cwd", "root", "exe", "mounts", "comm"):
            if key in seen:
                _flatten(key, seen[key], entry)
    return entry


def tree_state(root: int) -> dict[str, object]:
    """Every task of the test's tree, keyed by pid: "tasks" lists them,
    "tree" holds "PID field" entries (see task_state()), so that a task
    missing after a restore, or with another parent, group, session, state
    or thread, is a difference of its own."""
    tasks, flat = [], {}
    for pid in tree_pids(root):
        entry = task_state(pid, root)
        if entry is None:
            continue            # exited while we looked: not of the tree
        tasks.append(pid)
        for k, v in entry.items():
            flat[f"{pid} {k}"] = v
    return {"tasks": tasks, "tree": flat}


def outside_view(pid: int) -> dict[str, object]:
    """What the runner compares around C/R: the root task in detail, then
    the whole tree below it."""
    view = visible_state(pid)
    view.update(tree_state(pid))
    return canonical_objects(view)


OBJECT_RE = re.compile(r"\b(pipe|socket):\[(\d+)\]")


def canonical_objects(view: dict[str, object]) -> dict[str, object]:
    """Pipes and sockets renumbered in the order they are first seen
    (pipe:[#1], socket:[#2]...): a restore makes them anew with other
    inode numbers, but which fds of which tasks share one must not
    change."""
    seen: dict[str, str] = {}

    def label(m: re.Match) -> str:
        key = m.group(0)
        if key not in seen:
            seen[key] = f"{m.group(1)}:[#{len(seen) + 1}]"
        return seen[key]

    def walk(value: object) -> object:
        if isinstance(value, str):
            return OBJECT_RE.sub(label, value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    out = walk(view)
    assert isinstance(out, dict)
    return out


def state_differences(before: dict, after: dict) -> list[str]:
    diffs = []
    for key in before:
        a, b = before[key], after[key]
        if a == b:
            continue
        if isinstance(a, dict):
            for k in sorted(set(a) | set(b), key=str):
                if a.get(k) != b.get(k):
                    diffs.append(f"{key} {k}: {a.get(k)} -> {b.get(k)}")
        elif isinstance(a, list):
            lost = [x for x in a if x not in b]
            new = [x for x in b if x not in a]
            for x in lost:
                diffs.append(f"{key} lost: {x}")
            for x in new:
                diffs.append(f"{key} appeared: {x}")
            if not lost and not new:
                diffs.append(f"{key}: order changed")
        else:
            diffs.append(f"{key}: {a} -> {b}")
    return diffs


# --------------------------------------------------------------------------
# One run of one test in one flavour


@dataclasses.dataclass
class RunOptions:
    nocr: bool = False
    norst: bool = False
    launcher: bool = True         # tests under a launcher (ZDTM_LAUNCHER)
    iters: int = 1
    keep_img: str = "failed"      # never | failed | always
    criu: pathlib.Path = DEFAULT_CRIU


@dataclasses.dataclass
class Result:
    test: ZdtmTest
    flavor: str
    verdict: str                  # PASS | FAIL | SKIP
    reason: str = ""


class TestRun:
    """Start, checkpoint/restore, stop and judge one test in one flavour."""

    def __init__(self, test: ZdtmTest, flavor: str, opts: RunOptions,
                 out: Callable[[str], None]):
        self.test = test
        self.flavor = flavor
        self.opts = opts
        self.out = out
        self.suid = "suid" in test.desc.flags
        rel = test.name.replace("/", "_") if os.path.isabs(test.name) \
            else test.name
        self.dir = DUMPS / rel / f"{flavor}.{os.getpid()}"
        self.work = self.dir / "work"
        self.pid = 0
        self.sid = 0

    # -- files of the test

    @property
    def outfile(self) -> pathlib.Path:
        return self.work / f"{self.test.short}.out"

    @property
    def pidfile(self) -> pathlib.Path:
        return self.work / f"{self.test.short}.pid"

    def prepare_dirs(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.work.mkdir(parents=True)
        for d in [self.dir, *self.dir.parents]:
            if d == REPO:
                break
            os.chmod(d, 0o755)
        if not self.suid:
            os.chown(self.work, ZDTM_UID, ZDTM_GID)

    # -- the life of the test

    def start(self) -> None:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "HOME": "/", "LANG": "C"}
        if not self.suid:
            env.update(ZDTM_UID=str(ZDTM_UID), ZDTM_GID=str(ZDTM_GID),
                       ZDTM_GROUPS=" ".join(map(str, ZDTM_GROUPS)))
        env["ZDTM_LAUNCHER"] = "1" if self.opts.launcher else "0"
        argv = [str(self.test.binary), f"--pidfile={self.pidfile.name}",
                f"--outfile={self.outfile.name}", *self.test.desc.args]
        self.out(f"Start {' '.join(argv)}"
                 f"{'' if self.suid else f' as {ZDTM_UID}:{ZDTM_GID}'}")
        start_log = self.dir / "start.log"
        with open(start_log, "wb") as log:
            p = subprocess.Popen(argv, cwd=self.work, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, close_fds=True)
        try:
            rc = p.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            # The parent and the daemon it forked (already in its own
            # session, so found as the parent's child).
            kill_and_reap([p.pid, *children_of(p.pid)])
            p.wait()
            raise TestFailed(f"start: not ready after {START_TIMEOUT:.0f}s")
        if rc != 0:
            raise TestFailed(f"start: the test exited with {rc} before it "
                             "was ready")
        try:
            self.pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError) as e:
            raise TestFailed(f"start: bad pidfile {self.pidfile}: {e}")
        self.sid = session_of(self.pid) or 0
        if not alive(self.pid):
            raise TestFailed(f"start: test pid {self.pid} is not running")
        if self.sid != self.pid:
            raise TestFailed(f"start: test {self.pid} is not a session "
                             f"leader (session {self.sid})")

    def settled_view(self) -> dict[str, object]:
        """The outside view once two looks in a row agree.

        A test is ready when its root says so; its children may still be
        finishing their set-up (a signal action, a mapping) for a moment.
        What is compared after the restore is the tree at rest."""
        view = outside_view(self.pid)
        for _ in range(50):
            time.sleep(0.01)
            again = outside_view(self.pid)
            if again == view:
                break
            view = again
        return view

    def criu(self, action: str, ddir: pathlib.Path, args: list[str],
             spare: Iterable[int] = ()) -> None:
        """Run criu ACTION; fail on its failure or on tasks it left behind.

        spare: PIDs criu is meant to leave (the restored task), never
        counted or killed as left behind."""
        log = f"{action}.log"
        cmd = [str(self.opts.criu), action, "-D", str(ddir), "-o", log,
               "-v4", *args, *self.test.desc.opts]
        (ddir / f"{action}.cropt").write_text(" ".join(cmd) + "\n")
        self.out(f"Run {' '.join(cmd)}")
        # Output to a file, not a pipe: a helper criu leaves behind would
        # hold a pipe open and hang the runner instead of failing the test.
        out_path = ddir / f"{action}.out"
        with open(out_path, "wb") as out:
            p = subprocess.Popen(cmd, cwd=ddir, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT,
                                 close_fds=True, start_new_session=True)
        try:
            p.wait(timeout=CRIU_TIMEOUT)
        except subprocess.TimeoutExpired:
            # criu runs in its own session: kill exactly that session.
            kill_and_reap([p.pid, *session_members(p.pid)])
            p.wait()
            raise TestFailed(f"criu {action} did not finish in "
                             f"{CRIU_TIMEOUT:.0f}s", ddir / log)
        text = out_path.read_text(errors="replace").strip()
        if text:
            self.out(f"criu {action} said: " + text.replace("\n", "\n    "))
        # A criu that forked helpers (or half-restored tasks in its session)
        # must not leave them behind, whether it succeeded or not.
        left = [t for t in session_members(p.pid) if t not in set(spare)]
        if left:
            kill_and_reap(left)
        if p.returncode != 0:
            raise TestFailed(f"criu {action} exited with {p.returncode}" +
                             (f" and left tasks behind: {left}" if left
                              else ""), ddir / log)
        if left:
            raise TestFailed(f"criu {action} left tasks behind: {left}",
                             ddir / log)

    def checkpoint_restore(self) -> None:
        for i in range(1, self.opts.iters + 1):
            ddir = self.dir / "dump" / str(i)
            ddir.mkdir(parents=True)
            dump_args = ["-t", str(self.pid)]
            if self.opts.norst:
                dump_args.append("--leave-running")
            if "crfail" in self.test.desc.flags:
                # criu must refuse this test and leave it running as it was.
                try:
                    self.criu("dump", ddir, dump_args)
                except TestFailed as e:
                    self.out(f"criu dump failed as expected: {e.args[0]}")
                    if not alive(self.pid):
                        raise TestFailed("crfail: the failed dump did not "
                                         "leave the test running")
                    return
                raise TestFailed("crfail: criu dump succeeded but should "
                                 "have refused this test")
            tree = descendants(self.pid)
            try:
                self.criu("dump", ddir, dump_args)
            except TestFailed as e:
                # A failed dump must leave the task running as it was.
                fate = "left running" if alive(self.pid) else \
                    "LOST: the failed dump did not leave it running"
                raise TestFailed(f"{e.args[0]}; the task was {fate}",
                                 *e.args[1:])
            if self.opts.norst:
                if not alive(self.pid):
                    raise TestFailed("dump --leave-running: the test is gone")
                continue

            # criu dump kills the task; as its reaper we collect it.
            status = reap(self.pid, 5.0)
            if status is None:
                raise TestFailed(f"dump: the test {self.pid} is still "
                                 "running after criu dump", ddir / "dump.log")
            self.out(f"Dumped task {self.pid} is gone "
                     f"({describe_status(status)})")
            # The rest of the tree: orphans, reparented to us to reap.
            left = reap_gone(tree, 5.0)
            if left:
                raise TestFailed(f"dump: tasks {left} of the tree are still "
                                 "there after criu dump", ddir / "dump.log")

            pidfile = ddir / "restore.pid"
            self.criu("restore", ddir, ["--restore-detached",
                                        "--pidfile", str(pidfile)],
                      spare=[self.pid])
            try:
                rpid = int(pidfile.read_text().strip())
            except (FileNotFoundError, ValueError) as e:
                raise TestFailed(f"restore: bad pidfile {pidfile}: {e}",
                                 ddir / "restore.log")
            if rpid != self.pid:
                dumped, self.pid = self.pid, rpid
                raise TestFailed(f"restore: the task came back as pid {rpid}, "
                                 f"not {dumped}", ddir / "restore.log")
            if not alive(self.pid):
                raise TestFailed(f"restore: pid {self.pid} is not running "
                                 "after restore", ddir / "restore.log")
            sid = session_of(self.pid)
            if sid != self.sid:
                raise TestFailed(f"restore: pid {self.pid} is in session "
                                 f"{sid}, not {self.sid}",
                                 ddir / "restore.log")

    def stop(self) -> None:
        """SIGTERM the test, reap it and read its verdict."""
        self.out(f"Send SIGTERM to {self.pid}")
        os.kill(self.pid, signal.SIGTERM)
        status = reap(self.pid, STOP_TIMEOUT)
        if status is None:
            if is_zombie(self.pid) or not alive(self.pid):
                raise TestFailed(f"stop: pid {self.pid} exited but is not "
                                 "our child (not reparented to the runner)")
            raise TestFailed("stop: the test did not exit "
                             f"{STOP_TIMEOUT:.0f}s "
                             "after SIGTERM")
        pid, self.pid = self.pid, 0
        left = session_members(self.sid)
        if left:
            kill_and_reap(left)
            raise TestFailed(f"tasks left running in the test's session "
                             f"{self.sid}: {left} (test {pid})")
        lines = tail(self.outfile, 200)
        last = lines[-1] if lines else ""
        words = last.split()
        if "SKIP:" in words:
            raise TestSkipped(last.split("SKIP:", 1)[1].strip())
        if "PASS" not in words:
            # The first FAIL says what went wrong; later lines are fallout.
            fails = [ln for ln in lines if "FAIL:" in ln.split()]
            why = (fails[0] if fails else last).strip() or "no verdict"
            raise TestFailed(f"result: {why} ({describe_status(status)})")
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            raise TestFailed(f"result: PASS but {describe_status(status)}")

    def cleanup_after_failure(self) -> None:
        """Kill what this run started, by PID and session, and reap it."""
        pids = set()
        if self.pid and alive(self.pid):
            pids.add(self.pid)
            # The test's tree, sessions it made of its own included.
            pids.update(descendants(self.pid))
        if self.sid:
            pids.update(session_members(self.sid))
        if pids:
            self.out(f"Kill {sorted(pids)}")
        kill_and_reap(pids)
        if self.pid:
            reap(self.pid, 1.0)   # a zombie of ours

    def run(self) -> Result:
        reason, log = "", None
        try:
            self.prepare_dirs()
            self.start()
            before = self.settled_view()
            if not self.opts.nocr:
                self.checkpoint_restore()
            diffs = state_differences(before, outside_view(self.pid))
            if diffs:
                for d in diffs:
                    self.out(f"  differs: {d}")
                raise TestFailed("what /proc shows changed: " + diffs[0] +
                                 (f" (and {len(diffs) - 1} more)"
                                  if len(diffs) > 1 else ""))
            self.stop()
        except TestSkipped as e:
            self.finish(True)
            return Result(self.test, self.flavor, "SKIP", str(e))
        except TestFailed as e:
            reason = str(e.args[0])
            log = e.args[1] if len(e.args) > 1 else None
        except OSError as e:
            reason = f"runner: {e}"
        else:
            self.finish(True)
            return Result(self.test, self.flavor, "PASS")

        self.cleanup_after_failure()
        if log is not None:
            self.out(f"--- tail of {log}")
            for ln in tail(log):
                self.out("  " + ln)
        if self.outfile.exists():
            self.out(f"--- tail of {self.outfile}")
            for ln in tail(self.outfile):
                self.out("  " + ln)
        start_log = self.dir / "start.log"
        if start_log.exists() and start_log.stat().st_size:
            self.out(f"--- {start_log}")
            for ln in tail(start_log):
                self.out("  " + ln)
        self.finish(False)
        return Result(self.test, self.flavor, "FAIL", reason)

    def finish(self, ok: bool) -> None:
        keep = self.opts.keep_img == "always" or \
            (not ok and self.opts.keep_img == "failed")
        if keep:
            self.out(f"Images and logs kept in {self.dir}")
        elif self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
            # Drop the empty per-test directories too.
            for d in self.dir.parents:
                if d == DUMPS.parent:
                    break
                try:
                    d.rmdir()
                except OSError:
                    break


# --------------------------------------------------------------------------
# The whole run


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.opts = RunOptions(nocr=args.nocr, norst=args.norst,
                               launcher=args.launcher,
                               iters=args.iters, keep_img=args.keep_img,
                               criu=pathlib.Path(args.criu_bin))
        self.results: list[Result] = []
        self.features: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.failed = False
        self.active: set[TestRun] = set()

    def abort(self, signo: int, frame: object) -> None:
        """SIGINT/SIGTERM: kill what the running tests started, then exit.

        Without this, a runner killed mid-run would orphan its daemonized
        tests (each in its own session) to init."""
        print(f"zdtm.py: {signal.Signals(signo).name}: killing the running "
              "tests", file=sys.stderr, flush=True)
        for run in list(self.active):
            run.cleanup_after_failure()
            run.finish(False)
        # criu (each in a session of its own, with any helpers it forked)
        # and test start-ups still in progress.
        for kid in my_children():
            kill_and_reap([kid, *(session_members(kid)
                                  if session_of(kid) == kid else [])])
        os._exit(1)

    def emit(self, lines: list[str]) -> None:
        with self.lock:
            print("\n".join(lines), flush=True)

    def has_feature(self, name: str) -> bool:
        if name not in self.features:
            r = subprocess.run([str(self.opts.criu), "check", "-v0",
                                "--feature", name],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            self.features[name] = r.returncode == 0
        return self.features[name]

    def plan(self, tests: list[ZdtmTest],
             run_all: bool) -> Iterator[tuple[ZdtmTest, str]]:
        """(test, flavor) pairs to run; skips go straight to the results."""
        wanted = self.args.flavor.split(",") if self.args.flavor \
            else list(FLAVORS)
        for f in wanted:
            if f not in FLAVORS:
                raise SystemExit(f"zdtm.py: unknown flavour {f} "
                                 f"(one of {', '.join(FLAVORS)})")
        arch = os.uname().machine
        for t in tests:
            d = t.desc
            skip = None
            if run_all and "noauto" in d.flags:
                skip = "noauto: run only when named"
            elif d.arch and d.arch != arch:
                skip = f"arch {d.arch} only"
            elif d.feature and not self.opts.nocr and \
                    not self.has_feature(d.feature):
                skip = f"criu check: no {d.feature} feature"
            elif d.not_yet and not self.opts.nocr:
                skip = f"criu cannot do this yet: {d.not_yet}"
            if skip:
                self.results.append(Result(t, "-", "SKIP", skip))
                continue
            flavors = [f for f in wanted if f in d.flavors]
            if not flavors:
                self.results.append(Result(t, "-", "SKIP",
                                           "no flavour of the test selected"))
            for f in flavors:
                if f in NOT_YET:
                    self.results.append(Result(t, f, "SKIP", NOT_YET[f]))
                else:
                    yield t, f

    def run_one(self, test: ZdtmTest, flavor: str) -> Result:
        lines = [f"=== Run {test.name} in {flavor} " + "=" * 20]
        run = TestRun(test, flavor, self.opts, lines.append)
        with self.lock:
            self.active.add(run)
        try:
            result = run.run()
        finally:
            with self.lock:
                self.active.discard(run)
        verdict = f"{result.verdict} {test.name} ({flavor})"
        if result.reason:
            verdict += f": {result.reason}"
        lines.append(("#" if result.verdict == "FAIL" else "=") * 3 +
                     " " + verdict)
        self.emit(lines)
        return result

    def leftovers(self) -> Optional[str]:
        """Tasks reparented to us that no test accounts for."""
        kids = my_children()
        if not kids:
            return None
        kill_and_reap(kids)
        return f"tasks left behind (reparented to the runner): {sorted(kids)}"

    def run(self, tests: list[ZdtmTest], run_all: bool) -> int:
        from compel.native.prctl import PR_SET_CHILD_SUBREAPER, prctl

        # Orphans (daemonized tests, restored tasks) become our children.
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        signal.signal(signal.SIGTERM, self.abort)
        signal.signal(signal.SIGINT, self.abort)
        pairs = list(self.plan(tests, run_all))
        if not self.opts.nocr and pairs and not self.opts.criu.exists():
            raise SystemExit(f"zdtm.py: criu not found at {self.opts.criu}: "
                             "run `make` first")
        ensure_built(t for t, _ in pairs)
        excl = [(t, f) for t, f in pairs if "excl" in t.desc.flags]
        shared = [(t, f) for t, f in pairs if "excl" not in t.desc.flags]
        par = max(1, self.args.parallel)

        def record(r: Result) -> bool:
            self.results.append(r)
            if r.verdict == "FAIL":
                self.failed = True
            return not self.failed or self.args.keep_going

        if par == 1:
            for t, f in shared + excl:
                if not record(self.run_one(t, f)):
                    break
                left = self.leftovers()
                if left:
                    record(Result(t, f, "FAIL", left))
        else:
            with concurrent.futures.ThreadPoolExecutor(par) as pool:
                futures = []
                for t, f in shared:
                    futures.append(pool.submit(self.run_gated, t, f))
                for fut in futures:
                    r = fut.result()
                    if r is not None:
                        record(r)
            for t, f in excl:
                if self.failed and not self.args.keep_going:
                    break
                record(self.run_one(t, f))
        left = self.leftovers()
        if left:
            record(Result(ZdtmTest("(run)", REPO, TestDesc()), "-",
                          "FAIL", left))
        return self.report()

    def run_gated(self, t: ZdtmTest, f: str) -> Optional[Result]:
        """A parallel job: not started once a failure stops the run."""
        if self.failed and not self.args.keep_going:
            return None
        r = self.run_one(t, f)
        if r.verdict == "FAIL":
            self.failed = True
        return r

    def report(self) -> int:
        counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        lines = ["", "=" * 30 + " Summary " + "=" * 30]
        for r in self.results:
            counts[r.verdict] += 1
            where = f"{r.test.name} ({r.flavor})" if r.flavor != "-" \
                else r.test.name
            lines.append(f"{r.verdict:5} {where}" +
                         (f": {r.reason}" if r.reason else ""))
        lines.append(f"{counts['PASS']} passed, {counts['FAIL']} failed, "
                     f"{counts['SKIP']} skipped")
        self.emit(lines)
        return 1 if counts["FAIL"] else 0


# --------------------------------------------------------------------------
# Command line


def list_tests(args: argparse.Namespace) -> int:
    for t in all_tests():
        if args.info:
            print(f"{t.name:40} {' '.join(t.desc.flavors):10} "
                  f"{' '.join(sorted(t.desc.flags))}")
        else:
            print(t.name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zdtm.py",
                                description="Run ZDTM tests through criu.")
    sub = p.add_subparsers(dest="action", required=True)

    r = sub.add_parser("run", help="run tests")
    sel = r.add_mutually_exclusive_group(required=True)
    sel.add_argument("-t", "--test", action="append",
                     help="a test (static/env00, zdtm/static/env00 or a "
                          "path to a test binary); repeatable")
    sel.add_argument("-a", "--all", action="store_true", help="all tests")
    sel.add_argument("-T", "--tests", metavar="REGEX",
                     help="the tests whose name matches REGEX")
    r.add_argument("-x", "--exclude", action="append", default=[],
                   metavar="REGEX", help="leave out tests whose name "
                   "matches REGEX; repeatable")
    r.add_argument("-f", "--flavor", help="h, ns, uns or a comma list "
                   "(default: all three; ns and uns are not yet supported)")
    r.add_argument("-p", "--parallel", type=int, default=1, metavar="N",
                   help="run N tests at a time")
    r.add_argument("--keep-going", action="store_true",
                   help="run the remaining tests after a failure")
    r.add_argument("--iters", type=int, default=1, metavar="N",
                   help="dump and restore N times")
    r.add_argument("--norst", action="store_true",
                   help="dump with --leave-running, no restore")
    r.add_argument("--nocr", action="store_true",
                   help="no checkpoint: the test runs and checks itself")
    r.add_argument("--no-launcher", dest="launcher", action="store_false",
                   help="start tests with ZDTM_LAUNCHER=0: each runs alone, "
                   "not as the child of a launcher that shares a page with "
                   "it (the default, as in CRIU: the launcher is the root "
                   "of the dumped tree)")
    r.add_argument("--keep-img", choices=("never", "failed", "always"),
                   default="failed", help="keep images and logs (default: "
                   "of failed tests)")
    r.add_argument("--criu-bin", default=str(DEFAULT_CRIU),
                   help="the criu to test (default: .venv/bin/criu)")

    ls = sub.add_parser("list", help="list tests")
    ls.add_argument("-i", "--info", action="store_true",
                    help="with flavours and flags")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.action == "list":
        return list_tests(args)
    if os.geteuid() != 0:
        print("zdtm.py: run needs root (tests are run as another user and "
              "criu needs CAP_SYS_ADMIN)", file=sys.stderr)
        return 1
    if args.iters < 1 or args.parallel < 1:
        print("zdtm.py: --iters and -p need a positive number",
              file=sys.stderr)
        return 1
    if args.all:
        tests, run_all = all_tests(), True
    elif args.tests:
        pattern = re.compile(args.tests)
        tests = [t for t in all_tests() if pattern.search(t.name)]
        run_all = True
    else:
        # The same test named twice (env00, static/env00) runs once: two
        # runs would share one dump directory.
        found = {t.binary: t for t in map(find_test, args.test)}
        tests, run_all = list(found.values()), False
    for ex in args.exclude:
        pattern = re.compile(ex)
        tests = [t for t in tests if not pattern.search(t.name)]
    return Runner(args).run(tests, run_all)


if __name__ == "__main__":
    sys.exit(main())
