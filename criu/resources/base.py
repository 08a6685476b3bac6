"""The types every resource module codes against.

A checkpoint is a pipeline (criu/dump/, criu/restore/) that calls, for each
task and in the order of the table in criu/resources/__init__.py, one
module per resource type.  Dump and restore sides of a resource live next to
each other in that module so the image format of a resource is written and
read in one place.  The contexts below carry what the pipeline knows; they
only grow (new optional attributes), so resource modules written against an
older version keep working.

Module protocol (see criu/resources/__init__.py):

    NAME: str
    def dump(ctx: DumpContext, task: DumpTask) -> None
    def restore(ctx: RestoreContext, task: RestoreTask) -> None

dump() runs while every task of the tree is seized (stopped under ptrace,
parasite available on demand).  It writes its own image files through
ctx.images and/or fills parts of task.core (a core_entry) which the pipeline
writes as core-PID.img once every resource has been dumped.

restore() runs inside the new task (criu's clone3'd child, still Python),
before the restorer blob takes over.  It either restores directly (fds, cwd,
root, umask, session) or leaves data in task.restorer_args for the blob
(memory, signal actions, registers, creds, rseq, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import types
from typing import Any, Callable, Iterator, Optional, Protocol

from criu.imagedir import ImageDir
from criu.options import Options


class Resource(Protocol):
    """What a module listed in the resource table provides.

    FOR_ZOMBIES (optional, default False): also called for zombie tasks,
    which have no memory, files or threads left, only their place in the
    tree and their exit status.
    """

    NAME: str

    def dump(self, ctx: "DumpContext", task: "DumpTask") -> None: ...

    def restore(self, ctx: "RestoreContext", task: "RestoreTask") -> None: ...


@dataclasses.dataclass
class DumpStats:
    """Counters shown by --display-stats and written to stats-dump.

    Times are seconds (floats, from time.monotonic()).  Memory modules fill
    the page counters; the pipeline fills the times.
    """

    freezing_time: float = 0.0
    frozen_time: float = 0.0
    memdump_time: float = 0.0
    memwrite_time: float = 0.0
    pages_scanned: int = 0
    pages_skipped_parent: int = 0
    pages_written: int = 0
    pages_zero: int = 0
    pages_lazy: int = 0
    irmap_resolve: int = 0


@dataclasses.dataclass
class RestoreStats:
    """Counters shown by --display-stats after a restore."""

    forking_time: float = 0.0
    restore_time: float = 0.0
    pages_compared: int = 0
    pages_skipped_cow: int = 0
    pages_restored: int = 0


@dataclasses.dataclass
class DumpTask:
    """One task (thread-group leader) of the tree being dumped.

    pid/ppid/pgid/sid are as seen from criu (no pid namespaces yet).
    `seized` is the compel handle of the stopped task (compel.seize(...)):
    regs, xsave, sigmask and remote syscalls go through it.  The parasite is
    infected lazily by parasite(); it is cured by the pipeline.
    """

    pid: int
    ppid: int
    pgid: int
    sid: int
    threads: list[int]
    core: Any                       # images.pb.core_pb2.core_entry
    seized: Any = None              # compel task handle
    ids: Any = None                 # images.pb.core_pb2.task_kobj_ids_entry
    was_stopped: bool = False       # task was in group-stop before seize
    zombie: bool = False            # dead, not reaped: only its status left
    exit_code: int = 0              # wait status of a zombie
    children: list[int] = dataclasses.field(default_factory=list)
    # core_entry per thread, the leader's being `core`: cpu state, creds
    # and the rest of thread_core are per thread (core-TID.img).
    thread_cores: dict[int, Any] = dataclasses.field(default_factory=dict)
    _parasite: Any = None
    _infect: Optional[Callable[[], Any]] = None
    # Free room for resource modules to pass facts to one another during a
    # dump (e.g. the fd list read once from /proc and used by two modules).
    scratch: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def proc(self) -> pathlib.Path:
        """/proc/PID of this task."""
        return pathlib.Path(f"/proc/{self.pid}")

    def parasite(self) -> Any:
        """compel's standard parasite in this task (a StdParasite: typed
        commands get_misc, get_creds, dump_pages, ...), infected on first
        use.

        The pipeline sets _infect and cures whatever was infected, whether
        the dump succeeds or fails.
        """
        if self._parasite is None:
            if self._infect is None:
                raise RuntimeError(f"task {self.pid}: no parasite available")
            self._parasite = self._infect()
        return self._parasite

    @contextlib.contextmanager
    def remote_page(self) -> Iterator[int]:
        """A read-write page mapped in the task for the time of a block:
        room for syscalls run inside it that answer through a pointer
        (rt_sigaction, sigaltstack, prctl GET_*).  Unmapped afterwards, so
        the task's mappings are as before."""
        from compel.native import memory as nmem
        page = self.seized.remote_mmap(
            0, nmem.PAGE_SIZE, nmem.PROT_READ | nmem.PROT_WRITE,
            nmem.MAP_PRIVATE | nmem.MAP_ANONYMOUS)
        try:
            yield page
        finally:
            self.seized.remote_munmap(page, nmem.PAGE_SIZE)

    @property
    def has_parasite(self) -> bool:
        return self._parasite is not None

    def cure_parasite(self) -> None:
        """Remove the parasite now (it is infected again if asked for):
        while it runs, the task's main thread is not in a ptrace stop, so
        ptrace requests on it (siginfo, seccomp filters) would fail."""
        if self._parasite is not None:
            parasite, self._parasite = self._parasite, None
            parasite.cure()


@dataclasses.dataclass
class DumpContext:
    """State of one `criu dump` shared by all resource modules.

    `images` writes files into the images directory.  Cleanup callbacks
    registered with on_cleanup() run in reverse order once the dump ends,
    successful or not (e.g. closing a parasite transport) before the tasks
    are released.
    """

    opts: Options
    images: ImageDir
    log: logging.Logger
    root_pid: int
    tasks: list[DumpTask] = dataclasses.field(default_factory=list)
    stats: DumpStats = dataclasses.field(default_factory=DumpStats)
    _cleanups: list[Callable[[], None]] = dataclasses.field(
        default_factory=list)
    # Shared, per-dump registries: ids of files/mm/fs objects, etc.
    registry: dict[str, Any] = dataclasses.field(default_factory=dict)

    def on_cleanup(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def run_cleanups(self) -> list[BaseException]:
        """Run cleanup callbacks newest first; return errors, never raise."""
        errors: list[BaseException] = []
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - report, keep going
                errors.append(e)
        return errors

    def task(self, pid: int) -> DumpTask:
        for t in self.tasks:
            if t.pid == pid:
                return t
        raise KeyError(pid)

    def next_id(self, kind: str) -> int:
        """A fresh object id (file ids, mm ids, ...) unique per kind, from 1."""
        key = "next_id:" + kind
        self.registry[key] = self.registry.get(key, 0) + 1
        return self.registry[key]


class RestorerArgs(types.SimpleNamespace):
    """Data resource hooks leave for the restorer blob of one task.

    A bag of attributes; the restore pipeline (criu/restore/) turns it into
    the versioned C argument struct.  Known attributes (absent = not set):

      creds:    images.pb.creds_pb2.creds_entry to apply last (setresuid...)
      rlimits:  list of rst_rlimit dicts (resource, cur, max) the blob sets
                once the target's memory is in place (criu.resources.rlimits)
      + whatever memory/cpu/signal modules add (see their modules).
    """


@dataclasses.dataclass
class RestoreTask:
    """One task being restored, as seen from inside its new process."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    threads: list[int]
    core: Any                       # images.pb.core_pb2.core_entry (read)
    ids: Any = None                 # images.pb.core_pb2.task_kobj_ids_entry
    # core_entry per thread (the leader's is `core`), from core-TID.img.
    thread_cores: dict[int, Any] = dataclasses.field(default_factory=dict)
    children: list["RestoreTask"] = dataclasses.field(default_factory=list)
    restorer_args: RestorerArgs = dataclasses.field(
        default_factory=RestorerArgs)
    # criu's own fds the child still needs (image files, log, pipes to the
    # parent).  Resource hooks that place fds at fixed numbers move these
    # out of the way with ServiceFds.keep() rather than clobbering them.
    service_fds: "ServiceFds" = dataclasses.field(
        default_factory=lambda: ServiceFds())
    scratch: dict[str, Any] = dataclasses.field(default_factory=dict)
    # criu.restore.procself.ProcSelf: this task's /proc/self, opened by the
    # pipeline before the first hook.  Read the task's own /proc files
    # through it: after the fs hook "/proc/self/..." may name nothing.
    proc_self: Any = None

    # fd table shared through CLONE_FILES: table_owner restores it (its
    # fds and their files), a task with shares_table is forked sharing its
    # parent's and leaves it alone; files_ready: the pipe (read, write)
    # on which the parent says its fds are in place.
    table_owner: bool = False
    shares_table: bool = False
    files_ready: Optional[tuple[int, int]] = None

    # Tasks this one forks with CLONE_PARENT (a session helper forks the
    # members of its session that are its parent's children).
    parent_kids: list["RestoreTask"] = dataclasses.field(
        default_factory=list)

    @property
    def zombie(self) -> bool:
        return self.core.tc.task_state == TASK_DEAD

    @property
    def helper(self) -> bool:
        """Not dumped: stands in for a dead session or group leader while
        the tree is made, then exits and is reaped by its parent."""
        return self.core.tc.task_state == TASK_HELPER

    @property
    def alive(self) -> bool:
        """A task that becomes a dumped, running (or stopped) one."""
        return not (self.zombie or self.helper)

    @property
    def stopped(self) -> bool:
        return self.core.tc.task_state == TASK_STOPPED

    def walk(self) -> Iterator["RestoreTask"]:
        """This task and its descendants, parents first."""
        yield self
        for kid in self.children + self.parent_kids:
            yield from kid.walk()


def new_core(task_state: int = 1, comm: str = "") -> Any:
    """A core_entry with every required field present (task_state
    TASK_ALIVE by default); the resource modules fill the rest."""
    from images.pb import core_pb2
    core = core_pb2.core_entry(mtype=core_pb2.core_entry.X86_64)
    core.tc.task_state = task_state
    core.tc.exit_code = 0
    core.tc.personality = 0
    core.tc.flags = 0
    core.tc.blk_sigset = 0
    core.tc.comm = comm
    core.thread_core.futex_rla = 0
    core.thread_core.futex_rla_len = 0
    return core


# task_core_entry.task_state values (facts of CRIU's image format).
TASK_ALIVE = 1
TASK_DEAD = 2
TASK_STOPPED = 3
TASK_HELPER = 4
TASK_ZOMBIE = 6


@dataclasses.dataclass
class RestoreContext:
    """State of one `criu restore` shared by all resource modules."""

    opts: Options
    images: ImageDir
    log: logging.Logger
    tasks: list[RestoreTask] = dataclasses.field(default_factory=list)
    inventory: Any = None           # images.pb.inventory_pb2.inventory_entry
    stats: RestoreStats = dataclasses.field(default_factory=RestoreStats)
    registry: dict[str, Any] = dataclasses.field(default_factory=dict)
    _forked: list[Callable[[], None]] = dataclasses.field(
        default_factory=list)

    def on_forked(self, fn: Callable[[], None]) -> None:
        """In criu: fn runs once every task of the tree has been forked
        (or the restore failed).  What a collect() hook made for the tasks
        is theirs by then (inherited at fork); criu drops its own copies,
        so that, say, a pipe's reader sees end-of-file when the tree's
        writers close, not criu's forgotten write end."""
        self._forked.append(fn)

    def run_forked(self) -> None:
        """Run the on_forked() callbacks once; errors are logged, never
        raised (criu's copies are only being closed)."""
        while self._forked:
            fn = self._forked.pop(0)
            try:
                fn()
            except OSError as e:
                self.log.warning("dropping criu's copy of a shared object: "
                                 "%s", e)

    def task(self, pid: int) -> RestoreTask:
        for t in self.tasks:
            if t.pid == pid:
                return t
        raise KeyError(pid)


class ServiceFds:
    """criu's own fds inside a restored child, kept above the target's fds.

    The target's fds must land at exact numbers (0, 1, 2, ...); criu's own
    fds (log, image files, control pipes) must not sit there.  keep(fd)
    moves an fd to a number >= base (close-on-exec) and remembers it; the
    files resource closes every other fd that the target did not have.
    Like CRIU's service fds, the base is near the top of the fd table
    (RLIMIT_NOFILE), far above the fds programs normally use.
    """

    RESERVED = 128                  # numbers kept for service fds

    def __init__(self, base: int | None = None) -> None:
        self.base = base if base is not None else self.default_base()
        self.fds: dict[int, str] = {}

    @classmethod
    def default_base(cls) -> int:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft > 1 << 20:
            soft = 1 << 20
        return max(256, soft - cls.RESERVED)

    def keep(self, fd: int, what: str) -> int:
        """Move fd to >= base (if below); return its new number."""
        import fcntl
        if fd < self.base:
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.base)
            os.close(fd)
            fd = new
        self.fds[fd] = what
        return fd

    def forget(self, fd: int) -> None:
        self.fds.pop(fd, None)

    def __contains__(self, fd: int) -> bool:
        return fd in self.fds
