"""criu.resources.seccomp, without root: the filter table (chains shared by
content along the chain), seccomp.img encoding, the restore plan and the
rst_thread part handed to the restorer blob."""

from __future__ import annotations

import struct

import pytest

from criu.errors import RestoreError
from criu.resources import seccomp as sc
from criu.restorer import args as ra


def prog(tag: int, n: int = 2) -> bytes:
    """A fake BPF program of n instructions, told apart by tag."""
    return b"".join(struct.pack("<HBBI", 6, 0, 0, tag + i) for i in range(n))


A, B, C = prog(1), prog(2), prog(3, 3)


def test_chain_dedup_across_threads_and_forks() -> None:
    t = sc.FilterTable()
    parent = t.add_chain([(A, 0), (C, 0)])      # inherited A, then own C
    child = t.add_chain([(A, 0), (B, 0)])       # inherited A, then own B
    thread = t.add_chain([(A, 0), (C, 0)])      # same chain as parent
    only_a = t.add_chain([(A, 0)])
    assert t.filters == [(A, 0, 0), (C, 1, 0), (B, 1, 0)]
    assert (parent, child, thread, only_a) == (2, 3, 2, 1)
    assert t.add_chain([]) == 0


def test_same_program_elsewhere_in_chain_is_another_filter() -> None:
    t = sc.FilterTable()
    assert t.add_chain([(B, 0), (A, 0)]) == 2
    assert t.add_chain([(A, 0)]) == 3           # A on nothing != A on B
    assert t.add_chain([(A, 0), (A, 0)]) == 4   # stacked twice: two objects
    assert t.add_chain([(A, sc.SECCOMP_FILTER_FLAG_LOG)]) == 5


def test_image_roundtrip() -> None:
    t = sc.FilterTable()
    last = t.add_chain([(A, sc.SECCOMP_FILTER_FLAG_LOG), (B, 0), (C, 0)])
    other = t.add_chain([(A, sc.SECCOMP_FILTER_FLAG_LOG), (C, 0)])
    from images.pb import seccomp_pb2
    data = t.entry().SerializeToString()
    entry = seccomp_pb2.seccomp_entry.FromString(data)
    filters = list(entry.seccomp_filters)
    assert [f.prev for f in filters] == [0, 1, 2, 1]
    assert filters[0].flags == sc.SECCOMP_FILTER_FLAG_LOG
    assert sc.chain_of(filters, last) == [
        (A, sc.SECCOMP_FILTER_FLAG_LOG), (B, 0), (C, 0)]
    assert sc.chain_of(filters, other) == [
        (A, sc.SECCOMP_FILTER_FLAG_LOG), (C, 0)]
    assert sc.chain_of(filters, 0) == []


def test_chain_of_rejects_bad_images() -> None:
    from images.pb import seccomp_pb2
    loop = [seccomp_pb2.seccomp_filter(filter=A, prev=2),
            seccomp_pb2.seccomp_filter(filter=B, prev=1)]
    with pytest.raises(RestoreError):
        sc.chain_of(loop, 1)
    with pytest.raises(RestoreError):
        sc.chain_of(loop, 3)


def _tcore(**fields):
    from images.pb import core_pb2
    return core_pb2.thread_core_entry(futex_rla=0, futex_rla_len=0,
                                      **fields)


def test_plan_thread() -> None:
    t = sc.FilterTable()
    last = t.add_chain([(A, 0), (B, sc.SECCOMP_FILTER_FLAG_LOG)])
    filters = list(t.entry().seccomp_filters)
    plan = sc.plan_thread(_tcore(seccomp_mode=2, seccomp_filter=last,
                                 no_new_privs=True), filters)
    assert plan == sc.ThreadSeccomp(2, True,
                                    [(A, 0), (B, sc.SECCOMP_FILTER_FLAG_LOG)])
    assert sc.plan_thread(_tcore(), None) == sc.ThreadSeccomp(0, False, [])
    assert sc.plan_thread(_tcore(seccomp_mode=1), None) == \
        sc.ThreadSeccomp(1, False, [])
    assert sc.plan_thread(_tcore(no_new_privs=True), None) == \
        sc.ThreadSeccomp(0, True, [])
    with pytest.raises(RestoreError):
        sc.plan_thread(_tcore(seccomp_mode=2, seccomp_filter=last), None)
    with pytest.raises(RestoreError):
        sc.plan_thread(_tcore(seccomp_mode=2), filters)
    from images.pb import seccomp_pb2
    odd = [seccomp_pb2.seccomp_filter(filter=b"\0" * 7)]
    with pytest.raises(RestoreError):
        sc.plan_thread(_tcore(seccomp_mode=2, seccomp_filter=1), odd)


def test_thread_part_in_block() -> None:
    block = ra.RestorerBlock(base=0x10000)
    plan = sc.ThreadSeccomp(2, True, [
        (A, sc.SECCOMP_FILTER_FLAG_LOG | sc.SECCOMP_FILTER_FLAG_TSYNC),
        (C, 0)])
    part = sc.thread_part(plan, block)
    assert part["mode"] == 2 and part["no_new_privs"] == 1
    assert part["nr_filters"] == 2
    raw = block.to_bytes()

    def at(addr: int, n: int) -> bytes:
        off = addr - block.base
        return raw[off:off + n]
    size = ra.RST_SECCOMP_FILTER.size
    items = [ra.RST_SECCOMP_FILTER.unpack(at(part["filters"] + i * size,
                                             size)) for i in range(2)]
    # TSYNC is dropped: each thread installs its own chain.
    assert [(i["len"], i["flags"]) for i in items] == [
        (2, sc.SECCOMP_FILTER_FLAG_LOG), (3, 0)]
    assert at(items[0]["insns"], len(A)) == A
    assert at(items[1]["insns"], len(C)) == C
    # The part fits rst_thread.seccomp.
    ra.RST_THREAD.pack({"seccomp": part})
    assert sc.thread_part(None, block) == dict(
        mode=0, no_new_privs=0, nr_filters=0, filters=0)


def test_restorer_thread_fields_hook() -> None:
    from criu.resources import RESOURCES
    assert "criu.resources.seccomp" in RESOURCES
    assert RESOURCES.index("criu.resources.seccomp") < \
        RESOURCES.index("criu.resources.fs")

    class Args:
        seccomp = {7: sc.ThreadSeccomp(1, False, [])}

    class Task:
        restorer_args = Args()
    block = ra.RestorerBlock(base=0)
    assert sc.restorer_thread_fields(Task(), 7, block)["seccomp"]["mode"] == 1
    assert sc.restorer_thread_fields(Task(), 8, block)["seccomp"]["mode"] == 0
