"""Unix sockets without root: what sock_diag reports (abstract names kept
whole, listen queues), queues peeked without being consumed, option
dumping, and how restore groups sockets (peers, accepted connections)."""

from __future__ import annotations

import os
import pathlib
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from criu.imagedir import ImageDir
from criu.resources.fdtypes import unix, unix_diag, unix_opts


def _ino(sk: socket.socket) -> int:
    return os.fstat(sk.fileno()).st_ino


def test_diag_pair_and_abstract_listener() -> None:
    name = f"\0criu-unit-{os.getpid()}\0tail".encode()
    a, b = socket.socketpair()
    lsk = socket.socket(socket.AF_UNIX)
    with a, b, lsk:
        lsk.bind(name)
        lsk.listen(2)
        client = socket.socket(socket.AF_UNIX)
        with client:
            client.connect(name)
            a.send(b"12345")
            b.shutdown(socket.SHUT_WR)
            socks = unix_diag.sockets()
            sa, sb, sl = (socks[_ino(s)] for s in (a, b, lsk))
            assert (sa.type, sa.state, sa.peer) == (socket.SOCK_STREAM,
                                                    unix_diag.TCP_ESTABLISHED,
                                                    _ino(b))
            assert sb.rqueue == 5 and sb.peer == _ino(a)
            assert sb.shutdown == unix_diag.SEND_SHUTDOWN
            assert sa.shutdown == unix_diag.RCV_SHUTDOWN
            # The abstract name whole (NULs included), not cut at the first.
            assert sl.name == name and not sl.path_name
            assert sl.state == unix_diag.TCP_LISTEN and sl.wqueue == 2
            assert sl.icons == (_ino(client),)
            assert unix_diag.is_unix(_ino(a))
    with socket.socket() as tcp:
        assert not unix_diag.is_unix(_ino(tcp))


@pytest.mark.parametrize("sk_type", [socket.SOCK_DGRAM,
                                     socket.SOCK_SEQPACKET])
def test_peek_keeps_boundaries_and_queue(sk_type: int) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, sk_type)
    with a, b:
        msgs = [b"one", b"", b"x" * 100000, b"four"]
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for m in msgs:
            a.send(m)
        b.setsockopt(socket.SOL_SOCKET, unix_opts.SO_PEEK_OFF, 7)
        rq = sum(map(len, msgs))
        assert unix_opts.peek_queue(b, sk_type, rq, False) == msgs
        # The task's own peek offset is put back, the queue untouched.
        assert b.getsockopt(socket.SOL_SOCKET, unix_opts.SO_PEEK_OFF) == 7
        b.setsockopt(socket.SOL_SOCKET, unix_opts.SO_PEEK_OFF, -1)
        assert [b.recv(1 << 17) for _ in msgs] == msgs


def test_peek_stream_and_seqpacket_eof() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.send(b"abc")
        a.send(b"defg")
        a.close()
        assert b"".join(unix_opts.peek_queue(b, socket.SOCK_STREAM, 7,
                                             True)) == b"abcdefg"
        assert b.recv(100) == b"abcdefg"
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        a.send(b"ab")
        a.send(b"")
        a.shutdown(socket.SHUT_WR)
        # After the shutdown an empty read is end-of-file, once every
        # queued byte was seen: the loop ends.
        got = unix_opts.peek_queue(b, socket.SOCK_SEQPACKET, 2, True)
        assert got[0] == b"ab"


def test_peek_refuses_fds_in_flight_and_closes_them() -> None:
    a, b = socket.socketpair()
    with a, b:
        socket.send_fds(a, [b"x"], [0])
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(unix_opts.FdsInFlight):
            unix_opts.peek_queue(b, socket.SOCK_STREAM, 1, False)
        assert len(os.listdir("/proc/self/fd")) == before
        msg, fds, _, _ = socket.recv_fds(b, 10, 1)
        assert msg == b"x" and len(fds) == 1
        os.close(fds[0])


def test_dump_opts() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sk:
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 20000)
        sk.setsockopt(socket.SOL_SOCKET, unix_opts.SO_SNDTIMEO_OLD,
                      bytes(unix_opts.Timeval(3, 500000)))
        opts = unix_opts.dump_opts(sk)
        assert opts.so_passcred and not opts.so_passsec
        assert opts.so_rcvbuf == 40000          # the kernel's doubled size
        assert (opts.so_snd_tmo_sec, opts.so_snd_tmo_usec) == (3, 500000)
        assert opts.so_buf_lock == 2            # SOCK_RCVBUF_LOCK
        assert not opts.HasField("so_mark")


def _usk(ino: int, sk_type: int = socket.SOCK_STREAM,
         state: int = unix_diag.TCP_ESTABLISHED, peer: int = 0,
         name: bytes = b"", file_id: int = 0) -> Any:
    from images.pb import sk_opts_pb2, sk_unix_pb2
    from criu.resources import files
    opts = sk_opts_pb2.sk_opts_entry(
        so_sndbuf=0, so_rcvbuf=0, so_snd_tmo_sec=0, so_snd_tmo_usec=0,
        so_rcv_tmo_sec=0, so_rcv_tmo_usec=0)
    return sk_unix_pb2.unix_sk_entry(
        id=file_id or ino, ino=ino, type=sk_type, state=state, flags=2,
        uflags=0, backlog=0, peer=peer, fown=files.fown(), opts=opts,
        name=name)


def test_groups_and_accepted_connections() -> None:
    path = b"srv.sock\0"
    socks = {s.ino: s for s in (
        _usk(10, state=unix_diag.TCP_LISTEN, name=path),
        _usk(11, peer=12),                          # client
        _usk(12, peer=11, name=path),               # accepted by 10
        _usk(13, peer=10),                          # waiting in 10's queue
        _usk(20, peer=21), _usk(21, peer=20),       # a socketpair
        _usk(30, socket.SOCK_DGRAM, name=b"\0d"),   # dgram server
        _usk(31, socket.SOCK_DGRAM, peer=30),       # its client
        _usk(40, state=unix_diag.TCP_CLOSE),        # alone
    )}
    accepted = unix.accepted_connections(socks)
    assert accepted == {12: 10}
    groups = unix.group_sockets(socks, accepted)
    assert {i: groups[i] for i in (10, 11, 12, 13)} == dict.fromkeys(
        (10, 11, 12, 13), 10)
    assert groups[20] == groups[21] == 20
    assert groups[30] == groups[31] == 30
    assert groups[40] == 40


def test_collect_reads_queues_and_sets_shared_keys(
        tmp_path: pathlib.Path) -> None:
    from images.pb import fdinfo_pb2, sk_packet_pb2
    a, b = _usk(5, peer=6, file_id=1), _usk(6, peer=5, file_id=2)
    entries = [fdinfo_pb2.file_entry(type=unix.FD_TYPE, id=u.id, usk=u)
               for u in (a, b)]
    with ImageDir(tmp_path) as images:
        images.write("files.img", entries)
        images.write(unix.QUEUES_IMG, [
            (sk_packet_pb2.sk_packet_entry(id_for=2, length=3), b"abc"),
            (sk_packet_pb2.sk_packet_entry(id_for=2, length=0), b""),
        ], magic=unix.QUEUES_MAGIC)
        ctx = SimpleNamespace(images=images, registry={})
        unix.collect(ctx)  # type: ignore[arg-type]
        rs = ctx.registry[unix._RESTORE_KEY]
        assert rs.queues == {2: [b"abc", b""]}
        assert unix.shared_key(entries[0]) == unix.shared_key(entries[1])
        assert unix.inherit_key(entries[0]) == "socket:[5]"
