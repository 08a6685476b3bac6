"""The dump pipeline: seize -> collect -> per-resource dump -> images ->
release (kill by default, -R leave running, -s leave stopped).

Safety: from the moment the first task is seized, any failure (an error in
a resource module, a bug, SIGINT) cures the parasites, puts registers back
and detaches every task, so the tree keeps running exactly as before; the
error is then reported on one line.  inventory.img is written last, after
every other image is complete, so a dump interrupted halfway is never taken
for a complete one (restore refuses a directory without it).
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from criu import log as criu_log
from criu import action_scripts, resources, stats
from criu.progress import Progress
from criu.dump import ids, tree
from criu.errors import CriuError, DumpError, UsageError, from_os_error
from criu.imagedir import ImageDir
from criu.interrupt import TimedOut, termination_interrupts
from criu.options import Options
from criu.resources.base import DumpContext, new_core

# Tests make a dump fail at a chosen step to check that the task survives:
# CRIU_FAULT_INJECT=<step>, a step being "collect", "parasite" (fail with
# a parasite in every task), a resource NAME ("files", "fs", ...) meaning
# "after it", or "images" (before inventory); "stall:<step>" waits there
# instead (to signal criu mid-dump).
FAULT_ENV = "CRIU_FAULT_INJECT"

IMAGES_VERSION = 2          # CRTOOLS_IMAGES_V1_1: what current CRIU writes
NO_LSM = 0


def dump(opts: Options) -> DumpContext:
    """Dump the tree rooted at opts.pid into opts.images_dir."""
    with termination_interrupts(opts.timeout):
        return _dump(opts)


def _dump(opts: Options) -> DumpContext:
    if opts.pid is None:
        raise UsageError("dump: -t/--tree PID is required (try criu -h)")
    if opts.leave_running and opts.leave_stopped:
        raise UsageError("dump: -R and -s exclude each other")
    if opts.freeze_cgroup:
        # Not ignored quietly: the tree is frozen with ptrace only.
        raise UsageError("--freeze-cgroup is not supported yet (criu "
                         "freezes the tree with ptrace, re-scanning it "
                         "until no task appears)")
    logger = criu_log.get_logger()
    images = ImageDir(opts.images_dir, create=True)
    _forget_previous_dump(images)
    ctx = DumpContext(opts=opts, images=images, log=logger,
                      root_pid=opts.pid)
    logger.info("Dumping processes (pid: %d)", opts.pid)
    # Everything importable is imported before the task is frozen: the
    # frozen time is what the dumped program feels.
    modules = resources.load()
    _warm_up_images()
    progress = Progress(f"criu dump {opts.pid}")
    progress.step("freezing")
    started = time.monotonic()
    try:
        action_scripts.run(opts, "pre-dump", opts.pid)
        _seize_tree(ctx)
    finally:
        progress.done()
    ctx.stats.freezing_time = time.monotonic() - started
    frozen = time.monotonic()
    try:
        progress.step("collecting")
        _collect(ctx)
        _fault("collect")
        if os.environ.get(FAULT_ENV) == "parasite":
            for task in ctx.tasks:
                task.parasite()
            _fault("parasite")
        for module in modules:
            progress.step(module.NAME)
            zombies_too = getattr(module, "FOR_ZOMBIES", False)
            for task in ctx.tasks:
                if task.zombie and not zombies_too:
                    continue
                logger.debug("task %d: dumping %s", task.pid, module.NAME)
                try:
                    module.dump(ctx, task)
                except CriuError as e:
                    raise e.attach("dump", module.NAME, task.pid)
                except OSError as e:
                    raise from_os_error(
                        e, f"task {task.pid}: {module.NAME}", stage="dump",
                        resource=module.NAME, task=task.pid) from e
            _fault(module.NAME)
        progress.step("writing images")
        for module in modules:
            finish = getattr(module, "dump_finish", None)
            if finish is not None:
                finish(ctx)
        for task in ctx.tasks:
            if task.ids is not None:
                images.write(f"ids-{task.pid}.img", [task.ids])
            for tid, core in task.thread_cores.items():
                images.write(f"core-{tid}.img", [core])
        _fault("images")
        ctx.stats.frozen_time = time.monotonic() - frozen
        stats.write_dump(images, ctx.stats)
        _write_inventory(ctx)
        action_scripts.run(opts, "post-dump", opts.pid)
    except BaseException as e:
        progress.done()
        failure = _fail(ctx, e)
        images.close()
        raise failure from e
    progress.done()
    errors = ctx.run_cleanups()
    for err in errors:
        logger.warning("cleanup after dump: %s", err)
    try:
        _release(ctx)
    except Exception as e:  # noqa: BLE001 - one line for the user
        raise DumpError(f"task {ctx.root_pid}: the dump is complete, but "
                        f"releasing the task failed: {e}") from e
    finally:
        images.close()
    logger.info("Dumping finished successfully")
    return ctx


def _warm_up_images() -> None:
    """Import the image schemas, the images library writers use and the
    fd kinds (the files resource would import them on its first fd, while
    the tree is frozen)."""
    import images.image  # noqa: F401
    from images import pb
    from criu.resources import fdtypes
    pb.load_all()
    fdtypes.load()


def _forget_previous_dump(images: ImageDir) -> None:
    """A directory reused for a new dump must not look complete meanwhile."""
    for name in ("inventory.img", "stats-dump"):
        try:
            os.unlink(images.file(name))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise DumpError(f"images dir {images.path}: cannot remove old "
                            f"{name}: {e.strerror}") from e


def _fault(step: str) -> None:
    wanted = os.environ.get(FAULT_ENV)
    if wanted == step:
        raise DumpError(f"fault injected after step {step} ({FAULT_ENV})")
    if wanted == "stall:" + step:
        # For tests that signal criu in the middle of a dump.
        criu_log.get_logger().warning("stalled after step %s (%s)", step,
                                      FAULT_ENV)
        time.sleep(600)


# ------------------------------------------------------------------ seize
def _seize_tree(ctx: DumpContext) -> None:
    """Freeze every task of the tree under ptrace (criu/dump/tree.py)."""
    try:
        tree.seize_tree(ctx, _new_core, _infect)
    except BaseException as e:
        # Those already seized go back as they were, now, not at exit.
        for task in ctx.tasks:
            if task.seized is not None:
                try:
                    task.seized.detach(leave_stopped=False)
                except Exception:  # noqa: BLE001 - release the others
                    pass
        if isinstance(e, CriuError):
            raise e.attach("dump", "seize")
        raise


def _infect(seized: Any) -> Any:
    """compel's standard parasite in the task, with its typed commands;
    compel cures it when the task is detached (or killed with it)."""
    from compel.stdparasite import StdParasite
    return StdParasite.infect(seized)


def _new_core() -> Any:
    """A core_entry with every required field present; modules fill it."""
    return new_core()


# ---------------------------------------------------------------- collect
def _collect(ctx: DumpContext) -> None:
    """Give each task its ids; refuse sharing we cannot restore yet."""
    for task in ctx.tasks:
        if task.zombie:
            continue
        ids.assign(ctx, task)
    _refuse_shared(ctx, "vm_id", "its memory (CLONE_VM without "
                   "CLONE_THREAD, e.g. a vfork child)")
    _check_shared_tables(ctx)
    _refuse_shared(ctx, "sighand_id", "its signal handlers (CLONE_SIGHAND)")


def _check_shared_tables(ctx: DumpContext) -> None:
    """An fd table shared through CLONE_FILES is restored by forking the
    sharer with CLONE_FILES from its parent: so each sharer's parent must
    share it too (the first task of a table in tree order excepted)."""
    first: dict[int, int] = {}
    by_pid = {t.pid: t for t in ctx.tasks}
    for task in ctx.tasks:
        if task.ids is None:
            continue
        files_id = task.ids.files_id
        if files_id not in first:
            first[files_id] = task.pid
            continue
        parent = by_pid.get(task.ppid)
        if parent is None or parent.ids is None or \
                parent.ids.files_id != files_id:
            raise DumpError(f"task {task.pid}: shares its fd table "
                            f"(CLONE_FILES) with task {first[files_id]}, "
                            "which is not its parent: not supported yet")


def _refuse_shared(ctx: DumpContext, field: str, what: str) -> None:
    owner: dict[int, int] = {}
    for task in ctx.tasks:
        if task.ids is None:
            continue
        value = getattr(task.ids, field)
        if value in owner:
            raise DumpError(f"task {task.pid}: shares {what} with task "
                            f"{owner[value]}: not supported yet")
        owner[value] = task.pid


# ----------------------------------------------------------------- images
def _write_inventory(ctx: DumpContext) -> None:
    from images.pb import inventory_pb2
    root = ctx.task(ctx.root_pid)
    inv = inventory_pb2.inventory_entry(
        img_version=IMAGES_VERSION, fdinfo_per_id=True, ns_per_id=True,
        lsmtype=NO_LSM)
    inv.root_ids.CopyFrom(root.ids)
    ctx.images.write("inventory.img", [inv])


# ---------------------------------------------------------------- release
def _release(ctx: DumpContext) -> None:
    """After a complete dump: kill (default), -R leave running, -s stopped."""
    opts = ctx.opts
    for task in ctx.tasks:
        if task.seized is None:
            continue                    # a zombie: left to its parent
        if opts.leave_running or opts.leave_stopped:
            task.seized.detach(leave_stopped=opts.leave_stopped)
        else:
            task.seized.kill()
    state = ("left stopped" if opts.leave_stopped else
             "left running" if opts.leave_running else "killed")
    ctx.log.info("Tasks %s: %s", ", ".join(str(t.pid) for t in ctx.tasks),
                 state)


def _fail(ctx: DumpContext, err: BaseException) -> CriuError:
    """Put every task back as it was; return the error to raise."""
    ctx.log.debug("dump failed:\n%s", "".join(
        traceback.format_exception(type(err), err, err.__traceback__)))
    problems = [str(e) for e in ctx.run_cleanups()]
    for task in ctx.tasks:
        if task.seized is None:
            continue
        try:
            task.seized.detach(leave_stopped=False)
        except Exception as e:  # noqa: BLE001 - keep releasing the others
            problems.append(f"task {task.pid}: release failed: {e}")
    where = err if isinstance(err, CriuError) else None
    if isinstance(err, CriuError):
        message = str(err)
    elif isinstance(err, TimedOut):
        message = f"task {ctx.root_pid}: {err}"
    elif isinstance(err, KeyboardInterrupt):
        message = f"task {ctx.root_pid}: dump interrupted ({err or 'SIGINT'})"
    else:
        message = f"task {ctx.root_pid}: dump failed: {err}"
    if problems:
        message += "; while releasing: " + "; ".join(problems)
    else:
        message += " (the task was left running as before)"
    failure = DumpError(message)
    if where is not None:
        failure.copy_where(where)
    failure.attach("dump")
    return failure
