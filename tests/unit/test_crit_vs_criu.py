"""Our `crit` command against CRIU's /usr/bin/crit, command line to command line.

(The per-type library cross-checks are in test_images_alltypes.py; this runs
the real commands on a few representative types, payloads included.)
"""

from __future__ import annotations

import io
import sys
import subprocess

import pytest

from images import ImageWriter

import images_testlib as lib

TYPES = ["CORE", "MM", "FILES", "INETSK", "TCP_STREAM", "IPCNS_MSG", "IPCNS_SEM",
         "GHOST_FILE", "SK_QUEUES"]

pytestmark = pytest.mark.skipif(lib.criu_crit_missing() is not None, reason=lib.criu_crit_missing() or "")


def ours(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run([sys.executable, "-m", "images.crit", *args], input=stdin,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def theirs(*args: str, stdin: bytes | None = None) -> bytes:
    done = lib.run_criu_crit(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", TYPES)
def test_same_output_and_bytes(tmp_path, name):
    buf = io.BytesIO()
    writer = ImageWriter(buf, name)
    entries = lib.sample_entries(name, lib.criu317_schema())
    if name == "TCP_STREAM":
        # CRIU writes one entry per tcp-stream file, and its crit --nopl
        # skips to the end of file after the first one.
        entries = entries[:1]
    for msg, extra in entries:
        writer.write(msg, extra)
    img = tmp_path / f"{name}.img"
    img.write_bytes(buf.getvalue())
    plain = ours("decode", "-i", str(img))
    assert plain == theirs("decode", "-i", str(img))
    assert ours("show", str(img)) == theirs("show", str(img))
    assert ours("show", "--nopl", str(img)) == theirs("show", "--nopl", str(img))
    # Each side encodes the other's JSON back to the very same file.
    assert theirs("encode", stdin=plain) == img.read_bytes()
    assert ours("encode", stdin=plain) == img.read_bytes()
    pretty = theirs("decode", "--pretty", "-i", str(img))
    assert ours("encode", stdin=pretty) == img.read_bytes()
