"""Object ids of a dump: which kernel objects tasks share.

CRIU gives every shared kernel object (mm, fd table, fs struct, signal
handlers, each namespace) a small id, so the restore can recreate the
sharing.  Tasks share an object when kcmp() says so (mm, files, fs,
sighand) or when /proc/PID/ns/* points at the same inode (namespaces).
"""

from __future__ import annotations

import os
from typing import Any

from compel.native import files as nfiles
from criu.resources.base import DumpContext, DumpTask

# task_kobj_ids_entry field -> kcmp type
KCMP_KINDS = {"vm_id": nfiles.KCMP_VM, "files_id": nfiles.KCMP_FILES,
              "fs_id": nfiles.KCMP_FS, "sighand_id": nfiles.KCMP_SIGHAND}
# task_kobj_ids_entry field -> /proc/PID/ns entry
NS_KINDS = {"pid_ns_id": "pid", "net_ns_id": "net", "ipc_ns_id": "ipc",
            "uts_ns_id": "uts", "mnt_ns_id": "mnt", "user_ns_id": "user",
            "cgroup_ns_id": "cgroup", "time_ns_id": "time"}


def assign(ctx: DumpContext, task: DumpTask) -> Any:
    """Fill task.ids (a task_kobj_ids_entry) and the core's ids."""
    from images.pb import core_pb2
    ids = core_pb2.task_kobj_ids_entry()
    owners: dict[str, list[tuple[int, int]]] = ctx.registry.setdefault(
        "ids.owners", {})
    for field, kind in KCMP_KINDS.items():
        known = owners.setdefault(field, [])
        value = next((i for pid, i in known
                      if nfiles.kcmp(pid, task.pid, kind) == 0), None)
        if value is None:
            value = ctx.next_id(field)
            known.append((task.pid, value))
        setattr(ids, field, value)
    ns_ids: dict[int, int] = ctx.registry.setdefault("ids.ns", {})
    for field, name in NS_KINDS.items():
        try:
            inode = os.stat(f"/proc/{task.pid}/ns/{name}").st_ino
        except FileNotFoundError:
            continue            # kernel without this namespace type
        if inode not in ns_ids:
            ns_ids[inode] = ctx.next_id("ns")
        setattr(ids, field, ns_ids[inode])
    task.ids = ids
    task.core.ids.CopyFrom(ids)
    return ids
