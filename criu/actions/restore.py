"""`criu restore -D DIR [-d] [--pidfile FILE] [-j] [--display-stats]`.

Before anything is created, the images directory must hold a complete dump
(inventory.img, written last by dump, of a version we read) and every PID
of the tree must be free; otherwise one line says which and nothing
happened.  The restore itself is criu.restore.pipeline.
"""

from __future__ import annotations

import os

from criu import cli, stats
from criu.errors import CriuError, ImageError, RestoreError
from criu.imagedir import ImageDir
from criu.options import Options

IMAGES_VERSIONS = (1, 2)     # CRTOOLS_IMAGES_V1 and V1_1


def check_images(opts: Options) -> None:
    """A complete dump of a version we read, or ImageError."""
    path = opts.images_dir
    if not os.path.isdir(path):
        raise ImageError(f"images dir {path}: no such directory")
    with ImageDir(path) as images:
        if not images.exists("inventory.img"):
            raise ImageError(f"images dir {path}: inventory.img is missing: "
                             "not a complete dump (interrupted, or not a "
                             "dump directory)")
        inv = images.read_one("inventory.img")
        if inv.img_version not in IMAGES_VERSIONS:
            raise ImageError(f"{images.file('inventory.img')}: images "
                             f"version {inv.img_version} is not supported")
        if not images.exists("pstree.img"):
            raise ImageError(f"images dir {path}: pstree.img is missing")


def check_pids_free(opts: Options) -> None:
    """Every PID of the dumped tree must be free (RestoreError otherwise).

    The restore pipeline asks clone3 for exactly these PIDs and would fail
    halfway; checking first gives a clear error with nothing created.  (A
    PID taken between this check and clone3 still fails cleanly there.)
    """
    with ImageDir(opts.images_dir) as images:
        for entry in images.read("pstree.img"):
            for pid in [entry.pid, *entry.threads]:
                comm = _comm_of(pid)
                if comm is not None and comm.endswith(ZOMBIE):
                    # `criu dump && criu restore`: the dumped task may still
                    # wait for its parent to reap it.
                    comm = _wait_reaped(pid)
                if comm is not None:
                    raise RestoreError(
                        f"task {entry.pid}: PID {pid} is already taken by a "
                        f"process ({comm}); cannot restore it")


ZOMBIE = ", a zombie its parent has not reaped yet"
ZOMBIE_WAIT = 5.0           # seconds a zombie may take to be reaped


def _wait_reaped(pid: int) -> str | None:
    """Wait a bounded time for a zombie holding pid to be reaped."""
    import time
    from criu import log
    log.get_logger().info("PID %d is held by a zombie: waiting up to %.0f s "
                          "for its parent to reap it", pid, ZOMBIE_WAIT)
    deadline = time.monotonic() + ZOMBIE_WAIT
    comm = _comm_of(pid)
    while comm is not None and comm.endswith(ZOMBIE) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
        comm = _comm_of(pid)
    if comm is not None and comm.endswith(ZOMBIE):
        comm += f" after {ZOMBIE_WAIT:.0f} s"
    return comm


def _comm_of(pid: int) -> str | None:
    """What holds pid, for the message; None if it is free."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    comm = text[text.index("(") + 1:text.rindex(")")]
    if text[text.rindex(")") + 2:].startswith("Z"):
        return comm + ZOMBIE
    return comm


def run(command: str, argv: list[str]) -> int:
    opts, _ = cli.parse_options(command, argv)
    check_images(opts)
    check_pids_free(opts)
    from criu.restore import pipeline
    try:
        ctx = pipeline.restore(opts)
    except CriuError as e:
        raise e.attach("restore")
    if opts.display_stats:
        stats.display_restore(ctx.stats)
    if opts.exec_cmd:
        # Like CRIU: the command takes criu's place, as the root's parent.
        from criu import log
        log.flush()
        try:
            os.execvp(opts.exec_cmd[0], opts.exec_cmd)
        except OSError as e:
            raise RestoreError(f"--exec-cmd {opts.exec_cmd[0]}: "
                               f"{e.strerror} (the tree was restored and "
                               "runs)") from e
    return int(getattr(ctx, "exit_code", 0) or 0)
