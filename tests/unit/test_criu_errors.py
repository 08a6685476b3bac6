"""Errors say where they happened: stage and resource, attached by the
pipelines, printed by the command line before the one-line message."""

from __future__ import annotations

import errno

import pytest

from criu import cli
from criu.errors import CriuError, DumpError, from_os_error


def test_attach_fills_only_what_is_unknown() -> None:
    e = DumpError("task 1: fd 7: socket:[9]: not supported yet")
    e.attach("dump", "files", 1)
    e.attach("restore", "memory", 2)        # already known: kept
    assert (e.stage, e.resource, e.task) == ("dump", "files", 1)
    assert e.where() == "dump/files"
    assert str(e) == "task 1: fd 7: socket:[9]: not supported yet"


def test_os_error_becomes_one_line_with_errno_name() -> None:
    e = from_os_error(PermissionError(errno.EPERM, "Operation not permitted"),
                      "task 5: creds", stage="restore", resource="creds")
    assert str(e) == "task 5: creds: Operation not permitted (EPERM)"
    assert e.errno == errno.EPERM and e.where() == "restore/creds"


@pytest.mark.parametrize("err, line", [
    (CriuError("bad"), "Error: bad"),
    (CriuError("bad", stage="dump"), "Error (dump): bad"),
    (CriuError("bad", stage="dump", resource="files"),
     "Error (dump/files): bad"),
])
def test_command_line_prints_where(err: CriuError, line: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli._report(err) == 1
    assert capsys.readouterr().err.strip() == line
