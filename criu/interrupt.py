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


class TimedOut(Interrupted):
    """--timeout ran out while criu held the tasks."""


TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def termination_interrupts(timeout: int = 0) -> Iterator[None]:
    """Termination signals, and the end of `timeout` seconds (0: none),
    raise in the main thread for as long as the block runs."""
    def handler(signo: int, frame: object) -> None:
        raise Interrupted(signal.Signals(signo).name)

    def alarm(signo: int, frame: object) -> None:
        raise TimedOut(f"timed out after {timeout} s (--timeout)")
    old = {sig: signal.signal(sig, handler) for sig in TERMINATION_SIGNALS}
    old_alarm = signal.signal(signal.SIGALRM, alarm) if timeout else None
    if timeout:
        signal.alarm(timeout)
    try:
        yield
    finally:
        if timeout:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old_alarm)
        for sig, action in old.items():
            signal.signal(sig, action)
