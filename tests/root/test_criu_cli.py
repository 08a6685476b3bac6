"""The criu command line: help, version, usage errors (exit 1, one line)."""

from __future__ import annotations

import pytest

from criu_testlib import criu, one_line


def test_help_and_version() -> None:
    r = criu("-h")
    assert r.returncode == 0
    assert "Usage:" in r.stdout and "criu dump" in r.stdout
    r = criu("dump", "-h")
    assert r.returncode == 0 and "--leave-running" in r.stdout
    r = criu("-V")
    assert r.returncode == 0 and r.stdout.startswith("Version: ")


def test_options_before_the_command() -> None:
    r = criu("--feature", "memfd", "check")
    assert r.returncode == 0 and r.stdout.strip() == "memfd is supported"


def test_no_command_is_a_usage_error() -> None:
    r = criu()
    assert r.returncode == 1
    assert "Usage:" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["frobnicate"], "unknown command: frobnicate"),
    (["dump"], "-t/--tree PID is required"),
    (["dump", "-t", "notapid"], "-t/--tree: not a number: notapid"),
    (["dump", "--no-such-option"], "unrecognized option '--no-such-option'"),
    (["restore", "--lazy-pages"], "--lazy-pages: lazy restore is not "
     "supported yet"),
    (["dump", "-t", "1", "--tcp-established"], "--tcp-established: dumping "
     "established TCP connections is not supported yet"),
    (["dump", "--pre-dump-mode", "copy"], "--pre-dump-mode: unknown value"),
    (["dump", "-t", "1", "-R", "-s"], "-R and -s exclude each other"),
    (["restore", "-v", "x"], "unexpected argument"),
    (["check", "--feature", "no-such-feature"], "unknown feature"),
])
def test_usage_errors(args: list[str], words: str) -> None:
    r = criu(*args)
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("Error: ") and words in line, line


def test_verbosity_and_log_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # -v4 with -o: the log gets timestamped lines; stdout keeps messages.
    r = criu("check", "--feature", "memfd", "-v4", "-o", "check.log",
             "-W", str(tmp_path))
    assert r.returncode == 0
    assert r.stdout.strip() == "memfd is supported"
    # a missing log directory is a one-line error, exit 1
    r = criu("check", "-o", "log", "-W", str(tmp_path / "nope" / "deeper"))
    assert r.returncode == 1
    assert "log file" in one_line(r.stderr)
