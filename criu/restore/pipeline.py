"""The restore pipeline: read images -> collect shared objects in criu ->
fork the tree top-down with the dumped PIDs -> resource hooks in each task
-> restorer blob (threads created there) -> criu finishes every thread
under ptrace -> detach (-d) or wait for the root like CRIU.

criu traces the root from its birth with PTRACE_O_TRACEFORK/TRACECLONE, so
every task the tree forks and every thread a restorer creates is traced
from its first instruction (PTRACE_O_EXITKILL: if criu dies, the half-made
tree dies too).  Stages, as in CRIU's restore:

 1. each task enters its session, forks its children (clone3 set_tid) and
    reports "forked";
 2. once every task has, criu releases them all: they join their process
    groups (a group's leader may be a cousin created late), zombies exit
    with their status, the others restore their resources and jump into
    their restorer;
 3. every thread ends its restorer with a SIGSTOP to itself; when all
    threads of the tree are there, criu unmaps each restorer region and
    makes every thread run rt_sigreturn from a `syscall` instruction of its
    vdso.  The tree resumes only then, all at once.

Any failure kills every task created so far and reports which task failed
and why; the images directory is only ever read.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import select
import signal
import time
import traceback
from typing import Any, Optional

from compel.arch import current as arch
from compel import proc as cproc
from compel.blob import Blob
from compel.errors import CompelError
from compel.native import clone as nclone
from compel.native import memory as nmem
from compel.native import ptrace as pt
from compel.native.wait import WNOHANG, WaitStatus, waitpid
from criu import log as criu_log
from criu import action_scripts, resources
from criu.errors import CriuError, ImageError, RestoreError, from_os_error
from criu.imagedir import ImageDir
from criu.options import Options
from criu.resources.base import RestoreContext, RestoreTask, ServiceFds
from criu.restore import restorer
from criu.restore.procself import ProcSelf
from images.pagemap import nr_pages as pm_nr_pages

UserRegs = arch.UserRegs
NR_MUNMAP = arch.syscalls.nr("munmap")
NR_CLOSE_RANGE = arch.syscalls.nr("close_range")
NR_RT_SIGRETURN = arch.syscalls.nr("rt_sigreturn")
SYSCALL_INSN = arch.SYSCALL_INSN
CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                 signal.SIGSYS, signal.SIGABRT)
# SUSPEND_SECCOMP (inherited by every task and thread the root creates):
# the restorer installs seccomp filters and strict mode before its last
# syscalls, and criu's munmap and rt_sigreturn run after; the restored
# filters apply once criu detaches.
TRACE_OPTIONS = (pt.PTRACE_O_EXITKILL | pt.PTRACE_O_TRACESYSGOOD |
                 pt.PTRACE_O_TRACEFORK | pt.PTRACE_O_TRACECLONE |
                 pt.PTRACE_O_SUSPEND_SECCOMP)
FORKED = "forked"           # stage 1 report of a task: "forked PID"
JOINED = "joined"           # stage 2 report: "joined PID" (in its group)
TREE_TIMEOUT = 60.0         # seconds without any event: the restore is stuck


def blob_path() -> str:
    return os.path.join(os.path.dirname(restorer.__file__), os.pardir,
                        "restorer", "restorer.blob")


def restore(opts: Options) -> RestoreContext:
    """Restore the tree imaged in opts.images_dir; return once it runs
    (with -d) or once its root has exited (without)."""
    logger = criu_log.get_logger()
    images = ImageDir(opts.images_dir)
    if not images.exists("inventory.img"):
        raise ImageError(f"{images.path}: no inventory.img: not a complete "
                         "dump")
    ctx = RestoreContext(opts=opts, images=images, log=logger,
                         inventory=images.read_one("inventory.img"))
    base = _service_base(images)
    _read_tree(ctx)
    ctx.tasks[0].service_fds.base = base
    for task in ctx.tasks:
        for tid in task.threads:
            _check_pid_free(task.pid, tid)
    try:
        blob = Blob.load(os.path.normpath(blob_path()))
    except Exception as e:  # noqa: BLE001 - any load failure is the same
        raise RestoreError(f"restorer blob {blob_path()}: {e} (run make)") \
            from e
    modules = resources.load()
    # Every schema the tasks will read, imported here: the forked tasks
    # inherit them (a tree of 64 spent most of its restore importing).
    from images import pb
    pb.load_all()
    from criu.resources import fdtypes
    fdtypes.load()                  # and the fd kinds, once, here
    started = time.monotonic()
    root = ctx.tasks[0]
    ctx.log.info("Restoring %d task(s), root %d", len(ctx.tasks), root.pid)
    tree = _Tree(ctx)
    try:
        # Objects shared between tasks (shared memory, ...) are made once,
        # here in criu, before anything is forked; the tasks inherit them.
        for module in modules:
            collect = getattr(module, "collect", None)
            if collect is not None:
                try:
                    collect(ctx, root.service_fds)
                except CriuError as e:
                    raise e.attach("restore", module.NAME)
        action_scripts.run(opts, "pre-restore")
        tree.start(root, blob, modules)
        tree.run()
        action_scripts.run(opts, "post-restore", root.pid)
        action_scripts.run(opts, "pre-resume", root.pid)
        tree.finish()
        from criu.resources import ghost
        ghost.remove_links(ctx)     # --link-remap's links: opened by now
    except BaseException:
        tree.kill_all()
        raise
    finally:
        ctx.run_forked()
        tree.close()
    try:
        action_scripts.run(opts, "post-resume", root.pid)
    except CriuError as e:
        raise RestoreError(f"{e} (the tree was restored and runs)") from e
    ctx.stats.restore_time = time.monotonic() - started
    ctx.stats.forking_time = tree.forking_time
    ctx.stats.pages_restored = sum(
        pm_nr_pages(e) for t in ctx.tasks if t.alive
        for e in ctx.images.read(f"pagemap-{t.pid}.img")[1:])
    logger.info("Restore finished successfully. Tasks resumed.")
    if opts.pidfile:
        _write_pidfile(opts, root.pid)
    if not (opts.restore_detached or opts.restore_sibling or opts.exec_cmd):
        _wait_tree(ctx, root.pid)
    return ctx


def _service_base(images: ImageDir) -> int:
    """Where criu's service fds start in every task: just above the
    highest fd of the tree (every fd of a task is placed below it), with
    criu's soft fd limit raised (up to its hard limit, as CRIU does) to
    leave room above it for the service fds, the descriptions criu opens
    for several tasks and what the kinds keep while opening (a pipe's
    other end).  Each task's own limit comes back with its rlimits."""
    import resource
    highest, files = 0, 0
    for name in images.names():
        if name.startswith("fdinfo-"):
            fds = [fi.fd for fi in images.read(name)]
            highest = max([highest, *fds])
            files += len(fds)
    base = (highest // 64 + 1) * 64
    want = base + 2 * files + 2 * ServiceFds.RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return base


def _read_tree(ctx: RestoreContext) -> None:
    """pstree.img and every task's core images -> ctx.tasks, parents
    first, each with its children."""
    entries = ctx.images.read("pstree.img")
    if not entries:
        raise RestoreError("pstree.img: no tasks")
    by_pid: dict[int, RestoreTask] = {}
    for pe in entries:
        if pe.pid in by_pid:
            raise RestoreError(f"pstree.img: task {pe.pid} appears twice")
        threads = list(pe.threads) or [pe.pid]
        if pe.pid not in threads:
            raise RestoreError(f"pstree.img: task {pe.pid}: its threads "
                               f"{threads} do not include its leader")
        threads.remove(pe.pid)
        threads.insert(0, pe.pid)
        core = ctx.images.read_one(f"core-{pe.pid}.img")
        task = RestoreTask(pid=pe.pid, ppid=pe.ppid, pgid=pe.pgid,
                           sid=pe.sid, threads=threads, core=core)
        task.thread_cores[pe.pid] = core
        if not task.zombie:
            for tid in threads[1:]:
                task.thread_cores[tid] = ctx.images.read_one(
                    f"core-{tid}.img")
            if ctx.images.exists(f"ids-{pe.pid}.img"):
                task.ids = ctx.images.read_one(f"ids-{pe.pid}.img")
            elif core.HasField("ids"):
                task.ids = core.ids
        by_pid[pe.pid] = task
    root = by_pid[entries[0].pid]
    if root.zombie:
        raise RestoreError(f"task {root.pid}: the root of the tree is a "
                           "zombie")
    for pe in entries[1:]:
        parent = by_pid.get(pe.ppid)
        if parent is None:
            raise RestoreError(f"task {pe.pid}: its parent {pe.ppid} is not "
                               "in pstree.img")
        if parent.zombie:
            raise RestoreError(f"task {pe.pid}: its parent {pe.ppid} is a "
                               "zombie")
        parent.children.append(by_pid[pe.pid])
        kid = by_pid[pe.pid]
        if kid.ids is not None and parent.ids is not None and \
                kid.ids.HasField("files_id") and \
                kid.ids.files_id == parent.ids.files_id:
            kid.shares_table = True
            owner = parent
            while owner.shares_table:
                owner = by_pid[owner.ppid]
            owner.table_owner = True
    _add_helpers(ctx, root, by_pid)
    ctx.tasks = list(root.walk())
    if len([t for t in ctx.tasks if not t.helper]) != len(entries):
        raise RestoreError("pstree.img: the parent links do not form one "
                           "tree")


def _helper(pid: int, sid: int) -> RestoreTask:
    from criu.resources.base import TASK_HELPER, new_core
    core = new_core(TASK_HELPER, "criu-helper")
    return RestoreTask(pid=pid, ppid=0, pgid=pid, sid=sid, threads=[pid],
                       core=core)


def _add_helpers(ctx: RestoreContext, root: RestoreTask,
                 by_pid: dict[int, RestoreTask]) -> None:
    """Who makes each task so that it lands in its session and group with
    its parent, as CRIU arranges it.

    A task in a session other than its parent's (its leader forked it, then
    died or was orphaned with it) is forked by a task of that session that
    is its parent's child, with CLONE_PARENT: the session's leader when it
    is that child (alive, or a zombie that dies afterwards), else a helper
    task with the leader's PID that starts the session.  A process group
    whose leader is gone gets a helper that starts the group, forked by a
    live task of the group's session.  Helpers exit once every task has
    joined its group; their parents reap them."""
    outside = {root.sid} if root.sid != root.pid else set()
    outside |= {root.pgid} if root.pgid != root.pid else set()
    helpers: dict[int, RestoreTask] = {}
    for task in list(root.walk()):
        sid = task.sid
        if task is root or sid == task.pid or sid in outside:
            continue
        parent = by_pid[task.ppid]
        if parent.sid == sid:
            continue                    # inherited from its parent
        grand = by_pid.get(parent.ppid)
        if parent.sid == parent.pid and grand is not None and \
                grand.sid == sid:
            continue                    # forked before the parent's setsid
        starter = by_pid.get(sid) or helpers.get(sid)
        if starter is None:
            starter = helpers[sid] = _helper(sid, sid)
            starter.ppid = parent.pid
            parent.children.append(starter)
            ctx.log.info("task %d: session %d has no leader: helper task "
                         "%d stands in", task.pid, sid, sid)
        if starter.ppid != parent.pid:
            raise RestoreError(f"task {task.pid}: its session {sid} was "
                               f"started by a task that is not its parent "
                               f"{parent.pid}'s child: not supported yet")
        parent.children.remove(task)
        starter.parent_kids.append(task)
    for task in list(root.walk()):
        pgid = task.pgid
        if task.helper or pgid in by_pid or pgid in outside or \
                pgid in helpers:
            continue
        host = _group_host(task, by_pid, helpers)
        if host is None:
            raise RestoreError(f"task {task.pid}: its process group {pgid} "
                               "has no leader, and no task of its session "
                               f"{task.sid} can stand in: not supported yet")
        helper = helpers[pgid] = _helper(pgid, task.sid)
        helper.ppid = host.pid
        host.children.insert(0, helper)
        ctx.log.info("task %d: process group %d has no leader: helper "
                     "task %d stands in", task.pid, pgid, pgid)
    for pid in helpers:
        _check_pid_free(pid, pid)


def _group_host(task: RestoreTask, by_pid: dict[int, RestoreTask],
                helpers: dict[int, RestoreTask]) -> Optional[RestoreTask]:
    """A task of task's session that can fork a group helper as its own
    child before the groups are joined: its parent, the session's leader,
    or the session's helper."""
    parent = by_pid.get(task.ppid)
    if parent is not None and parent.alive and parent.sid == task.sid:
        return parent
    leader = by_pid.get(task.sid)
    if leader is not None and leader.alive:
        return leader
    return helpers.get(task.sid)


def _check_pid_free(pid: int, tid: int) -> None:
    if os.path.exists(f"/proc/{tid}"):
        try:
            with open(f"/proc/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        what = "PID" if tid == pid else f"thread id (of task {pid})"
        raise RestoreError(f"task {pid}: {what} {tid} is already used by a "
                           f"running process ({comm})")


# ------------------------------------------------------------ the new tree
@dataclasses.dataclass
class _Channel:
    """criu's pipes to every task of the tree: reports come up one pipe
    (lines "forked PID", "joined PID" or a one-line error; blob failures
    too); releases go down one pipe per stage, one byte per task released
    (a pipe per stage: a helper waiting for the second release must not
    take a byte of the first meant for a task that has not read it yet)."""

    report_r: int
    report_w: int
    release_r: int          # stage 1: every task
    release_w: int
    helpers_r: int          # stage 2: the helpers
    helpers_w: int

    @classmethod
    def open(cls, fds: ServiceFds) -> "_Channel":
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        release_r, release_w = os.pipe2(os.O_CLOEXEC)
        helpers_r, helpers_w = os.pipe2(os.O_CLOEXEC)
        ch = cls(report_r, fds.keep(report_w, "report pipe"),
                 fds.keep(release_r, "release pipe"), release_w,
                 fds.keep(helpers_r, "helpers' release pipe"), helpers_w)
        fcntl.fcntl(ch.report_r, fcntl.F_SETFL, os.O_NONBLOCK)
        return ch


class _Tree:
    """criu's side of a restore: forks the root, follows every task and
    thread under ptrace, releases the stages, finishes or kills the tree."""

    def __init__(self, ctx: RestoreContext) -> None:
        self.ctx = ctx
        self.root = ctx.tasks[0]
        self.by_tid = {tid: t for t in ctx.tasks for tid in t.threads}
        self.created: list[int] = []        # pids and tids seen alive
        self.forked: set[int] = set()
        self.joined: set[int] = set()
        self.at_end: dict[int, UserRegs] = {}
        self.report = b""
        self.errors: list[str] = []
        self.forking_time = 0.0
        self.chan: Optional[_Channel] = None
        self.wake_r = self.wake_w = -1
        self.old_wakeup = -1
        self.old_chld: Any = None

    # -- start
    def start(self, root: RestoreTask, blob: Blob, modules: list) -> None:
        self.chan = _Channel.open(root.service_fds)
        # Orphans of a tree killed halfway come to criu, which reaps them:
        # a failed restore leaves no zombie holding a PID of the tree.
        from compel.native import prctl as nprctl
        nprctl.prctl(nprctl.PR_SET_CHILD_SUBREAPER, 1)
        # A ptrace stop of any task sends criu SIGCHLD: it wakes the loop.
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.old_chld = signal.signal(signal.SIGCHLD, lambda *_: None)
        self.old_wakeup = signal.set_wakeup_fd(self.wake_w)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        started = time.monotonic()
        # -S: the root is criu's sibling, its parent criu's parent.
        flags = nclone.CLONE_PARENT if self.ctx.opts.restore_sibling else 0
        try:
            pid = _clone_task(root.pid, flags)
        except RestoreError:
            os.close(go_r)
            os.close(go_w)
            raise
        if pid == 0:
            os.close(go_w)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.read(go_r, 1)
            os.close(go_r)
            _task_main(self.ctx, root, blob, modules, self.chan)
        self.forking_time = time.monotonic() - started
        self.created.append(pid)
        os.close(go_r)
        try:
            pt.seize(pid, TRACE_OPTIONS)
        finally:
            os.write(go_w, b"g")
            os.close(go_w)

    # -- follow
    def run(self) -> None:
        """Until every thread of the tree waits at its restorer's end."""
        zombies = {t.pid for t in self.ctx.tasks if t.zombie}
        helpers = {t.pid for t in self.ctx.tasks if t.helper}
        joined_all = False
        want_end = {tid for t in self.ctx.tasks if t.alive
                    for tid in t.threads}
        released = False
        deadline = time.monotonic() + TREE_TIMEOUT
        while True:
            self._read_reports()
            if self.errors:
                raise _task_error(self.errors[0])
            if not released and len(self.forked) == len(self.ctx.tasks):
                self.ctx.run_forked()
                assert self.chan is not None
                os.write(self.chan.release_w, b"r" * len(self.ctx.tasks))
                released = True
            if released and not joined_all and \
                    len(self.joined) == len(self.ctx.tasks) - len(helpers):
                # Every group is joined: the helpers may go.
                assert self.chan is not None
                os.write(self.chan.helpers_w, b"r" * len(helpers))
                joined_all = True
            if set(self.at_end) >= want_end and _all_dead(zombies):
                return
            if self._reap_events(zombies | helpers):
                deadline = time.monotonic() + TREE_TIMEOUT
            else:
                if time.monotonic() > deadline:
                    raise RestoreError("the restore made no progress for "
                                       f"{TREE_TIMEOUT:.0f} s")
                self._sleep()

    def _sleep(self) -> None:
        assert self.chan is not None
        ready, _, _ = select.select([self.wake_r, self.chan.report_r], [],
                                    [], 0.5)
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 4096):
                    pass
            except BlockingIOError:
                pass

    def _read_reports(self) -> None:
        assert self.chan is not None
        while True:
            try:
                data = os.read(self.chan.report_r, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            self.report += data
        while b"\n" in self.report:
            line, self.report = self.report.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            if text.startswith(FORKED + " "):
                self.forked.add(int(text.split()[1]))
            elif text.startswith(JOINED + " "):
                self.joined.add(int(text.split()[1]))
            elif text:
                self.errors.append(text)

    def _reap_events(self, expected: set[int]) -> bool:
        """Handle every pending ptrace stop and exit; False if none."""
        any_event = False
        while True:
            try:
                st = waitpid(-1, WNOHANG)
            except ChildProcessError:
                return any_event
            if st is None:
                return any_event
            any_event = True
            self._event(st, expected)

    def _event(self, st: WaitStatus, expected: set[int]) -> None:
        """One ptrace stop or exit.  Tasks in `expected` (zombies, helpers)
        exit by design: traced to the end, so that what they fork (the
        members of their session) is traced too."""
        tid = st.pid
        task = self.by_tid.get(tid)
        where = f"task {task.pid}" if task else f"task {tid}"
        if task is not None and tid != task.pid:
            where += f" (thread {tid})"
        if st.exited:
            if tid in expected:
                return
            self._read_reports()
            if self.errors:
                raise _task_error(self.errors[0])
            raise RestoreError(f"{where}: {st.describe()} during restore",
                               stage="restore")
        if tid not in self.created:
            self.created.append(tid)
        if st.event in (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_CLONE,
                        pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_STOP):
            pt.cont(tid)
            return
        if st.is_syscall_stop:
            pt.cont(tid)
            return
        sig = st.stop_signal
        if sig == signal.SIGSTOP and st.is_signal_delivery:
            regs = _get_regs(tid)
            if _at_restorer_end(regs):
                self.at_end[tid] = regs
                return
        if sig in CRASH_SIGNALS:
            regs = _get_regs(tid)
            self._read_reports()
            detail = f" ({self.errors[0]})" if self.errors else ""
            raise RestoreError(f"{where}: restore crashed with "
                               f"{signal.Signals(sig).name} at ip "
                               f"{regs.rip:#x}{detail}")
        pt.cont(tid, sig)

    # -- finish
    def finish(self) -> None:
        """Every thread is at its restorer's end: unmap each restorer
        region, point every thread at rt_sigreturn, let the tree go."""
        plans = []
        for task in self.ctx.tasks:
            if task.alive:
                plans.append((task, self._prepare(task)))
        from criu.resources import task as task_res
        for task, finals in plans:
            for tid, regs in finals:
                _set_regs(tid, regs)
                try:
                    task_res.apply_sched(
                        tid, task.thread_cores[tid].thread_core)
                except OSError as e:
                    self.ctx.log.warning("task %d: thread %d: cannot "
                                         "restore its scheduling: %s",
                                         task.pid, tid, e.strerror)
            if task.stopped:
                # It stops again at once: with its own signal mask and
                # registers (rt_sigreturn done), not the restorer's.
                for tid, _ in finals:
                    _step_syscall(tid, f"task {task.pid}: rt_sigreturn")
        for task, finals in plans:
            for tid, _ in reversed(finals):     # the leader last
                stop = (tid == task.pid and task.stopped)
                pt.detach(tid, signal.SIGSTOP if stop else 0)
        for task, _ in plans:
            if task.stopped:
                self._pend_stops(task)
        self.created = []

    def _pend_stops(self, task: RestoreTask) -> None:
        """Stop signals that were pending on the stopped task: sent once it
        sits in its group stop again, so that they stay pending."""
        from criu.resources import cpu
        stops = cpu.pending_stops(task)
        if not stops:
            return
        _wait_stopped(task.pid)
        for tid, sig, whole in stops:
            try:
                if whole:
                    os.kill(task.pid, sig)
                else:
                    from compel.native import pidfd
                    pidfd.tgkill(task.pid, tid, sig)
            except OSError as e:
                self.ctx.log.warning("task %d: pending stop signal %d not "
                                     "sent again: %s", task.pid, sig,
                                     e.strerror)

    def _prepare(self, task: RestoreTask) -> list[tuple[int, UserRegs]]:
        where = f"task {task.pid}"
        leader = self.at_end[task.pid]
        region, length = leader.r12, leader.r13
        ip = _vdso_syscall_ip(self.ctx, task, task.pid)
        call = leader.copy()
        call.set_syscall(NR_MUNMAP, (region, length), ip)
        _set_regs(task.pid, call)
        _step_syscall(task.pid, f"{where}: unmapping the restorer")
        ret = _get_regs(task.pid).syscall_ret
        if ret != 0:
            raise RestoreError(f"{where}: unmapping the restorer: "
                               f"{os.strerror(-ret)}")
        if task.table_owner:
            self._close_leftovers(task, leader, ip)
        finals = []
        for tid in task.threads:
            final = self.at_end[tid].copy()
            final.rip = ip
            final.rax = NR_RT_SIGRETURN
            final.orig_rax = 0xFFFFFFFFFFFFFFFF
            finals.append((tid, final))
        self.ctx.log.debug("%s: restorer region %#x+%#x unmapped; "
                           "rt_sigreturn at %#x", where, region, length, ip)
        return finals

    def _close_leftovers(self, task: RestoreTask, leader: UserRegs,
                         ip: int) -> None:
        """An fd table shared by several tasks: every fd the tree did not
        have (criu's, left by each task's restore) closed by close_range
        calls run in its owner, now that every sharer is at its end."""
        from criu.restore.restorer import target_fds
        keep = target_fds(self.ctx, task)
        try:
            now = sorted(int(n) for n in os.listdir(f"/proc/{task.pid}/fd"))
        except OSError as e:
            raise RestoreError(f"task {task.pid}: cannot list its fds: "
                               f"{e.strerror}") from e
        runs: list[list[int]] = []
        for fd in now:
            if fd in keep:
                continue
            if runs and runs[-1][1] + 1 == fd:
                runs[-1][1] = fd
            elif runs and not any(runs[-1][1] < k < fd for k in keep):
                runs[-1][1] = fd            # only free numbers between
            else:
                runs.append([fd, fd])
        for first, last in runs:
            call = leader.copy()
            call.set_syscall(NR_CLOSE_RANGE, (first, last, 0), ip)
            _set_regs(task.pid, call)
            _step_syscall(task.pid, f"task {task.pid}: closing fds "
                          f"{first}-{last}")
            ret = _get_regs(task.pid).syscall_ret
            if ret != 0:
                raise RestoreError(f"task {task.pid}: closing fds {first}-"
                                   f"{last}: {os.strerror(-ret)}")
        self.ctx.log.debug("task %d: shared fd table: %d runs of criu's fds "
                           "closed", task.pid, len(runs))

    # -- failure and cleanup
    def kill_all(self) -> None:
        """SIGKILL every task created so far and reap them all (criu is
        their subreaper): none is left, every PID is free again."""
        for tid in self.created:
            try:
                os.kill(tid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                st = waitpid(-1, WNOHANG)
            except ChildProcessError:
                break               # nothing of the tree is left
            if st is None:
                time.sleep(0.005)

    def close(self) -> None:
        if self.old_chld is not None:
            signal.set_wakeup_fd(self.old_wakeup)
            signal.signal(signal.SIGCHLD, self.old_chld)
            self.old_chld = None
        for fd in (self.wake_r, self.wake_w):
            if fd >= 0:
                os.close(fd)
        self.wake_r = self.wake_w = -1
        if self.chan is not None:
            for fd in (self.chan.report_r, self.chan.report_w,
                       self.chan.release_r, self.chan.release_w,
                       self.chan.helpers_r, self.chan.helpers_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.chan = None


# ------------------------------------------------------------- in the task
def _task_main(ctx: RestoreContext, task: RestoreTask, blob: Blob,
               modules: list, chan: _Channel) -> None:
    """The life of one new task until it becomes the dumped one: session,
    children, stage barrier, resources, restorer.  Never returns."""
    from criu.resources import pstree
    step = "pstree"                         # the resource being restored
    try:
        criu_log.reopen_for_pid()          # --log-pid: a log file per task
        if 0 <= ctx.images.fd < task.service_fds.base:
            ctx.images.fd = task.service_fds.keep(ctx.images.fd,
                                                  "images dir")
        ctx.images.path = ctx.images.path.resolve()
        # Children that stay in the session this task leaves at setsid.
        kids = list(task.children)
        early = [k for k in kids if k.sid != task.sid and
                 k.sid == os.getsid(0)]
        for kid in early:
            if kid.shares_table:
                raise RestoreError(f"task {kid.pid}: shares its parent's fd "
                                   "table but stays in the session its "
                                   "parent leaves: not supported yet")
            _fork_child(ctx, task, kid, blob, modules, chan)
        pstree.enter_session(ctx, task)
        for kid in kids:
            if kid not in early:
                _fork_child(ctx, task, kid, blob, modules, chan,
                            _shared_with_parent(task, kid))
        for kid in task.parent_kids:
            _fork_child(ctx, task, kid, blob, modules, chan,
                        nclone.CLONE_PARENT)
        os.write(chan.report_w, f"{FORKED} {task.pid}\n".encode())
        _wait_release(task, chan.release_r)
        pstree.join_group(ctx, task)
        if task.helper:
            _wait_release(task, chan.helpers_r)
            criu_log.flush()
            os._exit(0)
        os.write(chan.report_w, f"{JOINED} {task.pid}\n".encode())
        for kid in kids:
            if kid.helper:
                os.waitpid(kid.pid, 0)      # it exits once all joined
        if task.zombie:
            _become_zombie(task)
        # And the task's own /proc: the fs hook may chroot it away.
        task.proc_self = ProcSelf.open_here(task.service_fds,
                                            f"task {task.pid}")
        if task.shares_table and task.files_ready is not None:
            # The parent places the fds of the table both use first.
            _wait_release(task, task.files_ready[0])
            os.close(task.files_ready[0])
            task.service_fds.forget(task.files_ready[0])
        for module in modules:
            step = module.NAME
            ctx.log.debug("task %d: restoring %s", task.pid, module.NAME)
            module.restore(ctx, task)
            if module.NAME == "files":
                _tell_table_sharers(task)
        step = "restorer"
        restorer.jump(ctx, task, blob, chan.report_w)
    except CriuError as e:
        _report(chan.report_w, f"[{e.resource or step}] {e}")
    except OSError as e:
        _report(chan.report_w, f"[{step}] " + str(from_os_error(
            e, f"task {task.pid}: {step}")))
        ctx.log.debug("%s", traceback.format_exc())
    except BaseException as e:  # noqa: BLE001 - the child must not escape
        _report(chan.report_w, f"[{step}] task {task.pid}: "
                f"{type(e).__name__}: {e}")
        ctx.log.debug("%s", traceback.format_exc())
    criu_log.flush()
    os._exit(1)


def _shared_with_parent(parent: RestoreTask, kid: RestoreTask) -> int:
    """clone3 flags for what a child shares with its parent: cwd, root
    and umask (CLONE_FS), the fd table (CLONE_FILES: the parent makes a
    pipe for the child to wait on until the fds are in place)."""
    flags = 0
    if parent.ids is not None and kid.ids is not None and \
            parent.ids.fs_id == kid.ids.fs_id:
        flags |= nclone.CLONE_FS
    if kid.shares_table:
        r, w = os.pipe2(os.O_CLOEXEC)
        kid.files_ready = (parent.service_fds.keep(r, "files ready"),
                           parent.service_fds.keep(w, "files ready"))
        flags |= nclone.CLONE_FILES
    return flags


def _tell_table_sharers(task: RestoreTask) -> None:
    """The fds are in place: the children sharing the table may go on."""
    for kid in task.children:
        if kid.shares_table and kid.files_ready is not None:
            w = kid.files_ready[1]
            os.write(w, b"r")
            os.close(w)
            task.service_fds.forget(w)


def _wait_release(task: RestoreTask, fd: int) -> None:
    if os.read(fd, 1) != b"r":
        raise RestoreError(f"task {task.pid}: criu went away")


def _fork_child(ctx: RestoreContext, parent: RestoreTask, kid: RestoreTask,
                blob: Blob, modules: list, chan: _Channel,
                flags: int = 0) -> None:
    pid = _clone_task(kid.pid, flags)
    if pid == 0:
        kid.service_fds.base = parent.service_fds.base
        kid.service_fds.fds = dict(parent.service_fds.fds)
        _task_main(ctx, kid, blob, modules, chan)


def _clone_task(pid: int, flags: int) -> int:
    """fork() with the dumped PID: 0 in the child, pid in the parent."""
    try:
        return nclone.fork_with_tid([pid], flags)
    except FileExistsError:
        raise RestoreError(f"task {pid}: PID {pid} is already used") \
            from None
    except OSError as e:
        raise RestoreError(f"task {pid}: cannot create it with clone3: "
                           f"{e.strerror}") from e


def _task_error(line: str) -> RestoreError:
    """The error a task reported: "[resource] message", or a line of the
    restorer blob ("restorer: ...")."""
    resource = None
    if line.startswith("[") and "] " in line:
        resource, line = line[1:].split("] ", 1)
    elif line.startswith("restorer:"):
        resource = "restorer"
    return RestoreError(line, stage="restore", resource=resource)


def _become_zombie(task: RestoreTask) -> None:
    """Die the way the dumped zombie did, so its parent reaps that status."""
    import resource
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(task.core.tc.comm)
    except OSError:
        pass                            # only `ps` would show the difference
    if task.core.thread_core.HasField("creds"):
        from criu.resources import creds
        creds.apply_here(task.core.thread_core.creds)
    status = task.core.tc.exit_code
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0)


def _report(fd: int, message: str) -> None:
    line = " ".join(message.split())[:4000] + "\n"
    try:
        os.write(fd, line.encode(errors="replace"))
    except OSError:
        pass


def _get_regs(pid: int) -> UserRegs:
    return UserRegs.from_buffer_copy(
        pt.get_regset(pid, pt.NT_PRSTATUS, len(bytes(UserRegs()))))


def _set_regs(pid: int, regs: UserRegs) -> None:
    pt.set_regset(pid, pt.NT_PRSTATUS, bytes(regs))


def _wait_stopped(pid: int, limit: float = 5.0) -> None:
    """Until the task is in its group stop (state T), a bounded time."""
    deadline = time.monotonic() + limit
    while _state(pid) not in "TX" and time.monotonic() < deadline:
        time.sleep(0.001)


def _step_syscall(tid: int, what: str) -> None:
    """Run the syscall the thread's registers point at, under ptrace."""
    for _ in range(2):                      # syscall entry, then exit
        pt.syscall_step(tid)
        st = waitpid(tid)
        assert st is not None
        if st.exited or not st.is_syscall_stop:
            raise RestoreError(f"{what}: {st.describe()}")


def _state(pid: int) -> str:
    """The task's state letter; "X" once it is gone."""
    try:
        return cproc.state(pid)
    except CompelError:
        return "X"


def _all_dead(pids: set[int]) -> bool:
    """Whether every one of pids is a zombie now (or gone)."""
    return all(_state(pid) in "ZX" for pid in pids)


def _at_restorer_end(regs: UserRegs) -> bool:
    """The SIGSTOP a restorer thread sends itself last: rip just after its
    syscall, inside the region r12/r13 describe."""
    return regs.r12 <= regs.rip - 2 < regs.r12 + regs.r13 and regs.rax == 0


def _vdso_syscall_ip(ctx: RestoreContext, task: RestoreTask,
                     pid: int) -> int:
    """A `syscall` instruction in the restored task: in its vdso (now at
    its dumped address), else in any of its executable mappings.  The
    addresses come from the images: the memory plan lives in the child."""
    from criu.mem import vmas as vm
    mm = ctx.images.read_one(f"mm-{task.pid}.img")
    code_vmas = sorted((v for v in mm.vmas if v.prot & vm.PROT_EXEC and
                        not v.status & vm.VMA_AREA_VSYSCALL),
                       key=lambda v: not v.status & vm.VMA_AREA_VDSO)
    for v in code_vmas:
        try:
            code = nmem.read_remote(pid, v.start, min(v.end - v.start,
                                                       1 << 20))
        except OSError:
            continue
        at = code.find(SYSCALL_INSN)
        if at >= 0:
            return v.start + at
    raise RestoreError(f"task {task.pid}: no syscall instruction in its "
                       "code to return through")


def _write_pidfile(opts: Options, pid: int) -> None:
    path = opts.pidfile
    assert path is not None
    if not os.path.isabs(path):
        path = os.path.join(opts.work_path, path)
    try:
        with open(path, "w") as f:
            f.write(f"{pid}\n")
    except OSError as e:
        raise RestoreError(f"--pidfile {path}: {e.strerror}") from e


def _wait_tree(ctx: RestoreContext, pid: int) -> Any:
    """Without -d criu stays the parent and waits, like CRIU does."""
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        ctx.log.info("task %d exited with status %d", pid,
                     os.WEXITSTATUS(status))
        ctx.exit_code = os.WEXITSTATUS(status)   # type: ignore[attr-defined]
    elif os.WIFSIGNALED(status):
        ctx.log.info("task %d killed by signal %d", pid, os.WTERMSIG(status))
        ctx.exit_code = 1                         # type: ignore[attr-defined]
    return status
