"""clone3(2) with set_tid: create a process with a chosen PID.

fork_with_tid() is the Python-level use: it runs CPython's own before/after
fork hooks around the raw clone3, so the child is a sane Python process, as
after os.fork().
"""

from __future__ import annotations

import ctypes
import signal

from compel.native._libc import sys
# The namespace flags are declared once, with setns/unshare; clone3 takes
# them too, so they are re-exported here.
from compel.native.ns import (CLONE_NEWCGROUP, CLONE_NEWIPC,  # noqa: F401
                              CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID,
                              CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS)

CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_IO = 0x80000000
CLONE_CLEAR_SIGHAND = 0x100000000
CLONE_INTO_CGROUP = 0x200000000


class CloneArgs(ctypes.Structure):
    """Arguments of clone3 (CLONE_ARGS_SIZE_VER2 = 88 bytes).

    struct clone_args {
        __aligned_u64 flags;
        __aligned_u64 pidfd;
        __aligned_u64 child_tid;
        __aligned_u64 parent_tid;
        __aligned_u64 exit_signal;
        __aligned_u64 stack;
        __aligned_u64 stack_size;
        __aligned_u64 tls;
        __aligned_u64 set_tid;       /* pid_t[]: PID per pid namespace level */
        __aligned_u64 set_tid_size;
        __aligned_u64 cgroup;
    };
    """

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
        "stack_size", "tls", "set_tid", "set_tid_size", "cgroup")]


assert ctypes.sizeof(CloneArgs) == 88


def clone3(args: CloneArgs) -> int:
    """Raw clone3: 0 in the child, the child's PID in the parent.

    Without CLONE_VM the child runs on a copy of our memory, like fork(); the
    caller must know what it does (see fork_with_tid for a Python child).
    """
    return sys("clone3", ctypes.byref(args), ctypes.sizeof(args))


def fork_with_tid(tids: list[int], flags: int = 0,
                  exit_signal: int = signal.SIGCHLD) -> int:
    """fork() whose child gets PID tids[0] (tids[i] in the i-th parent pid
    namespace level).  Needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the
    namespace; raises OSError (EEXIST when a PID is taken)."""
    arr = (ctypes.c_int32 * len(tids))(*tids)
    if flags & (CLONE_PARENT | CLONE_THREAD):
        # clone3 wants no exit signal then: the child takes the one of
        # the caller (it is the caller's parent's child).
        exit_signal = 0
    args = CloneArgs(flags=flags, exit_signal=exit_signal,
                     set_tid=ctypes.addressof(arr), set_tid_size=len(tids))
    return python_fork(args)


def python_fork(args: "CloneArgs") -> int:
    """clone3(args) as a fork of this Python process: the interpreter's
    before/after-fork handlers run as for os.fork(); 0 in the child."""
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    try:
        pid = clone3(args)
    except BaseException:
        api.PyOS_AfterFork_Parent()
        raise
    if pid == 0:
        api.PyOS_AfterFork_Child()
    else:
        api.PyOS_AfterFork_Parent()
    return pid
