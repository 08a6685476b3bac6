"""`criu check`: does this kernel (and this criu's privileges) provide what
dump and restore need?

Each feature is a probe that really exercises the interface (a throw-away
child is seized, cloned with a chosen PID, ...) and returns None when it
works or the reason it does not.  Names are CRIU's `--feature` names where
CRIU has the same probe (mnt_id, clone3_set_tid, uffd, uffd-noncoop,
can_map_vdso, get_rseq_conf, pidfd_store, mem_dirty_track, timens,
loginuid); the others name what they probe.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import mmap
import os
import signal
from typing import Callable, Optional

from compel.native import _libc, clone, memory, pidfd, ptrace, uapi
from compel.native import files as nfiles
from compel.native import pagemap
from compel.native.wait import kill_and_reap, waitpid

Probe = Callable[[], Optional[str]]


@dataclasses.dataclass
class Feature:
    name: str
    probe: Probe
    essential: bool         # checked by plain `criu check`
    what: str               # why criu needs it


def _sleeping_child() -> int:
    """A child that only waits to be killed (the probes' victim)."""
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                signal.pause()
        finally:
            os._exit(0)
    return pid


def _with_seized_child(fn: Callable[[int], Optional[str]]) -> Optional[str]:
    pid = _sleeping_child()
    try:
        ptrace.seize(pid, 0)
        ptrace.interrupt(pid)
        st = waitpid(pid)
        if st is None or not st.is_event_stop:
            return "the seized child did not stop on PTRACE_INTERRUPT"
        return fn(pid)
    except OSError as e:
        return str(e)
    finally:
        kill_and_reap(pid)


def probe_ptrace_seize() -> Optional[str]:
    def regs(pid: int) -> Optional[str]:
        ptrace.get_sigmask(pid)
        return None
    return _with_seized_child(regs)


def probe_ptrace_rseq() -> Optional[str]:
    def rseq(pid: int) -> Optional[str]:
        ptrace.get_rseq_configuration(pid)
        return None
    return _with_seized_child(rseq)


def probe_map_files() -> Optional[str]:
    try:
        names = os.listdir("/proc/self/map_files")
        if not names:
            return "/proc/self/map_files is empty"
        os.readlink(f"/proc/self/map_files/{names[0]}")
    except OSError as e:
        return f"/proc/PID/map_files: {e.strerror}"
    return None


def probe_mnt_id() -> Optional[str]:
    with open("/proc/self/fdinfo/0") as f:
        if not any(line.startswith("mnt_id:") for line in f):
            return "/proc/PID/fdinfo lacks mnt_id"
    return None


def probe_proc_children() -> Optional[str]:
    tid = os.getpid()
    if not os.path.exists(f"/proc/self/task/{tid}/children"):
        return "/proc/PID/task/TID/children is missing (CONFIG_PROC_CHILDREN)"
    return None


def probe_kcmp() -> Optional[str]:
    try:
        me = os.getpid()
        if nfiles.kcmp(me, me, nfiles.KCMP_FILES) != 0:
            return "kcmp says a task does not share its own fd table"
    except OSError as e:
        return str(e)
    return None


def probe_clone3_set_tid() -> Optional[str]:
    """Fork a child with a chosen, free PID, as restore does."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    want = None
    for cand in range(pid_max - 1, max(pid_max - 2000, 300), -1):
        if not os.path.exists(f"/proc/{cand}"):
            want = cand
            break
    if want is None:
        return "no free PID found to try"
    try:
        pid = clone.fork_with_tid([want])
    except FileExistsError:
        return None     # someone took it meanwhile: set_tid itself works
    except OSError as e:
        return str(e)
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    if pid != want:
        return f"clone3 gave PID {pid}, not the {want} asked for"
    return None


def probe_memfd() -> Optional[str]:
    try:
        os.close(memory.memfd_create("criu-check"))
    except OSError as e:
        return str(e)
    return None


def probe_process_vm_readv() -> Optional[str]:
    buf = ctypes.create_string_buffer(b"criu", 8)
    out = ctypes.create_string_buffer(8)
    try:
        memory.process_vm_readv(os.getpid(), [(ctypes.addressof(out), 4)],
                                [(ctypes.addressof(buf), 4)])
    except OSError as e:
        return str(e)
    return None if out.raw[:4] == b"criu" else "process_vm_readv read garbage"


def probe_vmsplice() -> Optional[str]:
    r, w = os.pipe()
    page = mmap.mmap(-1, mmap.PAGESIZE)
    page[:4] = b"criu"
    anchor = ctypes.c_char.from_buffer(page)
    try:
        memory.vmsplice(w, [(ctypes.addressof(anchor), mmap.PAGESIZE)])
        return None if os.read(r, 4) == b"criu" else "vmsplice moved garbage"
    except OSError as e:
        return str(e)
    finally:
        os.close(r)
        os.close(w)
        del anchor
        page.close()


def probe_pidfd() -> Optional[str]:
    try:
        fd = pidfd.pidfd_open(os.getpid())
    except OSError as e:
        return str(e)
    try:
        os.close(pidfd.pidfd_getfd(fd, 0))
    except OSError as e:
        return f"pidfd_getfd: {e.strerror}"
    finally:
        os.close(fd)
    return None


def probe_pagemap_scan() -> Optional[str]:
    page = mmap.mmap(-1, mmap.PAGESIZE)
    page[0:1] = b"x"        # make the page present
    anchor = ctypes.c_char.from_buffer(page)
    addr = ctypes.addressof(anchor)
    try:
        fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        try:
            runs = list(pagemap.scan(fd, addr, addr + mmap.PAGESIZE,
                                     anyof=uapi.PAGE_IS_PRESENT))
        finally:
            os.close(fd)
    except OSError as e:
        return f"{e.strerror or e} (needs Linux 6.7+)"
    finally:
        del anchor
        page.close()
    if runs != [(addr, addr + mmap.PAGESIZE)]:
        return "PAGEMAP_SCAN did not report the present page"
    return None


def _uffd_features() -> tuple[Optional[int], Optional[str]]:
    try:
        fd = _libc.sys("userfaultfd", os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.EPERM:
            return None, ("userfaultfd: not permitted "
                          "(vm.unprivileged_userfaultfd?)")
        return None, str(e)
    try:
        import fcntl
        api = uapi.UffdioApi(api=uapi.UFFD_API, features=0)
        fcntl.ioctl(fd, uapi.UFFDIO_API, api)
        return api.features, None
    except OSError as e:
        return None, f"UFFDIO_API: {e.strerror}"
    finally:
        os.close(fd)


def probe_uffd() -> Optional[str]:
    return _uffd_features()[1]


def probe_uffd_noncoop() -> Optional[str]:
    features, err = _uffd_features()
    if err:
        return err
    need = (uapi.UFFD_FEATURE_EVENT_FORK | uapi.UFFD_FEATURE_EVENT_REMAP |
            uapi.UFFD_FEATURE_EVENT_UNMAP | uapi.UFFD_FEATURE_EVENT_REMOVE)
    assert features is not None
    if features & need != need:
        return f"userfaultfd lacks non-cooperative events (has {features:#x})"
    return None


def probe_uffd_wp() -> Optional[str]:
    features, err = _uffd_features()
    if err:
        return err
    assert features is not None
    if not features & uapi.UFFD_FEATURE_WP_ASYNC:
        return "userfaultfd lacks asynchronous write-protect (WP_ASYNC)"
    return None


def probe_rseq() -> Optional[str]:
    try:
        _libc.sys("rseq", 0, 0, 0, 0)
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return "the kernel has no rseq()"
        return None     # EINVAL for our NULL area: the syscall exists
    return None


def probe_timens() -> Optional[str]:
    if not os.path.exists("/proc/self/ns/time"):
        return "the kernel has no time namespaces"
    return None


def probe_loginuid() -> Optional[str]:
    try:
        with open("/proc/self/loginuid") as f:
            int(f.read())
    except (OSError, ValueError) as e:
        return f"/proc/PID/loginuid: {e}"
    return None


def probe_can_map_vdso() -> Optional[str]:
    """arch_prctl(ARCH_MAP_VDSO_64): lets restore put the vdso back where
    the dumped task had it.  Probed in a child (it may move the vdso)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _libc.sys("arch_prctl", 0x2003, 0x100000)
        except OSError as e:
            code = 0 if e.errno == errno.EEXIST else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return "arch_prctl(ARCH_MAP_VDSO_64) is not available"
    return None


FEATURES: list[Feature] = [
    Feature("ptrace_seize", probe_ptrace_seize, True,
            "freeze tasks without a signal (PTRACE_SEIZE/INTERRUPT)"),
    Feature("get_rseq_conf", probe_ptrace_rseq, True,
            "dump rseq registrations (PTRACE_GET_RSEQ_CONFIGURATION)"),
    Feature("map_files", probe_map_files, True,
            "reopen the files behind mappings (/proc/PID/map_files)"),
    Feature("mnt_id", probe_mnt_id, True, "mount ids in /proc/PID/fdinfo"),
    Feature("proc_children", probe_proc_children, True,
            "walk process trees (/proc/PID/task/TID/children)"),
    Feature("kcmp", probe_kcmp, True, "find shared files/mm/fs (kcmp)"),
    Feature("clone3_set_tid", probe_clone3_set_tid, True,
            "restore tasks with their PIDs (clone3 with set_tid)"),
    Feature("memfd", probe_memfd, True, "parasite and blob transport"),
    Feature("process_vm_readv", probe_process_vm_readv, True,
            "read the target's memory in batches"),
    Feature("vmsplice", probe_vmsplice, True, "move pages through pipes"),
    Feature("pidfd_store", probe_pidfd, True, "pidfd_open / pidfd_getfd"),
    Feature("pagemap_scan", probe_pagemap_scan, True,
            "find present/swapped pages in runs (PAGEMAP_SCAN, Linux 6.7+)"),
    Feature("rseq", probe_rseq, True, "restartable sequences (rseq)"),
    Feature("can_map_vdso", probe_can_map_vdso, False,
            "put the vdso back at its dumped address"),
    Feature("uffd", probe_uffd, False, "lazy pages (userfaultfd)"),
    Feature("uffd-noncoop", probe_uffd_noncoop, False,
            "lazy pages of trees that fork/remap (userfaultfd events)"),
    Feature("mem_dirty_track", probe_uffd_wp, False,
            "dirty-memory tracking for pre-dump (PAGEMAP_SCAN with "
            "userfaultfd WP_ASYNC; this kernel has no soft-dirty bits)"),
    Feature("timens", probe_timens, False, "time namespaces"),
    Feature("loginuid", probe_loginuid, False,
            "restore the audit login uid (/proc/PID/loginuid)"),
]


def by_name(name: str) -> Optional[Feature]:
    return next((f for f in FEATURES if f.name == name), None)
