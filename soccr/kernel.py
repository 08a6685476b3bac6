"""Kernel interface of TCP repair: constants and structs, declared once.

These are the numbers from <linux/tcp.h>, <linux/sockios.h> and
<asm-generic/socket.h> that Python's socket module does not export, and the
structs exchanged with getsockopt/setsockopt, packed with the struct
module. soccr stands alone (it does not use compel's native layer, and
needs no ctypes: it makes no raw calls), so it keeps its own small copy here.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
from typing import ClassVar

SOL_TCP = socket.IPPROTO_TCP

# TCP socket options (linux/tcp.h).
TCP_MAXSEG = 2
TCP_NODELAY = 1
TCP_CORK = 3
TCP_INFO = 11
TCP_REPAIR = 19
TCP_REPAIR_QUEUE = 20
TCP_QUEUE_SEQ = 21
TCP_REPAIR_OPTIONS = 22
TCP_TIMESTAMP = 24
TCP_REPAIR_WINDOW = 29

# Values of TCP_REPAIR.
TCP_REPAIR_ON = 1
TCP_REPAIR_OFF = 0
TCP_REPAIR_OFF_NO_WP = -1  # leave repair mode without sending a window probe

# Values of TCP_REPAIR_QUEUE.
TCP_NO_QUEUE = 0
TCP_RECV_QUEUE = 1
TCP_SEND_QUEUE = 2

# Option codes of TCP_REPAIR_OPTIONS (the TCP header option kinds).
TCPOPT_MAXSEG = 2
TCPOPT_WINDOW = 3
TCPOPT_SACK_PERM = 4
TCPOPT_TIMESTAMP = 8

# Bits of tcp_info.tcpi_options; CRIU's tcp-stream image keeps them as opt_mask.
TCPI_OPT_TIMESTAMPS = 1
TCPI_OPT_SACK = 2
TCPI_OPT_WSCALE = 4
TCPI_OPT_ECN = 8

# Largest window scale the kernel accepts (TCP_MAX_WSCALE).
TCP_MAX_WSCALE = 14

# Queue size ioctls (linux/sockios.h): bytes unread, bytes not acked, bytes not sent.
SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
SIOCOUTQNSD = 0x894B

# IPv6 sticky options as control messages (linux/in6.h); see repair.resync_mss.
IPV6_2292PKTOPTIONS = 6

# Socket buffer sizes beyond net.core.[rw]mem_max (need CAP_NET_ADMIN).
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33

# TCP states (include/net/tcp_states.h), by number.
TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
TCP_ESTABLISHED = 1

# Half-closed and closing states, by what happened to the FINs. A FIN takes
# one sequence number: snd_seq (write_seq) and rcv_seq (rcv_nxt) include it.
FIN_SENT_STATES = frozenset({"FIN_WAIT1", "FIN_WAIT2", "CLOSING", "LAST_ACK"})
FIN_ACKED_STATES = frozenset({"FIN_WAIT2"})
FIN_RECEIVED_STATES = frozenset({"CLOSE_WAIT", "CLOSING", "LAST_ACK"})
CONNECTED_STATES = frozenset({"ESTABLISHED"}) | FIN_SENT_STATES | FIN_RECEIVED_STATES


@dataclasses.dataclass(frozen=True)
class TcpRepairOpt:
    """One option for TCP_REPAIR_OPTIONS (an array of these is passed).

    struct tcp_repair_opt {
            __u32   opt_code;
            __u32   opt_val;
    };
    """

    opt_code: int
    opt_val: int

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("=II")

    def pack(self) -> bytes:
        return self.LAYOUT.pack(self.opt_code, self.opt_val)


@dataclasses.dataclass(frozen=True)
class TcpRepairWindow:
    """Window state read and written with TCP_REPAIR_WINDOW.

    struct tcp_repair_window {
            __u32   snd_wl1;
            __u32   snd_wnd;
            __u32   max_window;
            __u32   rcv_wnd;
            __u32   rcv_wup;
    };
    """

    snd_wl1: int
    snd_wnd: int
    max_window: int
    rcv_wnd: int
    rcv_wup: int

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("=5I")

    def pack(self) -> bytes:
        return self.LAYOUT.pack(self.snd_wl1, self.snd_wnd, self.max_window,
                                self.rcv_wnd, self.rcv_wup)

    @classmethod
    def unpack(cls, raw: bytes) -> TcpRepairWindow:
        return cls(*cls.LAYOUT.unpack(raw))


@dataclasses.dataclass(frozen=True)
class TcpInfoHead:
    """The leading part of struct tcp_info that soccr reads (TCP_INFO).

    The kernel copies min(optlen, sizeof(struct tcp_info)) bytes, so asking
    for this prefix only is valid on every kernel. The two wscale nibbles
    share one byte, snd in the low half (bit-fields fill from the least
    significant bit on little-endian Linux ABIs).

    struct tcp_info {
            __u8    tcpi_state;
            __u8    tcpi_ca_state;
            __u8    tcpi_retransmits;
            __u8    tcpi_probes;
            __u8    tcpi_backoff;
            __u8    tcpi_options;
            __u8    tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
            __u8    tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2;

            __u32   tcpi_rto;
            __u32   tcpi_ato;
            __u32   tcpi_snd_mss;
            __u32   tcpi_rcv_mss;
            ...
    };
    """

    tcpi_state: int
    tcpi_options: int
    tcpi_snd_wscale: int
    tcpi_rcv_wscale: int
    tcpi_rto: int
    tcpi_snd_mss: int

    # state, ca_state, retransmits, probes, backoff, options, wscales, flags;
    # rto, ato, snd_mss, rcv_mss.
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("=8B4I")

    @classmethod
    def unpack(cls, raw: bytes) -> TcpInfoHead:
        """Parse the prefix; a shorter answer (older kernel) reads as zeros."""
        (state, _ca, _retrans, _probes, _backoff, options, wscales, _flags,
         rto, _ato, snd_mss, _rcv_mss) = cls.LAYOUT.unpack(raw[:cls.LAYOUT.size].ljust(
             cls.LAYOUT.size, b"\0"))
        return cls(state, options, wscales & 0xF, wscales >> 4, rto, snd_mss)


def state_name(number: int) -> str:
    """The kernel's name of a TCP state number, for messages."""
    return TCP_STATES.get(number, f"unknown state {number}")
