"""Bad images and bad JSON: crit says what is wrong in one line, exits 1.

The line names the file and the byte offset of the entry (or header) that
is wrong; never a traceback. Cuts at every byte of valid images, wrong and
unknown magics, garbage lengths, corrupted messages and a seeded random
corruption loop.
"""

from __future__ import annotations

import io
import json
import random
import re
import struct
import subprocess
import sys

import pytest

from images import ImageReader, ImageWriter, open_image
from images.crit import main
from images.errors import CorruptedEntry, TruncatedImage, UnknownMagic, WrongMagic
from images.magic import BY_NAME, IMG_COMMON

import images_testlib as lib

LINE = re.compile(r"^crit: (?P<path>.+?): offset (?P<offset>\d+): (?P<reason>.+)$")


def build(name: str, entries) -> tuple[bytes, list[int]]:
    """Image bytes and the offsets where each entry (with payload) ends."""
    buf = io.BytesIO()
    writer = ImageWriter(buf, name)
    ends = []
    for msg, extra in entries:
        writer.write(msg, extra)
        ends.append(len(buf.getvalue()))
    return buf.getvalue(), ends


SAMPLES = {
    name: build(name, lib.sample_entries(name))
    for name in ("PSTREE", "PIPES_DATA", "IPCNS_MSG", "PAGEMAP", "GHOST_FILE", "TCP_STREAM", "IPCNS_SEM")
}


def run_crit(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line(err: str, path: str) -> re.Match:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert m["path"] == path
    return m


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_cut_at_every_byte(tmp_path, capsys, name):
    data, ends = SAMPLES[name]
    path = tmp_path / "cut.img"
    header = 4 if name == "INVENTORY" else 8
    starts = [header] + ends[:-1]
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        rc, out, err = run_crit(capsys, "decode", "-i", str(path))
        if cut in ends or cut == header:
            # A cut between entries leaves a shorter, valid image.
            assert rc == 0, (cut, err)
            assert len(json.loads(out)["entries"]) == sum(1 for e in ends if e <= cut)
            continue
        assert rc == 1, (cut, out)
        m = assert_one_line(err, str(path))
        offset = int(m["offset"])
        if cut < header:
            assert offset in (0, 4)
        else:
            entry_start = max(s for s in starts if s <= cut)
            assert entry_start <= offset <= cut, (cut, err)


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.img"
    path.write_bytes(b"")
    rc, _, err = run_crit(capsys, "decode", "-i", str(path))
    assert rc == 1
    assert "empty file" in assert_one_line(err, str(path))["reason"]


def test_unknown_magic(tmp_path, capsys):
    path = tmp_path / "pages-1.img"
    path.write_bytes(b"\x7fELF" + bytes(60))
    rc, _, err = run_crit(capsys, "show", str(path))
    assert rc == 1
    m = assert_one_line(err, str(path))
    assert m["offset"] == "0" and "unknown magic 0x464c457f" in m["reason"]
    # An unknown second magic after the common one is reported at offset 4.
    path.write_bytes(struct.pack("<II", IMG_COMMON, 0x12345678))
    rc, _, err = run_crit(capsys, "info", str(path))
    assert rc == 1
    assert assert_one_line(err, str(path))["offset"] == "4"


def test_wrong_magic_api_and_explorer(tmp_path, capsys):
    core_like = build("PIPES", lib.sample_entries("PIPES"))[0]
    path = tmp_path / "pstree.img"
    path.write_bytes(core_like)
    with pytest.raises(WrongMagic) as exc:
        with open_image(str(path), expect="PSTREE"):
            pass
    assert str(exc.value) == f"{path}: offset 0: is a PIPES image, expected PSTREE"
    rc, _, err = run_crit(capsys, "x", str(tmp_path), "ps")
    assert rc == 1
    assert "is a PIPES image, expected PSTREE" in assert_one_line(err, str(path))["reason"]


def test_garbage_length_is_cheap_and_one_line(tmp_path, capsys):
    path = tmp_path / "pstree.img"
    path.write_bytes(struct.pack("<III", IMG_COMMON, BY_NAME["PSTREE"], 0xFFFFFFF0) + b"abc")
    rc, _, err = run_crit(capsys, "decode", "-i", str(path))
    assert rc == 1
    m = assert_one_line(err, str(path))
    assert m["offset"] == "8"
    assert "file ends after 3 of 4294967280 bytes" in m["reason"]


def test_corrupted_message(tmp_path, capsys):
    path = tmp_path / "pstree.img"
    # Field 1 with wire type 7 (invalid).
    path.write_bytes(struct.pack("<III", IMG_COMMON, BY_NAME["PSTREE"], 3) + b"\x0f\xff\xff")
    rc, _, err = run_crit(capsys, "decode", "-i", str(path))
    assert rc == 1
    m = assert_one_line(err, str(path))
    assert m["offset"] == "8" and "is not a valid pstree_entry" in m["reason"]


def test_missing_required_field(tmp_path):
    from images.pb.pstree_pb2 import pstree_entry
    body = pstree_entry(pid=1, ppid=0, pgid=1).SerializePartialToString()
    data = struct.pack("<III", IMG_COMMON, BY_NAME["PSTREE"], len(body)) + body
    with pytest.raises(CorruptedEntry) as exc:
        list(ImageReader(io.BytesIO(data), "p.img"))
    assert str(exc.value) == "p.img: offset 8: pstree_entry lacks required fields: sid"


def test_truncated_payload_names_entry(tmp_path):
    data, ends = SAMPLES["PIPES_DATA"]
    with pytest.raises(TruncatedImage) as exc:
        list(ImageReader(io.BytesIO(data[:ends[1] - 5]), "pd.img"))
    assert exc.value.offset == ends[0]
    assert "payload" in exc.value.reason


def test_unknown_magic_api():
    with pytest.raises(UnknownMagic):
        ImageReader(io.BytesIO(b"\0\0\0\0"), "raw.img")


@pytest.mark.parametrize("doc, reason", [
    ("{", "bad JSON"),
    ('{"magic": "NOPE", "entries": []}', "unknown image type 'NOPE'"),
    ('{"magic": "PSTREE", "entries": [{"pid": 1}]}', "misses required fields"),
    ('{"magic": "PSTREE", "entries": [{"pid": "x", "ppid": 0, "pgid": 1, "sid": 1}]}', "field pid"),
    ('{"magic": "PSTREE", "entries": [{"bogus": 1}]}', "no field 'bogus'"),
    ('{"magic": "PIPES_DATA", "entries": [{"pipe_id": 1, "bytes": 5, "extra": "AAAA\\n"}]}',
     "3 payload bytes, the entry says 5"),
    ('{"magic": "KDAT", "entries": []}', "hold no protobuf entries"),
    ('[1, 2]', "expected '{'"),
])
def test_encode_errors_are_one_line(tmp_path, capsys, doc, reason):
    src = tmp_path / "in.json"
    src.write_text(doc)
    rc, _, err = run_crit(capsys, "encode", "-i", str(src), "-o", str(tmp_path / "out.img"))
    assert rc == 1
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"crit: {src}: ")
    assert reason in lines[0]
    assert not (tmp_path / "out.img").exists()


def test_binary_fed_to_encode(tmp_path, capsys):
    src = tmp_path / "pstree.img"
    src.write_bytes(SAMPLES["PSTREE"][0])
    rc, _, err = run_crit(capsys, "encode", "-i", str(src))
    assert rc == 1
    assert "is this a binary image" in err and len(err.splitlines()) == 1


def test_missing_file(tmp_path, capsys):
    rc, _, err = run_crit(capsys, "show", str(tmp_path / "nope.img"))
    assert rc == 1
    assert err == f"crit: {tmp_path / 'nope.img'}: No such file or directory\n"


def _corrupt(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    op = rng.randrange(4)
    if op == 0:
        for _ in range(rng.randint(1, 3)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif op == 1:
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif op == 2:
        at = rng.randrange(len(buf))
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    else:
        at = rng.randrange(len(buf))
        del buf[at:at + rng.randint(1, 4)]
    return bytes(buf)


def test_random_corruption_never_tracebacks(tmp_path, capsys):
    rng = random.Random(20261123)
    failures = 0
    path = tmp_path / "bad.img"
    names = sorted(SAMPLES)
    for i in range(400):
        data = _corrupt(rng, SAMPLES[names[i % len(names)]][0])
        path.write_bytes(data)
        for cmd in (["decode", "-i", str(path)], ["show", str(path)], ["info", str(path)]):
            rc, out, err = run_crit(capsys, *cmd)
            if rc == 0:
                assert err == ""
                json.loads(out)
            else:
                assert rc == 1
                assert_one_line(err, str(path))
                failures += 1
    # Most corruptions must be noticed (lengths, tags, required fields...).
    assert failures > 400


def test_real_command_prints_no_traceback(tmp_path):
    path = tmp_path / "cut.img"
    path.write_bytes(SAMPLES["PSTREE"][0][:-3])
    crit = [sys.executable, "-m", "images.crit"]
    done = subprocess.run([*crit, "decode", "-i", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert_one_line(done.stderr, str(path))


def test_random_corruption_of_a_dump_dir_under_crit_x(tmp_path, capsysbinary):
    """Explorers read many images: a bad one still gives one line, exit 1."""
    import pathlib
    import shutil
    golden = pathlib.Path(__file__).resolve().parent / "golden"
    rng = random.Random(7)
    names = sorted(p.name for p in golden.glob("*.img"))
    for i in range(60):
        work = tmp_path / f"d{i}"
        shutil.copytree(golden, work)
        victim = work / names[rng.randrange(len(names))]
        victim.write_bytes(_corrupt(rng, victim.read_bytes()))
        for what in ("ps", "fds", "mems", "rss"):
            rc = main(["x", str(work), what])
            _, raw_err = capsysbinary.readouterr()
            err = raw_err.decode("utf-8", "surrogateescape")
            if rc == 0:
                assert err == ""
                continue
            assert rc == 1
            lines = err.splitlines()
            assert len(lines) == 1 and "Traceback" not in err, err
            assert lines[0].startswith(f"crit: {work}"), err
        shutil.rmtree(work)


def test_failed_decode_leaves_no_output_file(tmp_path, capsys):
    data, ends = SAMPLES["PSTREE"]
    src = tmp_path / "cut.img"
    src.write_bytes(data[:ends[0] + 3])
    out = tmp_path / "out.json"
    rc, _, err = run_crit(capsys, "decode", "-i", str(src), "-o", str(out))
    assert rc == 1
    assert_one_line(err, str(src))
    assert not out.exists()
