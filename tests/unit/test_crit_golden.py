"""Golden images (tests/unit/golden, made by scripts/make-golden-images.py).

The expected outputs there were produced by CRIU's own crit 3.17 from the
images, so these tests pin our crit to CRIU's behaviour without needing
CRIU installed: decode, show, encode back byte for byte, info and the four
`crit x` explorers on a small synthetic dump (3 tasks, files, memory).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from images.crit import main

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
IMAGES = sorted(p.name for p in GOLDEN.glob("*.img"))


def crit(capsys, *args: str) -> str:
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""
    return out


def test_golden_set_is_there():
    assert {"pstree.img", "files.img", "mm-100.img", "pagemap-101.img", "pipes-data.img"} <= set(IMAGES)


@pytest.mark.parametrize("name", IMAGES)
def test_decode_matches_criu(capsys, name):
    img = GOLDEN / name
    assert crit(capsys, "decode", "-i", str(img)) == (GOLDEN / (name + ".json")).read_text()


@pytest.mark.parametrize("name", IMAGES)
def test_show_matches_criu(capsys, name):
    img = GOLDEN / name
    assert crit(capsys, "show", str(img)) == (GOLDEN / (name + ".pretty.json")).read_text()


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("form", [".json", ".pretty.json"])
def test_encode_gives_back_the_image(capsys, tmp_path, name, form):
    out = tmp_path / name
    crit(capsys, "encode", "-i", str(GOLDEN / (name + form)), "-o", str(out))
    assert out.read_bytes() == (GOLDEN / name).read_bytes()


def test_decode_to_file_then_encode_from_stdin(capsys, tmp_path, monkeypatch):
    js = tmp_path / "mm.json"
    crit(capsys, "decode", "-i", str(GOLDEN / "mm-100.img"), "-o", str(js))
    # -o writes no trailing newline, like CRIU's crit.
    assert js.read_text() == (GOLDEN / "mm-100.img.json").read_text().rstrip("\n")
    import io
    import sys
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(js.read_bytes())))
    out = tmp_path / "mm.img"
    crit(capsys, "encode", "-o", str(out))
    assert out.read_bytes() == (GOLDEN / "mm-100.img").read_bytes()


def test_info(capsys):
    assert json.loads(crit(capsys, "info", str(GOLDEN / "pstree.img"))) == {"magic": "PSTREE", "count": 3}
    # The pagemap head is not counted, as in CRIU's crit.
    assert json.loads(crit(capsys, "info", str(GOLDEN / "pagemap-100.img"))) == {"magic": "PAGEMAP", "count": 4}
    assert json.loads(crit(capsys, "info", str(GOLDEN / "pipes-data.img"))) == {"magic": "PIPES_DATA", "count": 1}


def test_show_nopl(capsys):
    doc = json.loads(crit(capsys, "show", "--nopl", str(GOLDEN / "pipes-data.img")))
    assert doc["entries"][0]["extra"] == "... <70B>"


@pytest.mark.parametrize("what", ["ps", "fds", "mems", "rss"])
def test_explore_matches_criu(capsys, what):
    assert crit(capsys, "x", str(GOLDEN), what) == (GOLDEN / f"x-{what}.txt").read_text()


def test_explore_missing_image_is_one_line(capsys, tmp_path):
    (tmp_path / "pstree.img").write_bytes((GOLDEN / "pstree.img").read_bytes())
    rc = main(["x", str(tmp_path), "ps"])
    _, err = capsys.readouterr()
    assert rc == 1
    assert err == f"crit: {tmp_path / 'core-100.img'}: No such file or directory\n"


def test_real_command_decodes_stdin_and_encodes_stdout():
    import subprocess
    import sys
    img = (GOLDEN / "files.img").read_bytes()
    crit_cmd = [sys.executable, "-m", "images.crit"]
    decoded = subprocess.run([*crit_cmd, "decode"], input=img, capture_output=True, timeout=60, check=True)
    assert decoded.stdout == (GOLDEN / "files.img.json").read_bytes()
    encoded = subprocess.run([*crit_cmd, "encode"], input=decoded.stdout, capture_output=True,
                             timeout=60, check=True)
    assert encoded.stdout == img
