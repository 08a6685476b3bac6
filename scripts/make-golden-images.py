#!/usr/bin/env python3
"""Regenerate tests/unit/golden/: a small synthetic dump directory.

Images are written with our library; the expected JSON (crit decode and
crit show) and `crit x` outputs are produced by CRIU's own crit (Debian's
/usr/bin/crit, CRIU 3.17), so the golden data is an independent reference.
Run: .venv/bin/python scripts/make-golden-images.py   (needs /usr/bin/crit)
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from images import write_image
from images.pb import (core_pb2, eventfd_pb2, fdinfo_pb2, fown_pb2, fs_pb2, inventory_pb2, mm_pb2,
                       pagemap_pb2, pipe_data_pb2, pipe_pb2, pstree_pb2, regfile_pb2, sk_opts_pb2,
                       sk_unix_pb2, vma_pb2)

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "unit" / "golden"
CRIU_CRIT = "/usr/bin/crit"


def complete(msg: Message) -> Message:
    """Give every unset required field a zero value (recursively)."""
    for field in msg.DESCRIPTOR.fields:
        if field.label != FieldDescriptor.LABEL_REQUIRED:
            continue
        if field.message_type is not None:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            complete(sub)
        elif not msg.HasField(field.name):
            default = {FieldDescriptor.TYPE_STRING: "", FieldDescriptor.TYPE_BYTES: b"",
                       FieldDescriptor.TYPE_BOOL: False}.get(field.type, 0)
            if field.enum_type is not None:
                default = field.enum_type.values[0].number
            setattr(msg, field.name, default)
    return msg


FOWN = fown_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)
TASKS = [  # pid, ppid, pgid, sid, comm, files_id
    (100, 0, 100, 100, "init", 1),
    (101, 100, 100, 100, "worker", 2),
    (102, 100, 102, 100, "logger", 2),
]
PIPE_ID = 0x2A17


def vma(start: int, end: int, status: int, prot: int = 3, flags: int = 0x22, shmid: int = 0,
        pgoff: int = 0) -> vma_pb2.vma_entry:
    return vma_pb2.vma_entry(start=start, end=end, pgoff=pgoff, shmid=shmid, prot=prot,
                             flags=flags, status=status, fd=-1)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    d = str(OUT)

    write_image(f"{d}/inventory.img", "INVENTORY", [inventory_pb2.inventory_entry(
        img_version=2, fdinfo_per_id=True, root_ids=complete(core_pb2.task_kobj_ids_entry(
            vm_id=1, files_id=1, fs_id=1, sighand_id=1, pid_ns_id=7, net_ns_id=8)),
        ns_per_id=True, root_cg_set=1, lsmtype=0)])
    write_image(f"{d}/pstree.img", "PSTREE", [
        pstree_pb2.pstree_entry(pid=pid, ppid=ppid, pgid=pgid, sid=sid, threads=[pid])
        for pid, ppid, pgid, sid, _, _ in TASKS])

    files = [
        fdinfo_pb2.file_entry(type=fdinfo_pb2.REG, id=1, reg=complete(regfile_pb2.reg_file_entry(
            id=1, flags=0o2, pos=0, fown=FOWN, name="/dev/null"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.REG, id=2, reg=complete(regfile_pb2.reg_file_entry(
            id=2, flags=0o2101, pos=4096, fown=FOWN, name="/var/log/worker.log"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.REG, id=3, reg=complete(regfile_pb2.reg_file_entry(
            id=3, flags=0o100000, pos=0, fown=FOWN, name="/usr/bin/worker"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.REG, id=4, reg=complete(regfile_pb2.reg_file_entry(
            id=4, flags=0o200000, pos=0, fown=FOWN, name="/"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.REG, id=5, reg=complete(regfile_pb2.reg_file_entry(
            id=5, flags=0o100000, pos=0, fown=FOWN, name="/usr/lib/libc.so.6"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.PIPE, id=6, pipe=pipe_pb2.pipe_entry(
            id=6, pipe_id=PIPE_ID, flags=0, fown=FOWN)),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.UNIXSK, id=7, usk=complete(sk_unix_pb2.unix_sk_entry(
            id=7, ino=51234, type=1, state=1, flags=2, uflags=0, backlog=0, peer=51235, fown=FOWN,
            opts=complete(sk_opts_pb2.sk_opts_entry()), name=b"\0worker.sock"))),
        fdinfo_pb2.file_entry(type=fdinfo_pb2.EVENTFD, id=8, efd=eventfd_pb2.eventfd_file_entry(
            id=8, flags=2, fown=FOWN, counter=3)),
    ]
    write_image(f"{d}/files.img", "FILES", files)
    fdtables = {
        1: [(0, 1, fdinfo_pb2.REG), (1, 1, fdinfo_pb2.REG), (2, 1, fdinfo_pb2.REG)],
        2: [(0, 1, fdinfo_pb2.REG), (1, 2, fdinfo_pb2.REG), (3, 6, fdinfo_pb2.PIPE),
            (4, 7, fdinfo_pb2.UNIXSK), (5, 8, fdinfo_pb2.EVENTFD)],
    }
    for files_id, fds in fdtables.items():
        write_image(f"{d}/fdinfo-{files_id}.img", "FDINFO", [
            fdinfo_pb2.fdinfo_entry(id=fid, flags=1 if fd > 2 else 0, type=ftype, fd=fd)
            for fd, fid, ftype in fds])

    for pid, _, _, _, comm, files_id in TASKS:
        write_image(f"{d}/core-{pid}.img", "CORE", [core_pb2.core_entry(
            mtype=core_pb2.core_entry.X86_64, tc=complete(core_pb2.task_core_entry(
                task_state=1, exit_code=0, personality=0, flags=0x402100, blk_sigset=0, comm=comm)))])
        write_image(f"{d}/ids-{pid}.img", "IDS", [complete(core_pb2.task_kobj_ids_entry(
            vm_id=pid, files_id=files_id, fs_id=pid, sighand_id=pid))])
        write_image(f"{d}/fs-{pid}.img", "FS", [fs_pb2.fs_entry(cwd_id=4, root_id=4, umask=0o22)])
        base = 0x400000
        vmas = [
            vma(base, base + 0x2000, 0x41, prot=5, flags=0x2, shmid=3),
            vma(base + 0x2000, base + 0x3000, 0x41, prot=1, flags=0x2, shmid=3, pgoff=0x2000),
            vma(0x1000000, 0x1021000, 0x221),
            vma(0x7F0000000000, 0x7F0000002000, 0x41, prot=5, flags=0x2, shmid=5),
            vma(0x7F0000100000, 0x7F0000101000, 0x101, flags=0x21, shmid=0x77),
            vma(0x7FFC00000000, 0x7FFC00021000, 0x203, flags=0x122),
            vma(0x7FFC00100000, 0x7FFC00102000, 0x9, prot=5),
        ]
        write_image(f"{d}/mm-{pid}.img", "MM", [complete(mm_pb2.mm_entry(
            mm_start_code=base, mm_end_code=base + 0x2000, mm_start_data=base + 0x2000,
            mm_end_data=base + 0x3000, mm_start_stack=0x7FFC00020000, mm_start_brk=0x1000000,
            mm_brk=0x1021000, mm_arg_start=0x7FFC00020100, mm_arg_end=0x7FFC00020200,
            mm_env_start=0x7FFC00020200, mm_env_end=0x7FFC00020F00, exe_file_id=3,
            mm_saved_auxv=[33, 0x7FFC00100000, 0, 0], vmas=vmas, dumpable=1))])
        write_image(f"{d}/pagemap-{pid}.img", "PAGEMAP", [
            pagemap_pb2.pagemap_head(pages_id=pid),
            # Spans two VMAs; then two entries in one VMA (crit x rss shows "~").
            # The count only in field 2, as CRIU before 4.x wrote it.
            pagemap_pb2.pagemap_entry(vaddr=base, compat_nr_pages=3, flags=4),
            pagemap_pb2.pagemap_entry(vaddr=0x1000000, compat_nr_pages=3, flags=4),
            pagemap_pb2.pagemap_entry(vaddr=0x1010000, compat_nr_pages=2, flags=5, in_parent=True),
            pagemap_pb2.pagemap_entry(vaddr=0x7FFC0001F000, compat_nr_pages=2, flags=4),
        ])
    write_image(f"{d}/pipes-data.img", "PIPES_DATA", [
        (pipe_data_pb2.pipe_data_entry(pipe_id=PIPE_ID, bytes=70, size=65536),
         b"log line one\nlog line two\n" + bytes(range(44)))])

    if not os.path.exists(CRIU_CRIT):
        print(f"{CRIU_CRIT} missing: cannot produce the reference outputs", file=sys.stderr)
        return 1
    for img in sorted(OUT.glob("*.img")):
        for cmd, suffix in ((["decode", "-i", str(img)], ".json"), (["show", str(img)], ".pretty.json")):
            done = subprocess.run([CRIU_CRIT, *cmd], capture_output=True, check=True)
            out = done.stdout
            if img.name.startswith("pagemap-"):
                # CRIU 4.x's schema names field 2 compat_nr_pages; crit 3.17
                # says nr_pages. Same bytes: keep CRIU 4.2's name.
                out = out.replace(b'"nr_pages"', b'"compat_nr_pages"')
            img.with_name(img.name + suffix).write_bytes(out)
    for what in ("ps", "fds", "mems", "rss"):
        done = subprocess.run([CRIU_CRIT, "x", d, what], capture_output=True, check=True)
        (OUT / f"x-{what}.txt").write_bytes(done.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
