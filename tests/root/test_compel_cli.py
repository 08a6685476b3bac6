"""The `compel` command: build, show, run a blob's command, syscall."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compel.stdparasite import CMD_GET_MISC, blob_path
from compel.test.victims import Victim

pytestmark = pytest.mark.root

COMPEL = os.path.join(os.path.dirname(sys.executable), "compel")


def _compel(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([COMPEL, *args], capture_output=True, text=True,
                          cwd=cwd)


def test_run_a_blob_command():
    with Victim("pipe") as v:
        v.wait_blocked()
        res = _compel("run", "-t", str(v.pid), str(blob_path()),
                      str(CMD_GET_MISC), "--out-size", "4")
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0] == "ret=0 fds=0"
        with open(f"/proc/{v.pid}/status") as f:
            umask = int(f.read().split("Umask:")[1].split()[0], 8)
        assert lines[1] == umask.to_bytes(4, "little").hex()
        result, checks, status = v.finish()
        assert checks == ["check ok"] and status == 0


def test_build_show_and_errors(tmp_path):
    (tmp_path / "p.c").write_text(
        "#include <compel/parasite.h>\n"
        "COMPEL_EXPORT int answer = 42;\n"
        "int parasite_command(unsigned int c, void *a, size_t s,\n"
        "    const struct compel_fds *i, struct compel_fds *o) { return answer; }\n")
    res = _compel("build", "--parasite", "-o", "p.blob", "p.c", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = _compel("show", "p.blob", cwd=tmp_path)
    assert "__compel_parasite_entry" in res.stdout and " answer" in res.stdout
    (tmp_path / "bad.c").write_text("int f(void) { return nope; }\n")
    res = _compel("build", "-o", "bad.blob", "bad.c", cwd=tmp_path)
    assert res.returncode == 1
    assert len(res.stderr.splitlines()) == 1 and "nope" in res.stderr
    assert not (tmp_path / "bad.blob").exists()
    res = _compel("run", "-t", "1", "p.c", "16", cwd=tmp_path)
    assert res.returncode == 1 and "not a compel blob" in res.stderr
