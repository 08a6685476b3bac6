"""The resource table: which modules dump and restore a task, in order.

Each entry names a module implementing the protocol of
criu.resources.base.Resource (NAME, dump(ctx, task), restore(ctx, task)).
Dump calls them in this order while the tree is seized; restore calls them
in this order inside each new task, before the restorer blob.  The order
matters on restore: session/process group first (pstree); fs, which
changes the task's root and cwd (chroot, fchdir), after every module that
resolves a name in criu's view of the filesystem: files and memory open the
dumped paths (criu's view, e.g. /srv/jail/bin/app for a task chrooted to
/srv/jail) and the image reader imports Python modules (images.pb.*) lazily
on first use; after fs neither would resolve in a chrooted task.  Only hooks
that look nothing up by name may follow fs (rlimits; then the restorer, which
reads the task's own /proc through the /proc/self fd the pipeline opened
before the first hook: task.proc_self); rlimits last, since they restrict the
new task from then on.

Optional module hooks, called once per dump/restore when present:
    def dump_finish(ctx: DumpContext) -> None
        after every task went through every module: write images shared
        by all tasks (files.img, pstree.img, ...); called in table order.
    def collect(ctx: RestoreContext, service_fds: ServiceFds) -> None
        in criu, before any task is forked: make the objects several tasks
        share (shared memory, ...), kept as fds the tasks inherit.
    def restorer_fields(task: RestoreTask, block: RestorerBlock) -> dict
        in the new task: this module's part of the restorer's argument
        block (criu/restorer/args.py), from what its restore() left.
    def restorer_thread_fields(task: RestoreTask, tid: int,
                               block: RestorerBlock) -> dict
        in the new task, once per thread (leader first): this module's
        fields of thread tid's rst_thread, from what its restore() left.
Module attribute FOR_ZOMBIES = True: also called for zombie tasks.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from criu.resources.base import (DumpContext, DumpStats, DumpTask, Resource,
                                 RestoreContext, RestorerArgs, RestoreStats,
                                 RestoreTask, ServiceFds)

RESOURCES: tuple[str, ...] = (
    "criu.resources.pstree",    # session / process group; pstree.img
    "criu.resources.task",      # comm, personality, state, sched (core)
    "criu.resources.files",     # fdinfo/files images; each kind of file
                                #   (pipes, ttys...): fdtypes/
    "criu.resources.file_locks",  # flock/POSIX/OFD locks, after the fds
    "criu.resources.creds",     # uids/gids/caps (core.thread_core.creds)
    "criu.resources.memory",    # mm/pagemap/pages images -> restorer plan
    "criu.resources.cpu",       # regs, fpu, signals, rseq -> sigframe plan
    "criu.resources.timers",    # itimers, POSIX timers -> restorer
    "criu.resources.seccomp",   # seccomp mode, filters, no_new_privs
                                #   (seccomp.img) -> restorer, per thread
    "criu.resources.fs",        # cwd, root, umask: after every lookup by
                                #   name (see above; test_criu_chroot.py)
    "criu.resources.rlimits",   # last: limits the new task from here on
)

__all__ = ["RESOURCES", "load", "DumpContext", "DumpStats", "DumpTask",
           "Resource", "RestoreContext", "RestorerArgs", "RestoreStats",
           "RestoreTask", "ServiceFds"]


def load() -> list[ModuleType]:
    """The resource modules, imported, in table order."""
    return [importlib.import_module(name) for name in RESOURCES]
