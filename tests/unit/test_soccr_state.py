"""soccr's pure conversions: TcpState <-> dict/JSON <-> CRIU tcp-stream image."""

import json
import os
import socket
import subprocess
import sys

import pytest

import soccr
from soccr import kernel
from soccr.restore import _repair_options
from soccr.state import TcpState, TcpWindow


def make_state(**changes) -> TcpState:
    fields = dict(
        family=socket.AF_INET,
        local=("127.0.0.1", 40000),
        peer=("127.0.0.1", 5000),
        snd_seq=0xFFFFFFF0,  # close to wrap-around on purpose
        rcv_seq=12345,
        send_queue=b"sent-not-acked|never-sent",
        unsent_len=len(b"never-sent"),
        recv_queue=bytes(range(256)) * 3,
        mss_clamp=65483,
        opt_mask=kernel.TCPI_OPT_TIMESTAMPS | kernel.TCPI_OPT_SACK | kernel.TCPI_OPT_WSCALE,
        snd_wscale=7,
        rcv_wscale=10,
        timestamp=3899374662,
        window=TcpWindow(snd_wl1=1, snd_wnd=65536, max_window=65536, rcv_wnd=98304, rcv_wup=12000),
        nodelay=True,
        cork=False,
    )
    fields.update(changes)
    return TcpState(**fields)


def test_dict_round_trip_keeps_every_field():
    st = make_state()
    assert TcpState.from_dict(st.to_dict()) == st


def test_json_round_trip_ipv6_without_window_or_timestamp():
    st = make_state(family=socket.AF_INET6, local=("::1", 40000, 0, 0),
                    peer=("fe80::1", 5000, 0, 3), timestamp=None, window=None,
                    opt_mask=kernel.TCPI_OPT_SACK, snd_wscale=0, rcv_wscale=0)
    text = st.to_json()
    assert json.loads(text)["family"] == "inet6"
    assert TcpState.from_json(text) == st


def test_queue_split_between_sent_and_unsent():
    st = make_state()
    assert st.sent_queue == b"sent-not-acked|"
    assert st.unsent_queue == b"never-sent"
    assert st.sack and st.timestamps and st.window_scaling


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.pop("snd_seq"), "snd_seq"),
    (lambda d: d.update(version=99), "version"),
    (lambda d: d.update(send_queue="not base64!"), "malformed"),
    (lambda d: d.update(unsent_len=10**6), "unsent_len"),
    (lambda d: d.update(snd_wscale=15), "snd_wscale"),
    (lambda d: d.update(rcv_seq=2**32), "rcv_seq"),
    (lambda d: d.update(family="unix"), "malformed"),
    (lambda d: d["local"].update(host="not-an-address"), "not-an-address"),
    (lambda d: d["peer"].update(port=70000), "port"),
])
def test_malformed_dict_is_refused_with_a_clear_error(mutate, needle):
    d = make_state().to_dict()
    mutate(d)
    with pytest.raises(soccr.StateFormatError, match=needle):
        TcpState.from_dict(d)


def test_malformed_json_is_refused():
    with pytest.raises(soccr.StateFormatError, match="JSON"):
        TcpState.from_json("{not json")


def test_image_message_carries_criu_fields():
    st = make_state()
    entry, extra = st.to_image()
    assert type(entry).__name__ == "tcp_stream_entry"
    # CRIU's meaning: inq_seq = rcv_nxt, outq_seq = write_seq, both after the queues.
    assert (entry.inq_len, entry.inq_seq) == (len(st.recv_queue), st.rcv_seq)
    assert (entry.outq_len, entry.outq_seq) == (len(st.send_queue), st.snd_seq)
    assert entry.unsq_len == st.unsent_len
    assert (entry.snd_wscale, entry.rcv_wscale, entry.mss_clamp) == (7, 10, 65483)
    assert entry.opt_mask == st.opt_mask and entry.timestamp == st.timestamp
    assert (entry.snd_wl1, entry.snd_wnd, entry.max_window, entry.rcv_wnd, entry.rcv_wup) == \
        (1, 65536, 65536, 98304, 12000)
    assert entry.nodelay and not entry.cork
    # In the image file the receive queue comes first, then the send queue.
    assert extra == st.recv_queue + st.send_queue


def test_image_wire_bytes_use_criu_field_numbers():
    st = make_state(recv_queue=b"", send_queue=b"", unsent_len=0, snd_seq=2, rcv_seq=1,
                    opt_mask=5, snd_wscale=3, mss_clamp=4, rcv_wscale=6, timestamp=None,
                    window=None, nodelay=False, cork=False)
    entry, _ = st.to_image()
    # field 1 inq_len=0, 2 inq_seq=1, 3 outq_len=0, 4 outq_seq=2, 5 opt_mask=5,
    # 6 snd_wscale=3, 7 mss_clamp=4, 8 rcv_wscale=6, 10 cork=0, 11 nodelay=0, 12 unsq_len=0
    expected = bytes([0x08, 0, 0x10, 1, 0x18, 0, 0x20, 2, 0x28, 5, 0x30, 3, 0x38, 4, 0x40, 6,
                      0x50, 0, 0x58, 0, 0x60, 0])
    assert entry.SerializeToString() == expected


def test_image_round_trip_through_bytes():
    st = make_state(family=socket.AF_INET6, local=("::1", 1, 0, 0), peer=("::1", 2, 0, 0))
    entry, extra = st.to_image()
    parsed = type(entry).FromString(entry.SerializeToString())
    back = TcpState.from_image(parsed, extra, family=st.family, local=st.local, peer=st.peer)
    assert back == st
    msg, queues = st.to_image_queues()
    assert queues == {"inq": st.recv_queue, "outq": st.send_queue}
    assert TcpState.from_image(msg, queues, family=st.family, local=st.local, peer=st.peer) == st


def test_image_without_optional_fields_gives_no_window_and_no_timestamp():
    st = make_state(timestamp=None, window=None)
    entry, extra = st.to_image()
    assert not entry.HasField("timestamp") and not entry.HasField("snd_wnd")
    back = TcpState.from_image(entry, extra, family=st.family, local=st.local, peer=st.peer)
    assert back.window is None and back.timestamp is None


def test_image_with_short_queue_data_is_refused():
    entry, extra = make_state().to_image()
    with pytest.raises(soccr.StateFormatError, match="expected"):
        TcpState.from_image(entry, extra[:-1], family=socket.AF_INET,
                            local=("127.0.0.1", 1), peer=("127.0.0.1", 2))


@pytest.mark.skipif(not os.access("/usr/bin/crit", os.X_OK),
                    reason="CRIU's own crit (Debian package criu) is not installed")
def test_criu_crit_decodes_our_tcp_stream_image(tmp_path):
    import images
    st = make_state()
    path = tmp_path / "tcp-stream-1.img"
    images.write_image(str(path), "TCP_STREAM", [st.to_image_queues()])
    out = subprocess.run(["/usr/bin/crit", "decode", "-i", str(path)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    img = json.loads(out)
    assert img["magic"] == "TCP_STREAM"
    (e,) = img["entries"]
    assert e["inq_seq"] == st.rcv_seq and e["outq_seq"] == st.snd_seq
    assert e["unsq_len"] == st.unsent_len and e["rcv_wup"] == 12000


def test_repair_options_follow_negotiated_options():
    opts = [(o.opt_code, o.opt_val) for o in _repair_options(make_state())]
    assert opts == [
        (kernel.TCPOPT_MAXSEG, 65483),
        (kernel.TCPOPT_SACK_PERM, 0),
        (kernel.TCPOPT_WINDOW, 7 | 10 << 16),
        (kernel.TCPOPT_TIMESTAMP, 0),
    ]
    bare = _repair_options(make_state(opt_mask=0, snd_wscale=0, rcv_wscale=0))
    assert [(o.opt_code, o.opt_val) for o in bare] == [(kernel.TCPOPT_MAXSEG, 65483)]


def test_kernel_struct_layouts():
    assert kernel.TcpRepairOpt(kernel.TCPOPT_WINDOW, 7 | 10 << 16).pack() == \
        (3).to_bytes(4, "little") + (7 | 10 << 16).to_bytes(4, "little")
    w = kernel.TcpRepairWindow(1, 2, 3, 4, 0xFFFFFFFF)
    assert len(w.pack()) == 20 and kernel.TcpRepairWindow.unpack(w.pack()) == w
    head = bytes([1, 0, 0, 0, 0, 7, 0xA7, 0]) + (200000).to_bytes(4, "little") + bytes(4) \
        + (1448).to_bytes(4, "little") + bytes(4)
    info = kernel.TcpInfoHead.unpack(head + b"rest of tcp_info")
    # tcpi_snd_wscale is the low nibble, tcpi_rcv_wscale the high one.
    assert (info.tcpi_state, info.tcpi_options) == (1, 7)
    assert (info.tcpi_snd_wscale, info.tcpi_rcv_wscale) == (7, 10)
    assert (info.tcpi_rto, info.tcpi_snd_mss) == (200000, 1448)
    # An older kernel's shorter answer reads as zeros, not as an error.
    assert kernel.TcpInfoHead.unpack(head[:8]).tcpi_rto == 0


def test_soccr_needs_no_ctypes():
    code = "import sys, soccr; print('ctypes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_soccr_does_not_import_criu_or_compel():
    code = ("import sys, soccr; bad = [m for m in sys.modules "
            "if m.split('.')[0] in ('criu', 'compel', 'images')]; print(bad)")
    out = subprocess.run([sys.executable,
                          "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("src, dst", [("127.0.0.1", "127.0.0.2"), ("fe80::1", "::1")])
def test_injected_segment_header_checksums(src, dst):
    import ipaddress
    import struct
    from soccr import inject
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = inject._tcp_header(a, b, 5000, 40000, 0xFFFFFFFF + 2, 7,
                             inject.TCP_FIN | inject.TCP_ACK, 1 << 20)
    sport, dport, seq, ack, off, flags, window = struct.unpack("!HHIIBBH", tcp[:16])
    assert (sport, dport, seq, ack) == (5000, 40000, 1, 7)  # sequence numbers wrap
    assert (off >> 4, flags, window) == (5, 0x11, 0xFFFF)  # window clamped to 16 bits
    # Summing a segment with its pseudo-header and checksum gives zero.
    if a.version == 4:
        pseudo = a.packed + b.packed + struct.pack("!BBH", 0, 6, len(tcp))
        assert len(inject._ipv4_header(a, b, len(tcp))) == 20
    else:
        pseudo = a.packed + b.packed + struct.pack("!I3xB", len(tcp), 6)
        assert len(inject._ipv6_header(a, b, len(tcp))) == 40
    assert inject._checksum(pseudo + tcp) == 0


@pytest.mark.parametrize("bad, needle", [
    (-1, "fd -1 is not a file descriptor"),
    ("3", "expected a socket.socket or a file descriptor, got str"),
    (None, "got NoneType"),
    (True, "got bool"),
    (3.0, "got float"),
])
def test_save_of_something_that_is_no_descriptor_is_refused(bad, needle):
    with pytest.raises(soccr.NotTcpSocketError, match=needle):
        soccr.save(bad)


def test_restore_of_something_that_is_no_state_is_refused():
    with pytest.raises(soccr.StateFormatError, match="takes a soccr.TcpState, got dict"):
        soccr.restore(make_state().to_dict())
