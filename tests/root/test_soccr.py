"""soccr on real connections, each test in a network namespace of its own.

The namespace belongs to one thread (network namespaces are per task), so
the pytest worker itself stays where it was; sockets, helper threads and
child processes created from that thread live in the new namespace, and it
disappears with them.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import images
import soccr
from compel import native  # the project's native layer; soccr itself never imports it
from soccr import kernel

pytestmark = pytest.mark.root

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IO_TIMEOUT = 60.0   # a stuck exchange fails the test instead of hanging it
UP_SIZE = 16 << 20  # client -> server stream; larger than both buffers together
DOWN_SIZE = 256 << 10
FIRST_UP = 64 << 10
DOWN_SENT_EARLY = 48 << 10
DOWN_READ_EARLY = 16 << 10

SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


# -- namespace and I/O helpers ------------------------------------------------

def bring_up_loopback() -> None:
    ifreq = struct.pack("16sH22x", b"lo", IFF_UP)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, ifreq)


def in_new_netns(fn: Callable[[], Any]) -> Any:
    """Run fn in a thread that first moves into a fresh network namespace."""
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            native.sys("unshare", native.clone.CLONE_NEWNET)
            bring_up_loopback()
            result["value"] = fn()
        except BaseException as e:  # handed to the test's thread below
            result["error"] = e

    t = threading.Thread(target=body, name="soccr-netns")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def stream(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise AssertionError(f"EOF after {got} of {size} bytes")
        got += n
    return bytes(buf)


def duplex(sock: socket.socket, to_send: bytes, to_recv: int) -> bytes:
    """Send and receive at once (either side alone could block on a full window)."""
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            sock.sendall(to_send)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        data = recv_exact(sock, to_recv)
    finally:
        t.join()
    if errors:
        raise errors[0]
    return data


def outq(sock: socket.socket) -> int:
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), kernel.SIOCOUTQ, bytes(4)))[0]


def unsent(sock: socket.socket) -> int:
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), kernel.SIOCOUTQNSD, bytes(4)))[0]


def tcp_state(sock: socket.socket) -> str:
    raw = sock.getsockopt(socket.IPPROTO_TCP, kernel.TCP_INFO, 8)
    return kernel.state_name(raw[0])


def wait_for(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + IO_TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def connected_pair(family: int, host: str,
                   server_rcvbuf: int = 0) -> tuple[socket.socket, socket.socket]:
    """(client, server); a small server_rcvbuf lets the client's data get stuck."""
    with socket.socket(family, socket.SOCK_STREAM) as srv:
        if server_rcvbuf:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, server_rcvbuf)
        srv.bind((host, 0))
        srv.listen()
        client = socket.socket(family, socket.SOCK_STREAM)
        client.connect(srv.getsockname())
        server, _ = srv.accept()
    for s in (client, server):
        s.settimeout(IO_TIMEOUT)
    return client, server


def fill_send_queue(client: socket.socket, up: bytes, start: int) -> int:
    """Write until the kernel takes no more (the peer is not reading); new offset."""
    client.setblocking(False)
    sent = start
    try:
        while sent < len(up):
            sent += client.send(up[sent:sent + (256 << 10)])
    except BlockingIOError:
        pass
    client.settimeout(IO_TIMEOUT)
    assert sent < len(up), "the send queue never filled up"
    return sent


# -- the mid-stream checkpoint scenario ---------------------------------------

CHILD = textwrap.dedent("""
    import hashlib, json, random, socket, sys, threading
    import soccr
    up_seed, up_size, up_from, down_expect = map(int, sys.argv[1:5])
    up = random.Random(up_seed).randbytes(up_size)
    sock = soccr.restore(soccr.TcpState.from_json(sys.stdin.read()))
    print("restored", flush=True)
    sock.settimeout(60)
    t = threading.Thread(target=sock.sendall, args=(up[up_from:],))
    t.start()
    buf = bytearray()
    while len(buf) < down_expect:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    t.join()
    sock.close()
    print(json.dumps({"received": len(buf), "sha256": hashlib.sha256(buf).hexdigest()}))
""")


def checkpoint_mid_stream(family: int, host: str, where: str) -> dict[str, Any]:
    """Client/server exchange; the client socket moves mid-stream.

    At the save, both queues hold data: the server has sent bytes the client
    has not read, and the client has written bytes the server (which stopped
    reading) has not taken. Returns what each side finally received.
    """
    up, down = stream(1, UP_SIZE), stream(2, DOWN_SIZE)
    client, server = connected_pair(family, host)
    got_up = bytearray()
    client.sendall(up[:FIRST_UP])
    got_up += recv_exact(server, FIRST_UP)
    server.sendall(down[:DOWN_SENT_EARLY])
    got_down = bytearray(recv_exact(client, DOWN_READ_EARLY))
    up_sent = fill_send_queue(client, up, FIRST_UP)
    # While the client is gone the server must have nothing to say: all its
    # data acknowledged, and no ACK owed for data it received.
    wait_for(lambda: outq(server) == 0, "the server's data to be acknowledged")
    wait_for(lambda: outq(client) == unsent(client), "the client's sent data to be acknowledged")

    child = None
    if where == "child":  # started first, so it is ready when the state arrives
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, "1", str(UP_SIZE), str(up_sent),
             str(DOWN_SIZE - DOWN_READ_EARLY)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    try:
        mss_before = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
        state = soccr.save(client)
        report = {
            "recv_queue_ok": state.recv_queue == down[DOWN_READ_EARLY:DOWN_SENT_EARLY],
            "send_queue_len": len(state.send_queue),
            "send_queue_ok": state.send_queue == up[up_sent - len(state.send_queue):up_sent],
            "family": state.family,
        }
        soccr.release(client)
        report["server_state_after_release"] = tcp_state(server)

        server_result: dict[str, bytes] = {}
        server_thread = threading.Thread(target=lambda: server_result.update(
            data=duplex(server, down[DOWN_SENT_EARLY:], UP_SIZE - FIRST_UP)))
        if where == "child":
            child.stdin.write(state.to_json())
            child.stdin.close()
            # The server may answer again only once the connection is back.
            report["child_restored"] = child.stdout.readline().strip()
            server_thread.start()
            out = child.stdout.read()
            report["child_rc"] = child.wait(timeout=IO_TIMEOUT)
            child_report = json.loads(out)
            report["down_ok"] = child_report["sha256"] == hashlib.sha256(
                down[DOWN_READ_EARLY:]).hexdigest()
        else:
            restored = soccr.restore(soccr.TcpState.from_dict(state.to_dict()))
            restored.settimeout(IO_TIMEOUT)
            report["restored_local"] = restored.getsockname()[:2]
            # Outside repair mode TCP_MAXSEG reports the segment size in use.
            report["mss"] = (mss_before, restored.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
            server_thread.start()
            got_down += duplex(restored, up[up_sent:], DOWN_SIZE - DOWN_READ_EARLY)
            restored.close()
            report["down_ok"] = bytes(got_down) == down
        server_thread.join()
        got_up += server_result.get("data", b"")
        report["up_ok"] = bytes(got_up) == up
        report["local_before"] = state.local[:2]
        server.close()
        return report
    finally:
        if child is not None:
            if child.poll() is None:  # a failure left it waiting
                child.kill()
                child.wait()
            child.stdin.close()
            child.stdout.close()


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("where", ["same-process", "child"])
def test_connection_moves_mid_stream_with_both_queues_full(family, host, where):
    r = in_new_netns(lambda: checkpoint_mid_stream(family, host, where))
    assert r["family"] == family
    assert r["recv_queue_ok"], "saved receive queue differs from the unread bytes"
    assert r["send_queue_len"] > 0 and r["send_queue_ok"]
    assert r["server_state_after_release"] == "ESTABLISHED", "the peer saw the close"
    if where == "child":
        assert r["child_restored"] == "restored" and r["child_rc"] == 0
    else:
        assert r["restored_local"] == r["local_before"]
        assert r["mss"][1] == r["mss"][0], "restored socket cuts segments to another size"
    assert r["down_ok"], "server -> client stream damaged"
    assert r["up_ok"], "client -> server stream damaged"


def in_flight_data_is_resent() -> dict[str, Any]:
    """Bytes the kernel thinks it sent but the peer never got are retransmitted.

    Loss is simulated: the saved state is given extra send-queue bytes that
    count as sent (unsent_len stays 0) with snd_seq moved past them, as if
    those segments had been lost on the wire when the socket was saved.
    """
    client, server = connected_pair(socket.AF_INET, "127.0.0.1")
    client.sendall(b"before ")
    assert recv_exact(server, 7) == b"before "
    wait_for(lambda: outq(client) == 0, "the server's ACK")
    state = soccr.save(client)
    assert state.send_queue == b"" and state.recv_queue == b""
    lost = stream(3, 200 << 10)
    d = state.to_dict()
    d["snd_seq"] = (state.snd_seq + len(lost)) & 0xFFFFFFFF
    d["send_queue"] = base64.b64encode(lost).decode()
    d["unsent_len"] = 0
    soccr.release(client)
    restored = soccr.restore(soccr.TcpState.from_dict(d))
    restored.settimeout(IO_TIMEOUT)
    restored.sendall(b" after")
    got = recv_exact(server, len(lost) + 6)
    server.sendall(b"reply")
    reply = recv_exact(restored, 5)
    restored.close()
    server.close()
    return {"got_ok": got == lost + b" after", "reply": reply}


def test_sent_but_unacknowledged_data_is_retransmitted_after_restore():
    r = in_new_netns(in_flight_data_is_resent)
    assert r["got_ok"]
    assert r["reply"] == b"reply"


def save_with_timeout_and_only_send_data() -> dict[str, Any]:
    """A socket with a timeout whose receive queue is empty: nothing to poll for."""
    client, server = connected_pair(socket.AF_INET, "127.0.0.1", server_rcvbuf=4096)
    sent = fill_send_queue(client, UP, 0)
    client.settimeout(IO_TIMEOUT)
    wait_for(lambda: outq(client) == unsent(client), "the sent data to be acknowledged")
    state = soccr.save(client)
    soccr.release(client, close=False)
    r = {"recv_queue": state.recv_queue, "tail_ok": UP[:sent].endswith(state.send_queue),
         "send_queue": len(state.send_queue), "timeout": client.gettimeout()}
    client.close()
    server.close()
    return r


def test_save_of_a_socket_with_a_timeout_reads_the_send_queue():
    r = in_new_netns(save_with_timeout_and_only_send_data)
    assert r["recv_queue"] == b"" and r["send_queue"] > 0 and r["tail_ok"]
    assert r["timeout"] == IO_TIMEOUT


def resume_in_place() -> dict[str, Any]:
    client, server = connected_pair(socket.AF_INET6, "::1")
    server.sendall(b"unread")
    wait_for(lambda: outq(server) == 0, "the server's data to be acknowledged")
    state = soccr.save(client.fileno())
    soccr.release(client.fileno(), close=False)
    client.sendall(b"still here")
    r = {"saved_recv": state.recv_queue, "server_got": recv_exact(server, 10),
         "client_got": recv_exact(client, 6), "state": tcp_state(client)}
    client.close()
    server.close()
    return r


def test_release_without_close_resumes_the_connection():
    r = in_new_netns(resume_in_place)
    assert r["saved_recv"] == b"unread"
    assert r["server_got"] == b"still here"
    assert r["client_got"] == b"unread"
    assert r["state"] == "ESTABLISHED"


def restore_over_a_held_port() -> dict[str, Any]:
    """The local port is still held by the listener the connection came from."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname(), timeout=IO_TIMEOUT)
        accepted, _ = srv.accept()
        fd = accepted.detach()  # a plain descriptor works as well as a socket object
        state = soccr.save(fd)  # local port == the listener's port
        soccr.release(fd)
        try:
            os.fstat(fd)
            fd_closed = False
        except OSError:
            fd_closed = True
        restored = soccr.restore(state)
        restored.settimeout(IO_TIMEOUT)
        client.sendall(b"ping")
        got = recv_exact(restored, 4)
        restored.sendall(b"pong")
        r = {"got": got, "reply": recv_exact(client, 4), "fd_closed": fd_closed,
             "same_port": restored.getsockname()[1] == srv.getsockname()[1]}
        restored.close()
        client.close()
    return r


def test_restore_binds_a_port_still_held_by_a_listener():
    r = in_new_netns(restore_over_a_held_port)
    assert r == {"got": b"ping", "reply": b"pong", "fd_closed": True, "same_port": True}


def move_through_image_file(family: int, host: str, path: str) -> dict[str, Any]:
    """Both queues hold data; the state goes through a tcp-stream image file.

    Only the image's message and queue bytes cross over, as in a CRIU dump:
    the addresses come from the socket itself, as CRIU keeps them apart.
    """
    client, server = connected_pair(family, host, server_rcvbuf=4096)
    server.sendall(D1)
    sent = fill_send_queue(client, UP, 0)
    wait_for(lambda: outq(server) == 0 and outq(client) == unsent(client), "a quiet connection")
    state = soccr.save(client)
    images.write_image(path, "TCP_STREAM", [state.to_image_queues()])
    soccr.release(client)
    (entry,) = images.read_entries(path, expect="TCP_STREAM")
    back = soccr.TcpState.from_image(entry.msg, entry.extra, family=state.family,
                                     local=state.local, peer=state.peer)
    restored = soccr.restore(back)
    restored.settimeout(IO_TIMEOUT)
    server_result: dict[str, bytes] = {}
    server_thread = threading.Thread(target=lambda: server_result.update(
        data=duplex(server, D2, len(UP))))
    server_thread.start()
    down = duplex(restored, UP[sent:], len(D1) + len(D2))
    server_thread.join()
    restored.close()
    server.close()
    return {"same_state": back == state, "queues": (len(state.recv_queue), len(state.send_queue)),
            "down_ok": down == D1 + D2, "up_ok": server_result.get("data") == UP}


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")], ids=["ipv4", "ipv6"])
def test_connection_moves_through_a_tcp_stream_image_file(family, host, tmp_path):
    r = in_new_netns(lambda: move_through_image_file(family, host, str(tmp_path / "tcp.img")))
    assert r["same_state"], "the image lost part of the state"
    assert r["queues"][0] == len(D1) and r["queues"][1] > 0, "both queues should hold data"
    assert r["down_ok"], "server -> client stream damaged"
    assert r["up_ok"], "client -> server stream damaged"


def saved_again_after_restore(family: int, host: str, options: bool) -> dict[str, Any]:
    """Save a restored socket at once: the kernel must hold exactly what was saved.

    With `options` off, the namespace's sysctls stop timestamps, SACK and
    window scaling from being negotiated, so restore must not turn them on.
    """
    if not options:
        for name in ("tcp_timestamps", "tcp_sack", "tcp_window_scaling"):
            with open(f"/proc/sys/net/ipv4/{name}", "w") as f:  # this namespace's own
                f.write("0")
    client, server = connected_pair(family, host, server_rcvbuf=4096)
    server.sendall(D1)
    fill_send_queue(client, UP, 0)
    wait_for(lambda: outq(server) == 0 and outq(client) == unsent(client), "a quiet connection")
    first = soccr.save(client)
    soccr.release(client)
    restored = soccr.restore(first)
    second = soccr.save(restored)
    soccr.release(restored)
    server.close()
    # The timestamp clock runs on between the two saves.
    ts_step = None if first.timestamp is None else (second.timestamp - first.timestamp) & 0xFFFFFFFF
    return {"first": first, "second": dataclasses.replace(second, timestamp=first.timestamp),
            "ts_step": ts_step}


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("options", [True, False], ids=["options", "no-options"])
def test_restored_socket_holds_the_saved_state(family, host, options):
    r = in_new_netns(lambda: saved_again_after_restore(family, host, options))
    first, second = r["first"], r["second"]
    negotiated = kernel.TCPI_OPT_TIMESTAMPS | kernel.TCPI_OPT_SACK | kernel.TCPI_OPT_WSCALE
    assert first.opt_mask & negotiated == (negotiated if options else 0)
    assert first.window is not None and first.recv_queue == D1 and first.unsent_len > 0
    assert second == first
    if options:
        assert r["ts_step"] < 60_000, "the timestamp clock was not carried over"
    else:
        assert r["ts_step"] is None


# -- half-closed and closing connections ----------------------------------------

D1, D2, D3 = stream(11, 40000), stream(12, 30000), stream(13, 20000)
UP = stream(14, 4 << 20)  # more than a small receive buffer and a send buffer hold
Outcome = tuple[soccr.TcpState, bool, bool]  # saved state, moved side ok, peer ok


def read_to_eof(sock: socket.socket) -> bytes:
    buf = bytearray()
    while chunk := sock.recv(1 << 20):
        buf += chunk
    return bytes(buf)


def move(sock: socket.socket) -> tuple[soccr.TcpState, socket.socket]:
    state = soccr.save(sock)
    soccr.release(sock)
    new = soccr.restore(soccr.TcpState.from_json(state.to_json()))
    new.settimeout(IO_TIMEOUT)
    return state, new


def quiet(client: socket.socket, server: socket.socket, state: str) -> Callable[[], bool]:
    """The client is in `state` and neither side is owed anything by the other."""
    return lambda: (tcp_state(client) == state and outq(server) == 0
                    and outq(client) == unsent(client))


def close_wait(client: socket.socket, server: socket.socket) -> Outcome:
    """The peer has sent data and FIN; we have read neither."""
    server.sendall(D1)
    server.shutdown(socket.SHUT_WR)
    wait_for(quiet(client, server, "CLOSE_WAIT"), "CLOSE_WAIT")
    st, new = move(client)
    with new:
        got = read_to_eof(new)
        new.sendall(D2)
    return st, got == D1, read_to_eof(server) == D2


def fin_wait2(client: socket.socket, server: socket.socket) -> Outcome:
    """We sent data and FIN, both acked; the peer's data waits unread."""
    client.sendall(D1[:1000])  # small enough for the peer's small buffer
    client.shutdown(socket.SHUT_WR)
    server.sendall(D2)
    wait_for(quiet(client, server, "FIN_WAIT2"), "FIN_WAIT2")
    st, new = move(client)
    with new:
        peer_ok = read_to_eof(server) == D1[:1000]
        server.sendall(D3)
        server.close()
        return st, read_to_eof(new) == D2 + D3, peer_ok


def fin_wait1(client: socket.socket, server: socket.socket) -> Outcome:
    """Our FIN waits behind data the peer has no room for."""
    sent = fill_send_queue(client, UP, 0)
    client.shutdown(socket.SHUT_WR)
    server.sendall(D2)
    wait_for(quiet(client, server, "FIN_WAIT1"), "FIN_WAIT1")
    st, new = move(client)
    with new:
        peer_ok = read_to_eof(server) == UP[:sent]
        server.sendall(D3)
        server.close()
        return st, read_to_eof(new) == D2 + D3, peer_ok


def last_ack(client: socket.socket, server: socket.socket) -> Outcome:
    """The peer closed its side; our FIN then waits behind unsent data."""
    server.sendall(D2)
    server.shutdown(socket.SHUT_WR)
    wait_for(lambda: tcp_state(client) == "CLOSE_WAIT", "CLOSE_WAIT")
    sent = fill_send_queue(client, UP, 0)
    client.shutdown(socket.SHUT_WR)
    wait_for(quiet(client, server, "LAST_ACK"), "LAST_ACK")
    st, new = move(client)
    with new:
        peer_ok = read_to_eof(server) == UP[:sent]
        server.close()
        return st, read_to_eof(new) == D2, peer_ok


def closing(client: socket.socket, server: socket.socket) -> Outcome:
    """Both sides sent FIN; ours is not acknowledged yet."""
    sent = fill_send_queue(client, UP, 0)
    client.shutdown(socket.SHUT_WR)
    wait_for(lambda: tcp_state(client) == "FIN_WAIT1", "FIN_WAIT1")
    server.sendall(D2)
    server.shutdown(socket.SHUT_WR)
    wait_for(quiet(client, server, "CLOSING"), "CLOSING")
    st, new = move(client)
    with new:
        peer_ok = read_to_eof(server) == UP[:sent]
        server.close()
        return st, read_to_eof(new) == D2, peer_ok


HALF_CLOSED = {"CLOSE_WAIT": close_wait, "FIN_WAIT2": fin_wait2, "FIN_WAIT1": fin_wait1,
               "LAST_ACK": last_ack, "CLOSING": closing}


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"),
                                          (socket.AF_INET6, "::1")], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("state", list(HALF_CLOSED))
def test_half_closed_connection_moves_with_its_fins(state, family, host):
    def scenario():
        client, server = connected_pair(family, host, server_rcvbuf=4096)
        try:
            st, moved_ok, peer_ok = HALF_CLOSED[state](client, server)
        finally:
            server.close()
        return st.state, moved_ok, peer_ok

    saved_state, moved_ok, peer_ok = in_new_netns(scenario)
    assert saved_state == state
    assert moved_ok, "the moved socket did not get the peer's data and FIN"
    assert peer_ok, "the peer did not get our data and FIN"


@pytest.mark.parametrize("state", ["CLOSE_WAIT", "FIN_WAIT2"])
def test_half_closed_ipv4_mapped_ipv6_connection(state):
    """An IPv6 socket talking IPv4: the replayed segment must be an IPv4 packet."""
    def scenario():
        client, server = connected_pair(socket.AF_INET6, "::ffff:127.0.0.1")
        try:
            st, moved_ok, peer_ok = HALF_CLOSED[state](client, server)
        finally:
            server.close()
        return st.state, st.family, st.local[0], moved_ok, peer_ok

    assert in_new_netns(scenario) == (state, socket.AF_INET6, "::ffff:127.0.0.1", True, True)


# -- refusals ------------------------------------------------------------------

def refusals() -> dict[str, Any]:
    r: dict[str, Any] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            soccr.save(udp)
        except soccr.NotTcpSocketError as e:
            r["udp"] = str(e)
    a, b = socket.socketpair()
    try:
        soccr.save(a.fileno())
    except soccr.NotTcpSocketError as e:
        r["unix"] = str(e)
    a.sendall(b"x")
    r["unix_usable"] = b.recv(1) == b"x"
    a.close()
    b.close()
    r_fd, w_fd = os.pipe()
    try:
        soccr.save(r_fd)
    except soccr.NotTcpSocketError as e:
        r["pipe"] = str(e)
    os.close(r_fd)
    os.close(w_fd)

    with socket.create_server(("127.0.0.1", 0)) as srv:
        try:
            soccr.save(srv)
        except soccr.NotConnectedError as e:
            r["listen"] = str(e)
        fresh = socket.socket()
        try:
            soccr.save(fresh)
        except soccr.NotConnectedError as e:
            r["fresh"] = str(e)
        # Both are still usable: the fresh socket connects, the listener accepts.
        fresh.connect(srv.getsockname())
        peer, _ = srv.accept()
        fresh.sendall(b"ok")
        r["after_refusals"] = peer.recv(2)
        peer.close()
        fresh.close()

    # A connection still being set up: the listener's accept queue is full,
    # so the kernel drops the second client's SYN and it stays in SYN_SENT.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        first = socket.create_connection(srv.getsockname(), timeout=IO_TIMEOUT)
        # tcpi_unacked (offset 24) of a listener is its accept queue length.
        wait_for(lambda: struct.unpack_from("I", srv.getsockopt(
            socket.IPPROTO_TCP, kernel.TCP_INFO, 28), 24)[0] == 1, "a full accept queue")
        second = socket.socket()
        second.setblocking(False)
        try:
            second.connect(srv.getsockname())
        except BlockingIOError:
            pass
        try:
            soccr.save(second)
        except soccr.NotConnectedError as e:
            r["syn_sent"] = str(e)
        srv.accept()[0].close()
        # Room again: the retransmitted SYN gets through, the connection completes.
        select.select([], [second], [], IO_TIMEOUT)
        r["syn_sent_later"] = tcp_state(second)
        second.close()
        first.close()

    return r


def test_refusals_name_the_reason_and_leave_sockets_usable():
    r = in_new_netns(refusals)
    assert "not a TCP socket" in r["udp"]
    assert "not a TCP socket" in r["unix"] and r["unix_usable"]
    assert "not a socket" in r["pipe"]
    assert "not connected (state LISTEN)" in r["listen"]
    assert "not connected (state CLOSE)" in r["fresh"]
    assert "not connected (state SYN_SENT)" in r["syn_sent"]
    assert r["syn_sent_later"] == "ESTABLISHED"
    assert r["after_refusals"] == b"ok"


def test_restore_refuses_a_state_it_does_not_handle():
    st = soccr.TcpState(family=socket.AF_INET, local=("127.0.0.1", 1), peer=("127.0.0.1", 2),
                        snd_seq=1, rcv_seq=1, send_queue=b"", unsent_len=0, recv_queue=b"",
                        mss_clamp=1460, opt_mask=0, state="TIME_WAIT")
    with pytest.raises(soccr.UnsupportedStateError, match="TIME_WAIT"):
        soccr.restore(st)


def restore_to_a_foreign_address() -> str:
    """The saved local address does not exist here: bind fails, nothing is sent."""
    st = soccr.TcpState(family=socket.AF_INET, local=("192.0.2.1", 1), peer=("127.0.0.2", 2),
                        snd_seq=1, rcv_seq=1, send_queue=b"", unsent_len=0, recv_queue=b"",
                        mss_clamp=1460, opt_mask=0)
    try:
        soccr.restore(st)
    except soccr.RestoreError as e:
        return str(e)
    return "restored"


def test_restore_failure_names_the_step():
    msg = in_new_netns(restore_to_a_foreign_address)
    assert msg.startswith("restore 192.0.2.1:1 -> 127.0.0.2:2: bind to 192.0.2.1:1:"), msg


NO_CAP_CHILD = textwrap.dedent("""
    import json, socket
    import soccr
    r = {"capeff": [l.split()[1] for l in open("/proc/self/status")
                    if l.startswith("CapEff")][0]}
    srv = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(srv.getsockname(), timeout=60)
    server, _ = srv.accept()
    try:
        soccr.save(client)
    except soccr.RepairPermissionError as e:
        r["save"] = str(e)
    client.sendall(b"ping")
    r["server_got"] = server.recv(4).decode()
    server.sendall(b"pong")
    r["client_got"] = client.recv(4).decode()
    st = soccr.TcpState(family=socket.AF_INET, local=("127.0.0.1", 1), peer=("127.0.0.1", 2),
                        snd_seq=1, rcv_seq=1, send_queue=b"", unsent_len=0, recv_queue=b"",
                        mss_clamp=1460, opt_mask=0)
    try:
        soccr.restore(st)
    except soccr.RepairPermissionError as e:
        r["restore"] = str(e)
    print(json.dumps(r))
""")


def run_without_net_admin() -> dict[str, Any]:
    out = subprocess.run(
        ["setpriv", "--inh-caps", "-net_admin", "--bounding-set", "-net_admin",
         sys.executable, "-c", NO_CAP_CHILD],
        capture_output=True, text=True, cwd=ROOT, timeout=IO_TIMEOUT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_without_cap_net_admin_save_and_restore_refuse_and_socket_stays_usable():
    r = in_new_netns(run_without_net_admin)
    assert not int(r["capeff"], 16) & (1 << 12), "CAP_NET_ADMIN was not dropped"
    assert "CAP_NET_ADMIN" in r["save"] and "TCP repair mode refused" in r["save"]
    assert r["server_got"] == "ping" and r["client_got"] == "pong"
    assert r["restore"].startswith("restore 127.0.0.1:1 -> 127.0.0.1:2: TCP repair mode refused")
    assert "CAP_NET_ADMIN" in r["restore"]


NO_RAW_CHILD = textwrap.dedent("""
    import json, socket, time
    import soccr
    srv = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(srv.getsockname(), timeout=60)
    server, _ = srv.accept()
    server.sendall(b"bye")
    server.shutdown(socket.SHUT_WR)
    def state(s):
        return soccr.kernel.state_name(s.getsockopt(socket.IPPROTO_TCP, 11, 8)[0])
    deadline = time.monotonic() + 60
    while (state(client), state(server)) != ("CLOSE_WAIT", "FIN_WAIT2") \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    saved = soccr.save(client)
    soccr.release(client)
    r = {"saved": saved.state}
    try:
        soccr.restore(saved)
    except soccr.RestoreError as e:
        r["restore"] = str(e)
    r["peer"] = state(server)
    print(json.dumps(r))
""")


def restore_half_closed_without_net_raw() -> dict[str, Any]:
    out = subprocess.run(
        ["setpriv", "--inh-caps", "-net_raw", "--bounding-set", "-net_raw",
         sys.executable, "-c", NO_RAW_CHILD],
        capture_output=True, text=True, cwd=ROOT, timeout=IO_TIMEOUT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_half_closed_restore_without_cap_net_raw_names_it_and_sends_nothing():
    r = in_new_netns(restore_half_closed_without_net_raw)
    assert r["saved"] == "CLOSE_WAIT"
    assert "replay the peer's FIN (state CLOSE_WAIT)" in r["restore"]
    assert "CAP_NET_RAW is needed" in r["restore"]
    assert r["peer"] == "FIN_WAIT2", "the peer saw the failed restore"
