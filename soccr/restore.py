"""restore(): recreate a saved connection in a new socket.

Order matters, because the kernel only accepts each step in a given state:
sequence numbers only before connect(); options only after connect() and
before any data; the window only once the receive queue (and so rcv_nxt)
is back. Data the original had put on the wire goes back in repair mode,
so the kernel counts it as sent and retransmits it until the peer acks;
data never transmitted is written normally after repair mode ends.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

from . import inject, kernel, repair
from .errors import RestoreError, SoccrError, StateFormatError, UnsupportedStateError
from .state import TcpState

_STATE_WAIT = 5.0  # seconds for a locally injected segment to be processed (normally at once)


def restore(state: TcpState) -> socket.socket:
    """A new connected socket that carries the saved connection on.

    Needs CAP_NET_ADMIN, and CAP_NET_RAW for a half-closed connection
    (its FINs are replayed through a raw socket). The local address may
    still be held by another socket (for instance a listener): repair mode
    binds regardless. The peer must not have seen the original go away,
    i.e. it was released with close=True and no packet of the peer was
    answered in between.
    """
    if not isinstance(state, TcpState):
        raise StateFormatError(
            f"restore() takes a soccr.TcpState, got {type(state).__name__} "
            f"(TcpState.from_dict/from_json/from_image make one)")
    if state.state not in kernel.CONNECTED_STATES:
        raise UnsupportedStateError(
            f"cannot restore a connection in TCP state {state.state}", state.state)
    s = socket.socket(state.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        repair.repair_on(s, where=f"restore {repair.endpoint(state.local)} -> "
                                  f"{repair.endpoint(state.peer)}")
        _rebuild(s, state)
    except BaseException:
        _discard(s)
        raise
    return s


def _rebuild(s: socket.socket, st: TcpState) -> None:
    where = f"{repair.endpoint(st.local)} -> {repair.endpoint(st.peer)}"
    fin_sent = st.state in kernel.FIN_SENT_STATES
    fin_received = st.state in kernel.FIN_RECEIVED_STATES
    # Once our FIN is queued nothing can be written after it, so then the
    # whole send queue goes back as sent; the kernel retransmits what the
    # peer lacks. Otherwise only what was on the wire is restored as sent.
    sent, unsent = (st.send_queue, b"") if fin_sent else (st.sent_queue, st.unsent_queue)
    # Sequence numbers at the head of each queue; the FINs come back later.
    send_head = st.snd_seq - fin_sent - len(st.send_queue)
    recv_head = st.rcv_seq - fin_received - len(st.recv_queue)

    with _step(where, "size the socket buffers"):
        repair.ensure_buffer(s, socket.SO_SNDBUF, kernel.SO_SNDBUFFORCE, len(st.send_queue))
        repair.ensure_buffer(s, socket.SO_RCVBUF, kernel.SO_RCVBUFFORCE, len(st.recv_queue))
    # The queue writes below advance these to the saved snd_seq / rcv_seq.
    with _step(where, "set the sequence numbers"):
        repair.set_queue_seq(s, kernel.TCP_SEND_QUEUE, send_head)
        repair.set_queue_seq(s, kernel.TCP_RECV_QUEUE, recv_head)
    # Repair mode lets bind() share a port still held by others (a listener,
    # a socket in TIME_WAIT). Setting SO_REUSEADDR now would cancel that.
    with _step(where, f"bind to {repair.endpoint(st.local)}"):
        s.bind(st.local)
    with _step(where, f"connect to {repair.endpoint(st.peer)} in repair mode"):
        s.connect(st.peer)
    with _step(where, "restore the TCP options"):
        repair.set_options(s, _repair_options(st))
        if st.timestamps and st.timestamp is not None:
            repair.set_uint(s, kernel.TCP_TIMESTAMP, st.timestamp)
    with _step(where, f"restore the receive queue ({len(st.recv_queue)} bytes)"):
        repair.fill_queue(s, kernel.TCP_RECV_QUEUE, st.recv_queue)
    if st.window is not None:
        with _step(where, "restore the window"):
            w = st.window
            # Until the peer's FIN is back, rcv_nxt is one short: move the
            # window's left edge back by one, keeping its right edge.
            repair.set_window(s, kernel.TcpRepairWindow(
                w.snd_wl1, w.snd_wnd, w.max_window,
                (w.rcv_wnd + fin_received) & 0xFFFFFFFF, (w.rcv_wup - fin_received) & 0xFFFFFFFF))
    # Segments are cut to the size computed at connect() from the default
    # MSS clamp; compute it again from the restored clamp and window before
    # the send queue is cut into segments.
    with _step(where, "recompute the segment size"):
        repair.resync_mss(s)
    with _step(where, f"restore the sent, unacknowledged data ({len(sent)} bytes)"):
        repair.fill_queue(s, kernel.TCP_SEND_QUEUE, sent)
    with _step(where, f"restore the FINs of state {st.state}"):
        _restore_fins(s, st, send_head, where)
    with _step(where, "restore TCP_NODELAY/TCP_CORK"):
        repair.set_uint(s, kernel.TCP_NODELAY, int(st.nodelay))
        repair.set_uint(s, kernel.TCP_CORK, int(st.cork))
    with _step(where, "leave repair mode"):
        repair.select_queue(s, kernel.TCP_NO_QUEUE)
        repair.repair_off(s)
    if unsent:
        with _step(where, f"queue the unsent data ({len(unsent)} bytes)"):
            s.sendall(unsent)


def _restore_fins(s: socket.socket, st: TcpState, send_head: int, where: str) -> None:
    """Bring an ESTABLISHED socket to the saved half-closed state.

    Our FIN is queued by shutdown() with the send queue selected, so the
    kernel counts it as sent. The peer's FIN, and the peer's ACK of our FIN,
    are delivered as segments from the peer's address (see inject.py).
    Order follows the state diagram: FIN_WAIT1 + peer FIN = CLOSING;
    CLOSE_WAIT + our FIN = LAST_ACK; FIN_WAIT1 + ACK of our FIN = FIN_WAIT2.
    """
    if st.state == "ESTABLISHED":
        return
    window = st.window.snd_wnd >> st.snd_wscale if st.window else 0xFFFF
    if st.state in ("FIN_WAIT1", "FIN_WAIT2", "CLOSING"):
        _queue_fin(s)
        _expect_state(s, "FIN_WAIT1", where)
    if st.state in kernel.FIN_RECEIVED_STATES:
        _replay(st, where, "the peer's FIN", seq=st.rcv_seq - 1, ack=send_head,
                flags=inject.TCP_FIN | inject.TCP_ACK, window=window)
        _expect_state(s, "CLOSING" if st.state == "CLOSING" else "CLOSE_WAIT", where)
    if st.state == "LAST_ACK":
        _queue_fin(s)
    if st.state == "FIN_WAIT2":
        _replay(st, where, "the peer's ACK of our FIN", seq=st.rcv_seq, ack=st.snd_seq,
                flags=inject.TCP_ACK, window=window)
    _expect_state(s, st.state, where)


def _replay(st: TcpState, where: str, what: str, **segment: int) -> None:
    """Deliver one segment of the peer's; without CAP_NET_RAW say so, not just EPERM."""
    try:
        inject.send_segment(st.family, st.local, st.peer, **segment)
    except PermissionError:
        raise RestoreError(
            f"restore {where}: replay {what} (state {st.state}) through a raw socket: "
            f"CAP_NET_RAW is needed") from None


def _queue_fin(s: socket.socket) -> None:
    repair.select_queue(s, kernel.TCP_SEND_QUEUE)
    s.shutdown(socket.SHUT_WR)


def _expect_state(s: socket.socket, name: str, where: str) -> None:
    """Wait until the kernel has processed an injected segment (it is local)."""
    deadline = time.monotonic() + _STATE_WAIT
    while True:
        now = kernel.state_name(repair.tcp_info(s).tcpi_state)
        if now == name:
            return
        if time.monotonic() > deadline:
            raise RestoreError(f"restore {where}: the new socket is in state {now} "
                               f"instead of {name}")
        time.sleep(0.001)


def _repair_options(st: TcpState) -> list[kernel.TcpRepairOpt]:
    """The negotiated options, as TCP_REPAIR_OPTIONS takes them."""
    opts = [kernel.TcpRepairOpt(kernel.TCPOPT_MAXSEG, st.mss_clamp)]
    if st.sack:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_SACK_PERM, 0))
    if st.window_scaling:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_WINDOW, st.snd_wscale | st.rcv_wscale << 16))
    if st.timestamps:
        opts.append(kernel.TcpRepairOpt(kernel.TCPOPT_TIMESTAMP, 0))
    return opts


@contextlib.contextmanager
def _step(where: str, what: str) -> Iterator[None]:
    """Name the step that failed: 'restore A -> B: bind to A: Address in use'."""
    try:
        yield
    except SoccrError:
        raise
    except OSError as e:
        raise RestoreError(f"restore {where}: {what}: {e.strerror or e}") from None


def _discard(s: socket.socket) -> None:
    """Close a half-built socket silently: in repair mode nothing reaches the peer."""
    try:
        repair.repair_on(s)
    except (OSError, SoccrError):
        pass
    s.close()
