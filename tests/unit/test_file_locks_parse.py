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


def test_lease_lines() -> None:
    # As Linux 6.18 prints them: a lease held, and one being broken (its
    # type is then the one it is broken to).
    text = ("pos:\t0\nflags:\t02100000\n"
            "lock:\t1: LEASE  ACTIVE    WRITE 28705 fe:00:2146499 0 EOF\n"
            "lock:\t2: LEASE  ACTIVE    READ 28705 fe:00:2146481 0 EOF\n"
            "lock:\t3: LEASE  BREAKING  UNLCK 28705 fe:00:2146499 0 EOF\n")
    assert parse_locks(text) == [
        LockLine("LEASE", "ACTIVE", "WRITE", 28705, 0, None),
        LockLine("LEASE", "ACTIVE", "READ", 28705, 0, None),
        LockLine("LEASE", "BREAKING", "UNLCK", 28705, 0, None),
    ]
