"""The project's ONE native layer: raw syscalls and kernel structures.

Everything that calls into libc or the kernel directly lives here (and the
per-arch structures in compel.arch).  Failures raise OSError subclasses
(ProcessLookupError, PermissionError, ...) with errno set and a message that
names the call.  Structures are ctypes declarations, each with its C
definition in the docstring.

Modules: ptrace, wait, memory (process_vm_*, mmap, memfd, vmsplice/splice,
preadv/pwritev), pidfd (pidfd_*, tgkill), clone (clone3 with set_tid),
prctl, ns (setns), uapi (userfaultfd, PAGEMAP_SCAN), structs (iovec);
added by criu's helpers: files (kcmp, tee, terminal ioctls, fcntl
owners and locks), pagemap (PAGEMAP_SCAN calls), selfcall (calls into our
own process), epoll (epoll_ctl with 64-bit data), fsnotify (file handles,
inotify), fdkinds (signalfd, timerfd), memfd (memfd_create, seals).
"""

from compel.native import (clone, memory, ns, pidfd, prctl, ptrace, structs,
                           uapi, wait)
from compel.native._libc import check, libc, os_error, sys, syscall

__all__ = ["clone", "memory", "ns", "pidfd", "prctl", "ptrace", "structs", "uapi",
           "wait", "check", "libc", "os_error", "sys", "syscall"]
