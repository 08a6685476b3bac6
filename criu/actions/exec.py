"""`criu exec -t PID SYSCALL [ARG...]`: run one system call inside a task.

As criu(8) "SYSCALLS EXECUTION" describes: an argument starting with & is
copied into the task's memory and passed as a pointer, @SIZE passes a
buffer of SIZE bytes whose contents are printed after the call, anything
else is a number (strtol base 0).  Prints "Syscall returned HEX(DEC)"; the
task is left running as before.  Built on compel.
"""

from __future__ import annotations

from compel.errors import CompelError
from compel.execsys import exec_syscall
from criu import cli, log
from criu.errors import CriuError, UsageError
from criu.interrupt import termination_interrupts


def run(command: str, argv: list[str]) -> int:
    opts, args = cli.parse_options(command, argv, positional_ok=True)
    if opts.pid is None:
        raise UsageError("exec: a task is needed: -t PID (try criu -h)")
    if not args:
        raise UsageError("exec: syscall name required: criu exec -t PID "
                         "SYSCALL [ARG...]")
    try:
        with termination_interrupts():
            result = exec_syscall(opts.pid, args[0], args[1:])
    except CompelError as e:
        raise CriuError(f"exec: {e}") from None
    except OSError as e:
        raise CriuError(f"exec: task {opts.pid}: {e}") from None
    log.pr_msg("%s", result.format())
    return 0
