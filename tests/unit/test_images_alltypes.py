"""Every image type: our library round-trips it, and CRIU's crit agrees.

For each image type a message with every field set (built from the schema,
see images_testlib.fill) is written with our library. Then:
- our decode -> encode reproduces the file byte for byte, plain and pretty;
- CRIU 3.17's crit (Debian's pycriu, run by /usr/bin/python3) decodes our
  file to the same JSON, plain and pretty, as ours;
- CRIU's crit encodes our JSON to the same bytes we wrote, which we decode
  back to the same JSON.
Cross-checks use only fields and enum values CRIU 3.17 knows; types 3.17
has no handler for are checked against ourselves only.
"""

from __future__ import annotations

import base64
import io
import json
import random
import subprocess

import pytest

from images import ImageReader, ImageWriter, dumps, load, loads
from images.crit import write_json_stream
from images.handlers import HANDLERS

import images_testlib as lib

ALL_TYPES = sorted(HANDLERS)
CROSS_TYPES = sorted(set(HANDLERS) - lib.UNKNOWN_TO_CRIU317 - lib.RENAMED_SINCE_CRIU317)

# CRIU 3.17's encoder calls base64.decodebytes() on a str for these (a
# Python 3 bug in its ipc_shm and bpfmap-data handlers): it cannot encode them.
CRIU317_CANNOT_ENCODE = {"IPCNS_SHM", "BPFMAP_DATA"}


def image_bytes(name: str, entries) -> bytes:
    buf = io.BytesIO()
    writer = ImageWriter(buf, name)
    for msg, extra in entries:
        writer.write(msg, extra)
    return buf.getvalue()


def pretty_text(data: bytes) -> str:
    reader = ImageReader(io.BytesIO(data))
    out = io.StringIO()
    write_json_stream(reader.magic, reader.dicts(pretty=True), out, pretty=True)
    return out.getvalue()


@pytest.mark.parametrize("name", ALL_TYPES)
def test_every_field_round_trips_byte_for_byte(name):
    entries = lib.sample_entries(name)
    data = image_bytes(name, entries)
    plain = loads(data)
    assert plain["magic"] == name
    assert len(plain["entries"]) == len(entries)
    # Through JSON text, as crit decode | crit encode would.
    assert dumps(json.loads(json.dumps(plain))) == data
    assert dumps(json.loads(pretty_text(data))) == data
    # Message API: what we read is what we wrote.
    got = list(ImageReader(io.BytesIO(data)))
    assert [e.msg for e in got] == [m for m, _ in entries]
    assert [e.extra for e in got] == [x for _, x in entries]


def test_unchunked_ghost_file_round_trips():
    data = image_bytes("GHOST_FILE", lib.unchunked_ghost())
    img = loads(data)
    assert len(img["entries"]) == 1
    assert base64.b64decode(img["entries"][0]["extra"]) == lib._blob(100, 5)
    assert dumps(img) == data


def test_stream_json_equals_json_dump():
    data = image_bytes("PSTREE", lib.sample_entries("PSTREE"))
    for pretty in (False, True):
        img = load(io.BytesIO(data), pretty)
        out = io.StringIO()
        write_json_stream(img["magic"], iter(img["entries"]), out, pretty)
        assert out.getvalue() == json.dumps(img, indent=4 if pretty else None)
    out = io.StringIO()
    write_json_stream("PSTREE", iter([]), out, True)
    assert out.getvalue() == json.dumps({"magic": "PSTREE", "entries": []}, indent=4)


_CRIU317_BATCH = r"""
import base64, json, sys
import pycriu.images as images
jobs = json.load(sys.stdin)
out = {}
for name, job in jobs.items():
    res = {}
    try:
        with open(job["img"], "rb") as f:
            res["plain"] = json.dumps(images.load(f))
        with open(job["img"], "rb") as f:
            res["pretty"] = json.dumps(images.load(f, True), indent=4)
    except Exception as exc:
        res["decode_error"] = repr(exc)
    try:
        res["encoded"] = base64.b64encode(images.dumps(json.loads(job["json"]))).decode()
    except Exception as exc:
        res["encode_error"] = repr(exc)
    out[name] = res
json.dump(out, sys.stdout)
"""


RANDOM_SEEDS = range(5)


@pytest.fixture(scope="module")
def criu317(tmp_path_factory):
    """Our sample images per type (every field; then random fields and
    edge values, 5 seeds), and what CRIU 3.17's library makes of them."""
    reason = lib.criu_crit_missing()
    if reason:
        pytest.skip(reason)
    known = lib.criu317_schema()
    workdir = tmp_path_factory.mktemp("criu317")
    ours, jobs = {}, {}
    samples = {name: lib.sample_entries(name, known) for name in CROSS_TYPES}
    for seed in RANDOM_SEEDS:
        for name in CROSS_TYPES:
            rng = random.Random(f"{name}/{seed}")
            samples[f"{name}/{seed}"] = lib.sample_entries(name, known, rng)
    for key, entries in samples.items():
        name = key.split("/")[0]
        data = image_bytes(name, entries)
        path = workdir / (key.replace("/", "-") + ".img")
        path.write_bytes(data)
        ours[key] = data
        jobs[key] = {"img": str(path), "json": json.dumps(loads(data))}
    done = subprocess.run([lib.SYSTEM_PYTHON, "-I", "-c", _CRIU317_BATCH], input=json.dumps(jobs),
                          capture_output=True, text=True, timeout=300, check=True)
    return ours, json.loads(done.stdout)


@pytest.mark.parametrize("name", CROSS_TYPES)
def test_criu_crit_decodes_ours_identically(criu317, name):
    ours, theirs = criu317
    result = theirs[name]
    assert "decode_error" not in result, result.get("decode_error")
    assert json.loads(result["plain"]) == loads(ours[name])
    assert result["plain"] == json.dumps(loads(ours[name]))
    assert result["pretty"] == pretty_text(ours[name])


@pytest.mark.parametrize("name", CROSS_TYPES)
def test_criu_crit_encodes_our_json_to_our_bytes(criu317, name):
    ours, theirs = criu317
    result = theirs[name]
    if name in CRIU317_CANNOT_ENCODE:
        assert "encode_error" in result
        pytest.skip("CRIU 3.17's crit cannot encode this type (base64.decodebytes on str in its handler)")
    assert "encode_error" not in result, result.get("encode_error")
    encoded = base64.b64decode(result["encoded"])
    assert encoded == ours[name]
    assert loads(encoded) == loads(ours[name])


def test_types_unknown_to_criu317_are_really_unknown(criu317):
    """If 3.17 learned these, they should join the cross-checks."""
    known = lib.criu317_schema()
    probe = subprocess.run(
        [lib.SYSTEM_PYTHON, "-I", "-c",
         "import json, pycriu.images.images as i; print(json.dumps(sorted(i.handlers)))"],
        capture_output=True, text=True, timeout=60, check=True)
    handled = set(json.loads(probe.stdout))
    assert not (lib.UNKNOWN_TO_CRIU317 & handled)
    assert known  # the schema dump worked


@pytest.mark.parametrize("name", CROSS_TYPES)
def test_random_values_agree_with_criu_crit(criu317, name):
    ours, theirs = criu317
    for seed in RANDOM_SEEDS:
        key = f"{name}/{seed}"
        result = theirs[key]
        assert "decode_error" not in result, (key, result.get("decode_error"))
        assert result["plain"] == json.dumps(loads(ours[key])), key
        assert result["pretty"] == pretty_text(ours[key]), key
        if name not in CRIU317_CANNOT_ENCODE:
            assert base64.b64decode(result["encoded"]) == ours[key], key
        assert dumps(json.loads(result["plain"])) == ours[key]
        assert dumps(json.loads(result["pretty"])) == ours[key]


@pytest.mark.parametrize("name", ALL_TYPES)
def test_random_values_round_trip_with_all_our_fields(name):
    for seed in RANDOM_SEEDS:
        entries = lib.sample_entries(name, None, random.Random(f"ours/{name}/{seed}"))
        data = image_bytes(name, entries)
        assert dumps(json.loads(json.dumps(loads(data)))) == data
        assert dumps(json.loads(pretty_text(data))) == data
