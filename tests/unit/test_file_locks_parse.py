"""The "lock:" lines of /proc/PID/fdinfo/N, as the kernel prints them."""

from __future__ import annotations

import pytest

from criu.resources.file_locks import LockLine, parse_locks

FDINFO = """pos:\t0
flags:\t02100002
mnt_id:\t27
ino:\t2146342
lock:\t1: POSIX  ADVISORY  WRITE 11826 fe:00:2146342 5 14
lock:\t2: POSIX  ADVISORY  READ 11826 fe:00:2146342 200 EOF
lock:\t2: -> POSIX  ADVISORY  WRITE 11900 fe:00:2146342 200 EOF
lock:\t3: FLOCK  ADVISORY  WRITE 11826 fe:00:2146330 0 EOF
lock:\t4: OFDLCK ADVISORY  READ -1 fe:00:2146360 100 EOF
"""


def test_locks_held_not_waiters() -> None:
    locks = parse_locks(FDINFO)
    assert locks == [
        LockLine("POSIX", "ADVISORY", "WRITE", 11826, 5, 14),
        LockLine("POSIX", "ADVISORY", "READ", 11826, 200, None),
        LockLine("FLOCK", "ADVISORY", "WRITE", 11826, 0, None),
        LockLine("OFDLCK", "ADVISORY", "READ", -1, 100, None),
    ]
    assert [lk.length for lk in locks] == [10, 0, 0, 0]


def test_no_locks() -> None:
    assert parse_locks("pos:\t0\nflags:\t02\n") == []


def test_short_line_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_locks("lock:\t1: POSIX ADVISORY\n")
