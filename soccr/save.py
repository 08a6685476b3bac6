"""save() and release(): read a live connection's state, then let it go.

save() freezes the socket in TCP repair mode (the kernel stops treating
the application's calls as traffic) and reads every part of the state CRIU
keeps: sequence numbers, both queues, negotiated options, window, timestamp.
release() either closes the socket while still in repair mode, which tells
the peer nothing, or leaves repair mode so the connection simply goes on.
"""

from __future__ import annotations

import socket

from . import kernel, repair
from .errors import NotConnectedError, UnstableStateError, UnsupportedStateError
from .sockref import SocketLike, borrowed, close as close_socket
from .state import TcpState, TcpWindow

# States in which a socket has no connection to save.
_NOT_CONNECTED = {"LISTEN", "CLOSE", "SYN_SENT", "SYN_RECV", "NEW_SYN_RECV"}
# States with a FIN of ours in the send queue that the peer has not acknowledged.
_FIN_UNACKED = kernel.FIN_SENT_STATES - kernel.FIN_ACKED_STATES
_SNAPSHOT_TRIES = 5


def check_state(sock: socket.socket, number: int) -> str:
    """The state's name, if soccr can save it; otherwise raise."""
    name = kernel.state_name(number)
    if name in kernel.CONNECTED_STATES:
        return name
    where = repair.describe(sock)
    if name in _NOT_CONNECTED:
        raise NotConnectedError(f"{where}: TCP socket is not connected (state {name})")
    raise UnsupportedStateError(
        f"{where}: TCP state {name} is not supported; soccr saves ESTABLISHED, "
        f"FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK and CLOSING connections", name)


def save(sock: SocketLike) -> TcpState:
    """Put a connected TCP socket into repair mode and read its whole state.

    The socket stays in repair mode afterwards, so that nothing changes
    before release(). On any error the socket is taken out of repair mode
    again (or was never put into it) and remains usable.
    """
    with borrowed(sock) as s:
        repair.check_tcp(s)
        check_state(s, repair.tcp_info(s).tcpi_state)
        try:
            local, peer = s.getsockname(), s.getpeername()
        except OSError as e:
            raise NotConnectedError(f"{repair.describe(s)}: {e.strerror}") from None
        repair.repair_on(s)
        try:
            return _snapshot(s, local, peer)
        except BaseException:
            _leave_repair_quietly(s)
            raise


def release(sock: SocketLike, close: bool = True) -> None:
    """Let go of a saved socket.

    close=True closes it in repair mode: the kernel drops the connection
    without sending FIN or RST, so the peer keeps its side open for the
    restored socket. close=False leaves repair mode (with a window probe
    that resynchronises the peer) and the connection goes on unchanged.
    """
    with borrowed(sock) as s:
        repair.check_tcp(s)
        if close:
            repair.repair_on(s)
        else:
            repair.repair_off(s)
    if close:
        close_socket(sock)


def _snapshot(s: socket.socket, local: tuple, peer: tuple) -> TcpState:
    """Read the state until two reads agree (packets may still be arriving)."""
    for _ in range(_SNAPSHOT_TRIES):
        info = repair.tcp_info(s)
        state = check_state(s, info.tcpi_state)
        rcv_seq = repair.get_queue_seq(s, kernel.TCP_RECV_QUEUE)
        # SIOCINQ already leaves out a received FIN; MSG_PEEK stops before it.
        inq = repair.queue_size(s, kernel.SIOCINQ)
        recv_queue = repair.peek_queue(s, kernel.TCP_RECV_QUEUE, inq)
        snd_seq = repair.get_queue_seq(s, kernel.TCP_SEND_QUEUE)
        outq = repair.queue_size(s, kernel.SIOCOUTQ)
        unsent = repair.queue_size(s, kernel.SIOCOUTQNSD)
        # A FIN of ours counts in SIOCOUTQ until acked (and in SIOCOUTQNSD
        # until sent) but carries no data: it is always the last in the queue.
        data_len = outq - 1 if state in _FIN_UNACKED and outq else outq
        unsent_data = unsent - 1 if state in kernel.FIN_SENT_STATES and unsent else unsent
        send_queue = repair.peek_queue(s, kernel.TCP_SEND_QUEUE, data_len)
        window = repair.get_window(s)
        stable = (
            len(recv_queue) == inq and len(send_queue) == data_len
            and repair.get_queue_seq(s, kernel.TCP_RECV_QUEUE) == rcv_seq
            and repair.queue_size(s, kernel.SIOCINQ) == inq
            and repair.queue_size(s, kernel.SIOCOUTQ) == outq
            and repair.queue_size(s, kernel.SIOCOUTQNSD) == unsent
            and repair.tcp_info(s).tcpi_state == info.tcpi_state
        )
        if stable:
            break
    else:
        raise UnstableStateError(
            f"{repair.describe(s)}: the connection kept changing while being saved; "
            f"stop the peer's traffic (lock the network) and retry")
    repair.select_queue(s, kernel.TCP_NO_QUEUE)

    timestamp = None
    if info.tcpi_options & kernel.TCPI_OPT_TIMESTAMPS:
        timestamp = repair.get_uint(s, kernel.TCP_TIMESTAMP)
    wscale = bool(info.tcpi_options & kernel.TCPI_OPT_WSCALE)
    return TcpState(
        family=s.family,
        local=local,
        peer=peer,
        snd_seq=snd_seq,
        rcv_seq=rcv_seq,
        send_queue=send_queue,
        unsent_len=unsent_data,
        recv_queue=recv_queue,
        # In repair mode TCP_MAXSEG reports the MSS clamp, which restore sets.
        mss_clamp=repair.get_uint(s, kernel.TCP_MAXSEG),
        opt_mask=info.tcpi_options,
        snd_wscale=info.tcpi_snd_wscale if wscale else 0,
        rcv_wscale=info.tcpi_rcv_wscale if wscale else 0,
        timestamp=timestamp,
        window=None if window is None else TcpWindow(
            window.snd_wl1, window.snd_wnd, window.max_window, window.rcv_wnd, window.rcv_wup),
        nodelay=bool(repair.get_uint(s, kernel.TCP_NODELAY)),
        cork=bool(repair.get_uint(s, kernel.TCP_CORK)),
        state=state,
    )


def _leave_repair_quietly(s: socket.socket) -> None:
    """Undo repair mode after a failed save; the original error is what matters."""
    try:
        repair.select_queue(s, kernel.TCP_NO_QUEUE)
        repair.repair_off(s)
    except OSError:
        pass
