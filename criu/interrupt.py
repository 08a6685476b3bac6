"""Termination signals as an exception, for commands that hold tasks.

A criu simply killed while it holds tasks under ptrace lets them go with a
parasite inside or with made-up registers (a remote syscall in flight).
For the time a command holds tasks, SIGTERM, SIGHUP and SIGINT raise
Interrupted instead, so the ordinary failure path releases the tasks as
they were.  Interrupted is a KeyboardInterrupt, which compel already
treats as "stop what runs in the task, then unwind".
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator


class Interrupted(KeyboardInterrupt):
    """criu got SIGTERM/SIGHUP/SIGINT while holding tasks."""


TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def termination_interrupts() -> Iterator[None]:
    def handler(signo: int, frame: object) -> None:
        raise Interrupted(signal.Signals(signo).name)
    old = {sig: signal.signal(sig, handler) for sig in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for sig, action in old.items():
            signal.signal(sig, action)
