"""soccr/README.md's example runs as written (in a network namespace of its own)."""

import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "soccr" / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "soccr/README.md should hold exactly one python example"
    return blocks[0]


def test_readme_example_runs_as_written(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$1"',
         sys.executable, str(script)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ESTABLISHED unread: b'welcome\\n' mss clamp: ")
    assert lines[1:3] == ["b'welcome\\n'", "b'HELLO\\n'"]
    assert lines[3].startswith("tcp_stream_entry: inq_len 8 outq_seq ")
