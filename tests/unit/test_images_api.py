"""The images library API and crit's dict conventions, piece by piece."""

from __future__ import annotations

import io
import struct

import pytest

import images
from images import ImageReader, ImageWriter, handlers, open_image, read_entries, write_image
from images.errors import BadJson, NoHandler, SchemaMissing, UnknownMagic
from images.magic import BY_NAME, IMG_COMMON, IMG_SERVICE, header_magics
from images.pb import fdinfo_pb2, pagemap_pb2, pstree_pb2, sk_inet_pb2, sk_unix_pb2, vma_pb2
from images.pb2dict import (dev_to_str, dict_to_message, flags_to_str, message_to_dict, str_to_dev,
                            str_to_flags, FLAG_TABLES)


def test_headers_follow_criu_rules():
    assert header_magics("INVENTORY") == (BY_NAME["INVENTORY"],)
    assert header_magics("STATS") == (IMG_SERVICE, BY_NAME["STATS"])
    assert header_magics("CORE") == (IMG_COMMON, BY_NAME["CORE"])
    buf = io.BytesIO()
    ImageWriter(buf, "INVENTORY")
    assert buf.getvalue() == struct.pack("<I", 0x58313116)
    buf = io.BytesIO()
    ImageWriter(buf, "IRMAP_CACHE")
    assert buf.getvalue() == struct.pack("<II", 0x55105940, 0x57004059)


def test_every_magic_is_unique_and_every_handler_has_a_magic():
    assert len(set(BY_NAME.values())) == len(BY_NAME)
    assert set(handlers.HANDLERS) <= set(BY_NAME)
    assert set(BY_NAME) - set(handlers.HANDLERS) == {"KDAT"}


def test_stream_api(tmp_path):
    path = str(tmp_path / "pstree.img")
    msgs = [pstree_pb2.pstree_entry(pid=i, ppid=0, pgid=i, sid=i) for i in range(1, 4)]
    write_image(path, "PSTREE", msgs)
    assert [e.msg for e in read_entries(path)] == msgs
    with open_image(path, expect="PSTREE") as img:
        offsets = [e.offset for e in img]
    assert offsets[0] == 8 and offsets == sorted(offsets)
    with open(path, "rb") as f:
        assert images.info(f) == {"magic": "PSTREE", "count": 3}


def test_writer_refuses_wrong_messages():
    w = ImageWriter(io.BytesIO(), "PAGEMAP", "pm.img")
    with pytest.raises(BadJson, match="needs a pagemap_head here"):
        w.write(pagemap_pb2.pagemap_entry(vaddr=0, compat_nr_pages=1))
    w.write(pagemap_pb2.pagemap_head(pages_id=1))
    w.write(pagemap_pb2.pagemap_entry(vaddr=0, compat_nr_pages=1))
    with pytest.raises(BadJson, match="misses required fields: compat_nr_pages"):
        w.write(pagemap_pb2.pagemap_entry(vaddr=0))
    with pytest.raises(BadJson, match="carries no payload"):
        w.write(pagemap_pb2.pagemap_entry(vaddr=0, compat_nr_pages=1), b"x")


def test_unchunked_ghost_file_takes_no_more_entries():
    gtype = handlers.HANDLERS["GHOST_FILE"]
    head = gtype.first.cls()(uid=0, gid=0, mode=0o100644, chunks=False)
    w = ImageWriter(io.BytesIO(), "GHOST_FILE")
    w.write(head, b"contents")
    with pytest.raises(BadJson, match="no more entries"):
        w.write(gtype.entry.cls()(len=1, off=0), b"x")


def test_raw_and_kdat_images_have_no_handler():
    with pytest.raises(NoHandler, match="KDAT images hold no protobuf entries"):
        ImageReader(io.BytesIO(struct.pack("<I", BY_NAME["KDAT"]) + bytes(16)), "kdat")
    with pytest.raises(UnknownMagic):
        ImageReader(io.BytesIO(bytes(4096)), "pages-1.img")


def test_missing_schema_only_breaks_its_type(monkeypatch):
    broken = handlers.ImageType("PSTREE", handlers.MessageRef("no_such_pb2", "pstree_entry"))
    monkeypatch.setitem(handlers.HANDLERS, "PSTREE", broken)
    data = struct.pack("<III", IMG_COMMON, BY_NAME["PSTREE"], 0)
    with pytest.raises(SchemaMissing) as exc:
        list(ImageReader(io.BytesIO(data), "p.img"))
    assert str(exc.value).startswith("p.img: offset 8: schema no_such_pb2 for pstree_entry is not built")
    # Other types still work.
    fs = handlers.HANDLERS["FS"].entry.cls()(cwd_id=1, root_id=2)
    buf = io.BytesIO()
    ImageWriter(buf, "FS").write(fs)
    assert [e.msg for e in ImageReader(io.BytesIO(buf.getvalue()))] == [fs]


def test_plain_dict_shape():
    vma = vma_pb2.vma_entry(start=0x1000, end=0x2000, pgoff=0, shmid=0, prot=3, flags=0x22,
                            status=0x201, fd=-1)
    assert message_to_dict(vma) == {"start": 4096, "end": 8192, "pgoff": 0, "shmid": 0, "prot": 3,
                                    "flags": 34, "status": 513, "fd": -1}
    assert message_to_dict(vma, pretty=True) == {
        "start": "0x1000", "end": "0x2000", "pgoff": 0, "shmid": 0,
        "prot": "PROT_READ | PROT_WRITE", "flags": "MAP_PRIVATE | MAP_ANON",
        "status": "VMA_AREA_REGULAR | VMA_ANON_PRIVATE", "fd": -1}
    for pretty in (False, True):
        assert dict_to_message(message_to_dict(vma, pretty), vma_pb2.vma_entry()) == vma


def test_enums_bytes_and_unix_names():
    fe = fdinfo_pb2.fdinfo_entry(id=1, flags=0, type=fdinfo_pb2.UNIXSK, fd=3)
    assert message_to_dict(fe)["type"] == "UNIXSK"
    usk = sk_unix_pb2.unix_sk_entry(name=b"\0abstract=1\xff")
    text = message_to_dict(usk)["name"]
    assert text == "=00abstract=3D1=FF"
    assert dict_to_message({"name": text}, sk_unix_pb2.unix_sk_entry()).name == usk.name


def test_ip_addresses_and_sk_dicts():
    isk = sk_inet_pb2.inet_sk_entry(family=10, type=1, proto=6, state=10,
                                    src_addr=[0, 0, 0, 0x01000000], dst_addr=[0x0100007F])
    d = message_to_dict(isk, pretty=True)
    assert d["src_addr"] == ["::1"] and d["dst_addr"] == ["127.0.0.1"]
    assert (d["family"], d["type"], d["proto"], d["state"]) == ("INET6", "STREAM", "TCP", "LISTEN")
    back = dict_to_message({k: d[k] for k in ("family", "type", "proto", "state", "src_addr", "dst_addr")},
                           sk_inet_pb2.inet_sk_entry())
    assert list(back.src_addr) == [0, 0, 0, 0x01000000] and list(back.dst_addr) == [0x0100007F]
    assert (back.family, back.type, back.proto, back.state) == (10, 1, 6, 10)


def test_flags_and_devices():
    table = FLAG_TABLES["rfile.flags"]
    assert flags_to_str(0o2000002 | 0x40000000, table) == "O_RDWR | O_CLOEXEC | 0x40000000"
    assert str_to_flags("O_RDWR | O_CLOEXEC | 0x40000000", table) == 0o2000002 | 0x40000000
    assert str_to_flags("", table) == 0
    assert dev_to_str((8 << 20) | 3, False) == "8:3"
    assert str_to_dev("8:3", False) == (8 << 20) | 3
    import os
    for major, minor in ((8, 3), (259, 70000), (4095, 255)):
        assert dev_to_str(os.makedev(major, minor), True) == f"{major}:{minor}"
        assert str_to_dev(f"{major}:{minor}", True) == os.makedev(major, minor)


def test_non_utf8_strings_stay_visible():
    from images.pb import regfile_pb2
    body = regfile_pb2.reg_file_entry(id=1, name="ab").SerializePartialToString().replace(b"ab", b"\xff\xfe")
    msg = regfile_pb2.reg_file_entry()
    msg.MergeFromString(body)
    assert message_to_dict(msg)["name"] == "\udcff\udcfe"


@pytest.mark.parametrize("name, extra, reason", [
    ("IPCNS_SHM", b"short", "5 shm bytes, the entry says 61"),
    ("IPCNS_SEM", [1], "1 semaphore values for nsems 3"),
    ("IPCNS_MSG", [], "0 queued messages, the entry says qnum 2"),
    ("TCP_STREAM", {"inq": b"", "outq": b""}, "inq has 0 bytes, the entry says 5"),
    ("SK_QUEUES", None, "0 payload bytes, the entry says 65"),
])
def test_payload_must_match_its_entry(name, extra, reason):
    import images_testlib as lib
    msg, _ = lib.sample_entries(name)[0]
    with pytest.raises(BadJson, match=reason):
        ImageWriter(io.BytesIO(), name).write(msg, extra)
