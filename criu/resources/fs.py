"""A task's filesystem context: cwd, root and umask (fs-PID.img).

CRIU images cwd and root as regular-file entries (directories) in
files.img referenced by id from fs_entry; the umask comes from
/proc/PID/status (kernel >= 4.7), so no parasite call is needed.
"""

from __future__ import annotations

import os

from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.fdtypes import reg
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask

NAME = "fs"


def dump(ctx: DumpContext, task: DumpTask) -> None:
    from images.pb import fs_pb2
    ids = {}
    for what in ("cwd", "root"):
        path = proc.link(task.pid, what)
        if path.endswith(" (deleted)"):
            raise DumpError(f"task {task.pid}: {what} {path}: the directory "
                            "was removed")
        st = os.stat(f"/proc/{task.pid}/{what}")
        ids[what] = reg.add_reg_file(
            ctx, path, os.O_RDONLY | os.O_DIRECTORY, 0,
            proc.mnt_id_of(task.pid, what), st)
    umask_text = proc.status(task.pid).get("Umask")
    if umask_text is None:
        raise DumpError(f"task {task.pid}: umask: /proc/{task.pid}/status "
                        "has no Umask line (kernel too old)")
    entry = fs_pb2.fs_entry(cwd_id=ids["cwd"], root_id=ids["root"],
                            umask=int(umask_text, 8))
    ctx.images.write(f"fs-{task.pid}.img", [entry])
    ctx.log.info("task %d: cwd %s, umask %03o", task.pid,
                 proc.link(task.pid, "cwd"), entry.umask)


def restore(ctx: RestoreContext, task: RestoreTask) -> None:
    entry = ctx.images.read_one(f"fs-{task.pid}.img")
    cwd = files.reg_file(ctx, entry.cwd_id).name
    root = files.reg_file(ctx, entry.root_id).name
    where = f"task {task.pid}"
    try:
        cwd_fd = os.open(cwd, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise RestoreError(f"{where}: cwd {cwd}: {e.strerror}") from e
    try:
        if root != "/":
            try:
                os.chroot(root)
            except OSError as e:
                raise RestoreError(f"{where}: root {root}: "
                                   f"{e.strerror}") from e
        os.fchdir(cwd_fd)
    finally:
        os.close(cwd_fd)
    if entry.HasField("umask"):
        os.umask(entry.umask)
