"""TcpState: everything needed to recreate one TCP connection, as plain data.

The same object serves three audiences: Python callers (attributes), other
processes or machines (to_dict()/JSON), and CRIU (the tcp_stream_entry image
message plus the queue bytes that follow it in CRIU's image file).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
from collections.abc import Mapping
from typing import Any

from . import kernel
from .errors import StateFormatError

FORMAT_VERSION = 1
_U32 = 0xFFFFFFFF
_FAMILY_NAMES: dict[int, str] = {socket.AF_INET: "inet",
                                 socket.AF_INET6: "inet6"}
_FAMILIES = {name: number for number, name in _FAMILY_NAMES.items()}

Address = tuple  # (host, port) for IPv4; (host, port, flowinfo, scope_id) for IPv6


@dataclasses.dataclass(frozen=True)
class TcpWindow:
    """Window bookkeeping of a connection (TCP_REPAIR_WINDOW).

    Without it a restored socket starts from a guessed window and may send
    more than the peer allows, or advertise a window that shrinks.
    """

    snd_wl1: int
    snd_wnd: int
    max_window: int
    rcv_wnd: int
    rcv_wup: int

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TcpWindow:
        return cls(**{f.name: _u32(d, f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class TcpState:
    """The saved state of one connected TCP socket.

    Sequence numbers follow CRIU's tcp-stream image: `snd_seq` is the sequence
    number after the last byte the application wrote (write_seq, the image's
    outq_seq) and `rcv_seq` the one after the last byte received (rcv_nxt,
    the image's inq_seq). `send_queue` holds the bytes written but not yet
    acknowledged by the peer; its last `unsent_len` bytes were never put on
    the wire. `recv_queue` holds the bytes received but not yet read.
    """

    family: int
    local: Address
    peer: Address
    snd_seq: int
    rcv_seq: int
    send_queue: bytes
    unsent_len: int
    recv_queue: bytes
    mss_clamp: int
    opt_mask: int
    snd_wscale: int = 0
    rcv_wscale: int = 0
    timestamp: int | None = None
    window: TcpWindow | None = None
    nodelay: bool = False
    cork: bool = False
    state: str = "ESTABLISHED"

    def __post_init__(self) -> None:
        if self.family not in _FAMILY_NAMES:
            raise StateFormatError(f"unsupported address family {self.family}")
        if not 0 <= self.unsent_len <= len(self.send_queue):
            raise StateFormatError(
                f"unsent_len {self.unsent_len} is outside the send queue "
                f"({len(self.send_queue)} bytes)")
        for name in ("snd_seq", "rcv_seq", "mss_clamp", "opt_mask"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= _U32:
                raise StateFormatError(f"{name} must be a 32-bit unsigned integer, got {value!r}")
        for name in ("snd_wscale", "rcv_wscale"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= kernel.TCP_MAX_WSCALE:
                raise StateFormatError(f"{name} must be 0..{kernel.TCP_MAX_WSCALE}, got {value!r}")

    # Options the connection negotiated, from the TCPI_OPT_ bits.
    @property
    def sack(self) -> bool:
        return bool(self.opt_mask & kernel.TCPI_OPT_SACK)

    @property
    def timestamps(self) -> bool:
        return bool(self.opt_mask & kernel.TCPI_OPT_TIMESTAMPS)

    @property
    def window_scaling(self) -> bool:
        return bool(self.opt_mask & kernel.TCPI_OPT_WSCALE)

    @property
    def sent_queue(self) -> bytes:
        """The part of the send queue that was on the wire (sent, not acked)."""
        return self.send_queue[:len(self.send_queue) - self.unsent_len]

    @property
    def unsent_queue(self) -> bytes:
        """The part of the send queue the kernel never transmitted."""
        return self.send_queue[len(self.send_queue) - self.unsent_len:]

    # -- dict / JSON ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (queues as base64 text)."""
        return {
            "version": FORMAT_VERSION,
            "family": _FAMILY_NAMES[self.family],
            "state": self.state,
            "local": _address_to_dict(self.local),
            "peer": _address_to_dict(self.peer),
            "snd_seq": self.snd_seq,
            "rcv_seq": self.rcv_seq,
            "send_queue": base64.b64encode(self.send_queue).decode("ascii"),
            "unsent_len": self.unsent_len,
            "recv_queue": base64.b64encode(self.recv_queue).decode("ascii"),
            "mss_clamp": self.mss_clamp,
            "opt_mask": self.opt_mask,
            "snd_wscale": self.snd_wscale,
            "rcv_wscale": self.rcv_wscale,
            "timestamp": self.timestamp,
            "window": self.window.to_dict() if self.window else None,
            "nodelay": self.nodelay,
            "cork": self.cork,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TcpState:
        """Inverse of to_dict(); raises StateFormatError on malformed input."""
        if not isinstance(d, dict):
            raise StateFormatError(f"a TCP state must be a dict, got {type(d).__name__}")
        if d.get("version") != FORMAT_VERSION:
            raise StateFormatError(f"unsupported TCP state version {d.get('version')!r}")
        try:
            family = _FAMILIES[d["family"]]
            window = d.get("window")
            timestamp = d.get("timestamp")
            return cls(
                family=family,
                local=_address_from_dict(d["local"], family),
                peer=_address_from_dict(d["peer"], family),
                snd_seq=_u32(d, "snd_seq"),
                rcv_seq=_u32(d, "rcv_seq"),
                send_queue=base64.b64decode(d["send_queue"], validate=True),
                unsent_len=_u32(d, "unsent_len"),
                recv_queue=base64.b64decode(d["recv_queue"], validate=True),
                mss_clamp=_u32(d, "mss_clamp"),
                opt_mask=_u32(d, "opt_mask"),
                snd_wscale=_u32(d, "snd_wscale"),
                rcv_wscale=_u32(d, "rcv_wscale"),
                timestamp=None if timestamp is None else _u32(d, "timestamp"),
                window=None if window is None else TcpWindow.from_dict(window),
                nodelay=bool(d.get("nodelay", False)),
                cork=bool(d.get("cork", False)),
                state=str(d.get("state", "ESTABLISHED")),
            )
        except StateFormatError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise StateFormatError(f"malformed TCP state: {type(e).__name__}: {e}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> TcpState:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise StateFormatError(f"TCP state is not valid JSON: {e}") from None
        return cls.from_dict(d)

    # -- CRIU's tcp-stream image ---------------------------------------------

    def to_image(self) -> tuple[Any, bytes]:
        """This state as CRIU's tcp_stream_entry message and the bytes after it.

        CRIU's tcp-stream image holds the message, then the receive queue,
        then the send queue; the second element is those queue bytes. The
        addresses and TCP state are not part of this image (CRIU keeps them
        in the inet socket entry).
        """
        pb = _tcp_stream_pb2()
        entry = pb.tcp_stream_entry(
            inq_len=len(self.recv_queue),
            inq_seq=self.rcv_seq,
            outq_len=len(self.send_queue),
            outq_seq=self.snd_seq,
            opt_mask=self.opt_mask,
            snd_wscale=self.snd_wscale,
            mss_clamp=self.mss_clamp,
            rcv_wscale=self.rcv_wscale,
            cork=self.cork,
            nodelay=self.nodelay,
            unsq_len=self.unsent_len,
        )
        if self.timestamp is not None:
            entry.timestamp = self.timestamp
        if self.window is not None:
            for name, value in self.window.to_dict().items():
                setattr(entry, name, value)
        return entry, self.recv_queue + self.send_queue

    def to_image_queues(self) -> tuple[Any, dict[str, bytes]]:
        """Like to_image(), with the queues apart: {"inq": ..., "outq": ...}.

        This is the form the images package reads and writes for TCP_STREAM
        entries, e.g. images.write_image(path, "TCP_STREAM", [state.to_image_queues()]).
        """
        entry, _ = self.to_image()
        return entry, {"inq": self.recv_queue, "outq": self.send_queue}

    @classmethod
    def from_image(cls, entry: Any, extra: bytes | Mapping[str, bytes], *, family: int, local: Address,
                   peer: Address, state: str = "ESTABLISHED") -> TcpState:
        """Inverse of to_image(); addresses and state come from elsewhere.

        `extra` is the queue data that follows the message in the image: the
        receive queue (inq_len bytes) then the send queue (outq_len bytes),
        as one bytes object or as the images package's {"inq", "outq"} dict.
        """
        if isinstance(extra, Mapping):
            try:
                extra = bytes(extra["inq"]) + bytes(extra["outq"])
            except (KeyError, TypeError) as e:
                raise StateFormatError(f"tcp-stream queues: expected inq and outq bytes: {e}") from None
        need = entry.inq_len + entry.outq_len
        if len(extra) != need:
            raise StateFormatError(
                f"tcp-stream queues: expected {need} bytes "
                f"(inq {entry.inq_len} + outq {entry.outq_len}), got {len(extra)}")
        has_window = all(entry.HasField(f.name) for f in dataclasses.fields(TcpWindow))
        return cls(
            family=family,
            local=tuple(local),
            peer=tuple(peer),
            snd_seq=entry.outq_seq,
            rcv_seq=entry.inq_seq,
            send_queue=bytes(extra[entry.inq_len:]),
            unsent_len=entry.unsq_len if entry.HasField("unsq_len") else 0,
            recv_queue=bytes(extra[:entry.inq_len]),
            mss_clamp=entry.mss_clamp,
            opt_mask=entry.opt_mask,
            snd_wscale=entry.snd_wscale,
            rcv_wscale=entry.rcv_wscale,
            timestamp=entry.timestamp if entry.HasField("timestamp") else None,
            window=TcpWindow(**{f.name: getattr(entry, f.name)
                                for f in dataclasses.fields(TcpWindow)}) if has_window else None,
            nodelay=entry.nodelay,
            cork=entry.cork,
            state=state,
        )


def _tcp_stream_pb2() -> Any:
    """The generated tcp-stream module, imported only when images are used."""
    try:
        from images.pb import tcp_stream_pb2
    except ImportError as e:
        raise StateFormatError(
            f"the images package (images.pb.tcp_stream_pb2) is needed for image conversion: {e}"
        ) from None
    return tcp_stream_pb2


def _u32(d: dict[str, Any], key: str) -> int:
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32:
        raise StateFormatError(f"{key} must be a 32-bit unsigned integer, got {value!r}")
    return value


def _address_to_dict(addr: Address) -> dict[str, Any]:
    d: dict[str, Any] = {"host": addr[0], "port": addr[1]}
    if len(addr) == 4:
        d["flowinfo"] = addr[2]
        d["scope_id"] = addr[3]
    return d


def _address_from_dict(d: dict[str, Any], family: int) -> Address:
    host, port = str(d["host"]), int(d["port"])
    if not 0 <= port <= 0xFFFF:
        raise StateFormatError(f"port out of range: {port}")
    try:
        socket.inet_pton(family, host)
    except OSError:
        raise StateFormatError(f"{host!r} is not an {_FAMILY_NAMES[family]} address") from None
    if family == socket.AF_INET6:
        return (host, port, int(d.get("flowinfo", 0)), int(d.get("scope_id", 0)))
    return (host, port)
