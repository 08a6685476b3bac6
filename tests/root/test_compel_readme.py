"""compel/README.md's example runs as written and prints what it says."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

README = pathlib.Path(__file__).resolve().parents[2] / "compel" / "README.md"


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", text, re.S)


def _promised_output(text: str) -> list[str]:
    after = text.split("It prints:\n\n", 1)[1]
    lines = []
    for line in after.splitlines():
        if not line.startswith("    "):
            break
        lines.append(line[4:])
    return lines


def test_readme_example(tmp_path):
    text = README.read_text()
    blocks = _blocks(text)
    c_code = next(code for lang, code in blocks if lang == "c")
    shell = next(code for lang, code in blocks if lang == "sh")
    example = next(code for lang, code in blocks if lang == "python")
    (tmp_path / "hello.c").write_text(c_code)
    (tmp_path / "example.py").write_text(example)
    env = dict(os.environ, PATH=f"{os.path.dirname(sys.executable)}:"
               f"{os.environ.get('PATH', '')}")
    for line in shell.strip().splitlines():
        res = subprocess.run(line, shell=True, cwd=tmp_path, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{line}: {res.stderr}"
    show = subprocess.run(["compel", "show", "hello.blob"], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert "__compel_parasite_entry" in show.stdout
    res = subprocess.run([sys.executable, "example.py"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == _promised_output(text)
