"""Reading, decoding and encoding stream: memory stays flat with image size."""

from __future__ import annotations

import io
import tracemalloc

from images import ImageReader, ImageWriter, load
from images.crit import write_json_stream
from images.jsonstream import iter_image_json
from images.pb.pstree_pb2 import pstree_entry

ENTRIES = 12000


class NullText(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def big_image(path) -> None:
    with open(path, "wb") as f:
        w = ImageWriter(f, "PSTREE")
        for i in range(ENTRIES):
            w.write(pstree_entry(pid=i + 1, ppid=i, pgid=1, sid=1, threads=[i + 1, i + 2]))


def peak_of(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_decode_holds_one_entry_at_a_time(tmp_path):
    path = tmp_path / "pstree.img"
    big_image(path)
    assert path.stat().st_size > 200_000

    def decode() -> None:
        with open(path, "rb") as f:
            reader = ImageReader(f, str(path))
            write_json_stream(reader.magic, reader.dicts(pretty=True), NullText(), pretty=True)

    def load_whole() -> None:
        with open(path, "rb") as f:
            load(f, pretty=True)

    streamed = peak_of(decode)
    assert streamed < 500_000
    # The check can fail: holding all entries costs many times more.
    assert peak_of(load_whole) > 10 * streamed


def test_encode_holds_one_entry_at_a_time(tmp_path):
    src = tmp_path / "pstree.json"
    with open(src, "w") as out:
        out.write('{"magic": "PSTREE", "entries": [')
        out.write(", ".join(f'{{"pid": {i + 1}, "ppid": {i}, "pgid": 1, "sid": 1}}' for i in range(ENTRIES)))
        out.write("]}")
    assert src.stat().st_size > 500_000

    def encode() -> None:
        with open(src) as f, open(tmp_path / "out.img", "wb") as out:
            magic, entries = iter_image_json(f)
            w = ImageWriter(out, magic)
            for _, entry in entries:
                w.write_dict(entry)

    assert peak_of(encode) < 500_000
    with open(tmp_path / "out.img", "rb") as f:
        assert sum(1 for _ in ImageReader(f)) == ENTRIES
