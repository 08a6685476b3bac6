"""Option parsing and log formatting of the criu command (no root)."""

from __future__ import annotations

import logging

import pytest

from criu import cli, log
from criu.errors import UsageError


@pytest.mark.parametrize("values, level", [
    (None, 2), ([""], 3), (["v"], 4), (["vvvvvv"], 4), (["0"], 0),
    (["4"], 4), (["1", ""], 2), (["0", "", ""], 2),
])
def test_verbosity(values, level) -> None:  # type: ignore[no-untyped-def]
    assert log.parse_verbosity(values) == level


def test_bad_verbosity() -> None:
    with pytest.raises(ValueError):
        log.parse_verbosity(["x"])


def test_flat_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    opts, rest = cli.parse_options("dump", [
        "-t", "42", "-D", str(tmp_path), "-R", "-j", "--display-stats",
        "-vv", "--log-pid", "--pidfile", "p"])
    assert (opts.pid, opts.images_dir, opts.leave_running, opts.shell_job,
            opts.display_stats, opts.verbosity, opts.log_pid,
            opts.pidfile) == (42, str(tmp_path), True, True, True, 4, True,
                              "p")
    assert rest == []
    assert opts.work_path == str(tmp_path)


def test_positional_is_usage_error() -> None:
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["stray"])
    # a bare -v takes no value: the next word stays a positional
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["-v", "stray"])
    opts, _ = cli.parse_options("dump", ["-v", "-t", "1"])
    assert opts.verbosity == 3 and opts.pid == 1


def test_log_file_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    logger = log.setup(4, "x.log", str(tmp_path))
    logger.debug("hello %d", 1)
    logger.error("broken")
    logging.getLogger("criu").handlers[0].flush()
    lines = (tmp_path / "x.log").read_text().splitlines()
    assert lines[0].startswith("(") and lines[0].endswith(") hello 1")
    assert "Error (" in lines[1] and lines[1].endswith("): broken")
    log.setup(2)


def test_log_pid_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    log.setup(2, "y.log", str(tmp_path), log_pid=True)
    assert (tmp_path / f"y.log.{os.getpid()}").exists()
    log.setup(2)


@pytest.mark.parametrize("text, size", [("100", 100), ("4K", 4096),
                                        ("3M", 3 << 20), ("1g", 1 << 30)])
def test_ghost_limit_sizes(text: str, size: int) -> None:
    opts, _ = cli.parse_options("dump", ["--ghost-limit", text])
    assert opts.ghost_limit == size


def test_bad_ghost_limit() -> None:
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["--ghost-limit", "lots"])
