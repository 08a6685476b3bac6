"""What each image type holds: its entry message(s) and any raw payload.

Every image type names its protobuf message lazily (generated module + message
name), so an image type whose schema is not built only fails itself. Some
entries are followed by raw bytes whose size the entry gives ("payload", shown
by crit as "extra"): pipe and fifo buffered data, socket queues, TCP stream
queues, ghost file contents, SysV IPC contents, BPF map data.
"""

from __future__ import annotations

import abc
import base64
import importlib
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from google.protobuf.message import DecodeError, Message

from . import pb2dict
from .errors import CorruptedEntry, SchemaMissing
from .stream import ByteReader, pack_u32

PB_PACKAGE = "images.pb"


@dataclass(frozen=True)
class MessageRef:
    """A protobuf message named by generated module and message name."""

    module: str
    name: str

    def cls(self, path: str = "", offset: int | None = None) -> type[Message]:
        try:
            mod = importlib.import_module(f"{PB_PACKAGE}.{self.module}")
        except ImportError as exc:
            raise SchemaMissing(path, offset,
                                f"schema {self.module} for {self.name} is not built ({exc})") from None
        try:
            return getattr(mod, self.name)
        except AttributeError:
            raise SchemaMissing(path, offset,
                                f"schema {self.module} has no message {self.name}") from None


def parse_message(ref: MessageRef, data: bytes, path: str, offset: int) -> Message:
    msg = ref.cls(path, offset)()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise CorruptedEntry(path, offset,
                             f"{len(data)}-byte entry is not a valid {ref.name}: {exc}") from None
    if not msg.IsInitialized():
        # CRIU itself (protobuf-c) refuses such entries; the Python runtime
        # would accept them silently.
        missing = ", ".join(msg.FindInitializationErrors())
        raise CorruptedEntry(path, offset, f"{ref.name} lacks required fields: {missing}")
    return msg


def read_message(reader: ByteReader, ref: MessageRef, entry_offset: int) -> Message | None:
    """One length-prefixed message, or None at a clean end of file."""
    size = reader.read_u32(entry_offset, f"{ref.name} length")
    if size is None:
        return None
    data = reader.read_exact(size, entry_offset, f"{ref.name} of {size} bytes")
    return parse_message(ref, data, reader.path, entry_offset)


def write_message(out: BinaryIO, msg: Message) -> None:
    data = msg.SerializeToString()
    out.write(pack_u32(len(data)))
    out.write(data)


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise pb2dict.ConversionError(f"{what}: expected base64 text")
    try:
        return base64.decodebytes(text.encode())
    except (ValueError, TypeError) as exc:
        raise pb2dict.ConversionError(f"{what}: bad base64: {exc}") from None


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


class Payload(abc.ABC):
    """Raw bytes following an entry, sized by fields of that entry.

    read() gives the Python value (bytes or a small structure), to_json()
    crit's JSON form of it, skip() passes over it and returns the size crit
    --nopl reports.
    """

    @abc.abstractmethod
    def read(self, reader: ByteReader, msg: Message, offset: int) -> Any:
        """See the class docstring."""

    @abc.abstractmethod
    def skip(self, reader: ByteReader, msg: Message, offset: int) -> int:
        """See the class docstring."""

    @abc.abstractmethod
    def write(self, out: BinaryIO, msg: Message, value: Any) -> None:
        """See the class docstring."""

    @abc.abstractmethod
    def to_json(self, value: Any) -> Any:
        """See the class docstring."""

    @abc.abstractmethod
    def from_json(self, data: Any, msg: Message) -> Any:
        """See the class docstring."""

    def present(self, msg: Message) -> bool:
        """Whether this entry carries the payload at all."""
        return True


class SizedBlob(Payload):
    """`sum(size fields)` bytes, shown as one base64 string."""

    def __init__(self, *size_fields: str) -> None:
        self.size_fields = size_fields

    def size(self, msg: Message) -> int:
        return sum(getattr(msg, name) for name in self.size_fields)

    def read(self, reader, msg, offset):
        return reader.read_exact(self.size(msg), offset, f"{self.size(msg)}-byte payload")

    def skip(self, reader, msg, offset):
        size = self.size(msg)
        reader.skip(size, offset, f"{size}-byte payload")
        return size

    def write(self, out, msg, value):
        out.write(value)

    def to_json(self, value):
        return b64(value)

    def from_json(self, data, msg):
        return unb64(data, "extra")


class TcpQueues(Payload):
    """The unread input queue then the unsent output queue of a TCP socket."""

    def read(self, reader, msg, offset):
        inq = reader.read_exact(msg.inq_len, offset, f"{msg.inq_len}-byte input queue")
        outq = reader.read_exact(msg.outq_len, offset, f"{msg.outq_len}-byte output queue")
        return {"inq": inq, "outq": outq}

    def skip(self, reader, msg, offset):
        size = msg.inq_len + msg.outq_len
        reader.skip(size, offset, f"{size}-byte queues")
        return size

    def write(self, out, msg, value):
        if isinstance(value, (bytes, bytearray)):
            # Both queues as one blob, as the file holds them.
            if len(value) != msg.inq_len + msg.outq_len:
                raise pb2dict.ConversionError(
                    f"{len(value)} queue bytes, the entry says {msg.inq_len} + {msg.outq_len}")
            out.write(value)
            return
        for key, size in (("inq", msg.inq_len), ("outq", msg.outq_len)):
            if len(value[key]) != size:
                raise pb2dict.ConversionError(f"{key} has {len(value[key])} bytes, the entry says {size}")
            out.write(value[key])

    def to_json(self, value):
        return {"inq": b64(value["inq"]), "outq": b64(value["outq"])}

    def from_json(self, data, msg):
        if not isinstance(data, dict) or set(data) != {"inq", "outq"}:
            raise pb2dict.ConversionError('extra: expected {"inq": ..., "outq": ...}')
        return {"inq": unb64(data["inq"], "extra.inq"), "outq": unb64(data["outq"], "extra.outq")}


class ShmContents(Payload):
    """A SysV shm segment's bytes, padded to 4, unless kept in pagemaps."""

    def present(self, msg):
        return not msg.in_pagemaps

    def read(self, reader, msg, offset):
        data = reader.read_exact(msg.size, offset, f"{msg.size}-byte shm contents")
        pad = _round_up(msg.size, 4) - msg.size
        reader.read_exact(pad, offset, "shm padding")
        return data

    def skip(self, reader, msg, offset):
        reader.skip(_round_up(msg.size, 4), offset, f"{msg.size}-byte shm contents")
        return msg.size

    def write(self, out, msg, value):
        if len(value) != msg.size:
            raise pb2dict.ConversionError(f"{len(value)} shm bytes, the entry says {msg.size}")
        out.write(value + b"\0" * (_round_up(msg.size, 4) - msg.size))

    def to_json(self, value):
        return b64(value)

    def from_json(self, data, msg):
        return unb64(data, "extra")


class SemValues(Payload):
    """nsems u16 semaphore values, padded to 8 bytes, shown as a list."""

    def read(self, reader, msg, offset):
        size = 2 * msg.nsems
        data = reader.read_exact(size, offset, f"{msg.nsems} semaphore values")
        reader.read_exact(_round_up(size, 8) - size, offset, "semaphore padding")
        return list(struct.unpack(f"<{msg.nsems}H", data))

    def skip(self, reader, msg, offset):
        size = 2 * msg.nsems
        reader.skip(_round_up(size, 8), offset, f"{msg.nsems} semaphore values")
        return size

    def write(self, out, msg, value):
        if len(value) != msg.nsems:
            raise pb2dict.ConversionError(f"extra: {len(value)} semaphore values for nsems {msg.nsems}")
        size = 2 * msg.nsems
        out.write(struct.pack(f"<{msg.nsems}H", *value) + b"\0" * (_round_up(size, 8) - size))

    def to_json(self, value):
        return list(value)

    def from_json(self, data, msg):
        if not isinstance(data, list) or not all(isinstance(v, int) and 0 <= v < 65536 for v in data):
            raise pb2dict.ConversionError("extra: expected a list of u16 semaphore values")
        return list(data)


IPC_MSG = MessageRef("ipc_msg_pb2", "ipc_msg")


class MsgQueue(Payload):
    """qnum messages: each an ipc_msg entry then its text padded to 8.

    Shown as crit does: a flat list alternating message dict, base64 text.
    """

    def read(self, reader, msg, offset):
        messages = []
        for _ in range(msg.qnum):
            at = reader.offset
            head = read_message(reader, IPC_MSG, at)
            if head is None:
                raise CorruptedEntry(reader.path, at, f"message queue ends before its {msg.qnum} messages")
            text = reader.read_exact(head.msize, at, f"{head.msize}-byte message text")
            reader.read_exact(_round_up(head.msize, 8) - head.msize, at, "message padding")
            messages.append((head, text))
        return messages

    def skip(self, reader, msg, offset):
        total = 0
        for _ in range(msg.qnum):
            at = reader.offset
            size = reader.read_u32(at, "ipc_msg length")
            if size is None:
                raise CorruptedEntry(reader.path, at, f"message queue ends before its {msg.qnum} messages")
            head = parse_message(IPC_MSG, reader.read_exact(size, at, "ipc_msg"), reader.path, at)
            reader.skip(_round_up(head.msize, 8), at, f"{head.msize}-byte message text")
            total += size + head.msize
        return total

    def write(self, out, msg, value):
        if len(value) != msg.qnum:
            raise pb2dict.ConversionError(f"{len(value)} queued messages, the entry says qnum {msg.qnum}")
        for head, text in value:
            if len(text) != head.msize:
                raise pb2dict.ConversionError(f"{len(text)} message bytes, its msize says {head.msize}")
            write_message(out, head)
            out.write(text)
            out.write(b"\0" * (_round_up(head.msize, 8) - head.msize))

    def to_json(self, value):
        out: list[Any] = []
        for head, text in value:
            out.append(pb2dict.message_to_dict(head))
            out.append(b64(text))
        return out

    def from_json(self, data, msg):
        if not isinstance(data, list) or len(data) % 2:
            raise pb2dict.ConversionError("extra: expected [message, text, ...] pairs")
        cls = IPC_MSG.cls()
        pairs = []
        for i in range(0, len(data), 2):
            head = pb2dict.dict_to_message(data[i], cls())
            pairs.append((head, unb64(data[i + 1], "extra text")))
        return pairs


class RestOfFile(Payload):
    """Everything up to end of file (ghost file contents kept unchunked)."""

    def present(self, msg):
        return not msg.chunks

    def read(self, reader, msg, offset):
        return reader.read_rest()

    def skip(self, reader, msg, offset):
        return reader.skip_rest()

    def write(self, out, msg, value):
        out.write(value)

    def to_json(self, value):
        return b64(value)

    def from_json(self, data, msg):
        return unb64(data, "extra")


@dataclass(frozen=True)
class ImageType:
    """One kind of image file: its entries and their payloads.

    `first` is the message of the first entry when it differs from the rest
    (pagemap_head, ghost_file_entry); each has its own payload codec.
    """

    name: str
    entry: MessageRef
    payload: Payload | None = None
    first: MessageRef | None = None
    first_payload: Payload | None = None
    # Entries after the first exist only when the first says so (ghost chunks).
    more_if: str | None = None

    def ref_for(self, index: int) -> MessageRef:
        return self.first if (index == 0 and self.first is not None) else self.entry

    def payload_for(self, index: int) -> Payload | None:
        if index == 0 and self.first is not None:
            return self.first_payload
        return self.payload


def _t(name: str, module: str, message: str, payload: Payload | None = None) -> ImageType:
    return ImageType(name, MessageRef(module, message), payload)


_TYPES = [
    _t("INVENTORY", "inventory_pb2", "inventory_entry"),
    _t("CORE", "core_pb2", "core_entry"),
    _t("IDS", "core_pb2", "task_kobj_ids_entry"),
    _t("CREDS", "creds_pb2", "creds_entry"),
    _t("UTSNS", "utsns_pb2", "utsns_entry"),
    _t("TIMENS", "timens_pb2", "timens_entry"),
    _t("PIDNS", "pidns_pb2", "pidns_entry"),
    _t("IPC_VAR", "ipc_var_pb2", "ipc_var_entry"),
    _t("FS", "fs_pb2", "fs_entry"),
    ImageType("GHOST_FILE", MessageRef("ghost_file_pb2", "ghost_chunk_entry"), SizedBlob("len"),
              first=MessageRef("ghost_file_pb2", "ghost_file_entry"), first_payload=RestOfFile(),
              more_if="chunks"),
    _t("MM", "mm_pb2", "mm_entry"),
    _t("CGROUP", "cgroup_pb2", "cgroup_entry"),
    _t("TCP_STREAM", "tcp_stream_pb2", "tcp_stream_entry", TcpQueues()),
    _t("STATS", "stats_pb2", "stats_entry"),
    ImageType("PAGEMAP", MessageRef("pagemap_pb2", "pagemap_entry"),
              first=MessageRef("pagemap_pb2", "pagemap_head")),
    _t("PSTREE", "pstree_pb2", "pstree_entry"),
    _t("REG_FILES", "regfile_pb2", "reg_file_entry"),
    _t("NS_FILES", "ns_pb2", "ns_file_entry"),
    _t("EVENTFD_FILE", "eventfd_pb2", "eventfd_file_entry"),
    _t("EVENTPOLL_FILE", "eventpoll_pb2", "eventpoll_file_entry"),
    _t("EVENTPOLL_TFD", "eventpoll_pb2", "eventpoll_tfd_entry"),
    _t("SIGNALFD", "signalfd_pb2", "signalfd_entry"),
    _t("TIMERFD", "timerfd_pb2", "timerfd_entry"),
    _t("INOTIFY_FILE", "fsnotify_pb2", "inotify_file_entry"),
    _t("INOTIFY_WD", "fsnotify_pb2", "inotify_wd_entry"),
    _t("FANOTIFY_FILE", "fsnotify_pb2", "fanotify_file_entry"),
    _t("FANOTIFY_MARK", "fsnotify_pb2", "fanotify_mark_entry"),
    _t("VMAS", "vma_pb2", "vma_entry"),
    _t("PIPES", "pipe_pb2", "pipe_entry"),
    _t("FIFO", "fifo_pb2", "fifo_entry"),
    _t("SIGACT", "sa_pb2", "sa_entry"),
    _t("NETLINK_SK", "sk_netlink_pb2", "netlink_sk_entry"),
    _t("REMAP_FPATH", "remap_file_path_pb2", "remap_file_path_entry"),
    _t("MNTS", "mnt_pb2", "mnt_entry"),
    _t("TTY_FILES", "tty_pb2", "tty_file_entry"),
    _t("TTY_INFO", "tty_pb2", "tty_info_entry"),
    _t("TTY_DATA", "tty_pb2", "tty_data_entry"),
    _t("RLIMIT", "rlimit_pb2", "rlimit_entry"),
    _t("TUNFILE", "tun_pb2", "tunfile_entry"),
    _t("EXT_FILES", "ext_file_pb2", "ext_file_entry"),
    _t("IRMAP_CACHE", "fh_pb2", "irmap_cache_entry"),
    _t("FILE_LOCKS", "file_lock_pb2", "file_lock_entry"),
    _t("FDINFO", "fdinfo_pb2", "fdinfo_entry"),
    _t("UNIXSK", "sk_unix_pb2", "unix_sk_entry"),
    _t("INETSK", "sk_inet_pb2", "inet_sk_entry"),
    _t("PACKETSK", "packet_sock_pb2", "packet_sock_entry"),
    _t("ITIMERS", "timer_pb2", "itimer_entry"),
    _t("POSIX_TIMERS", "timer_pb2", "posix_timer_entry"),
    _t("NETDEV", "netdev_pb2", "net_device_entry"),
    _t("PIPES_DATA", "pipe_data_pb2", "pipe_data_entry", SizedBlob("bytes")),
    _t("FIFO_DATA", "pipe_data_pb2", "pipe_data_entry", SizedBlob("bytes")),
    _t("SK_QUEUES", "sk_packet_pb2", "sk_packet_entry", SizedBlob("length")),
    _t("IPCNS_SHM", "ipc_shm_pb2", "ipc_shm_entry", ShmContents()),
    _t("IPCNS_SEM", "ipc_sem_pb2", "ipc_sem_entry", SemValues()),
    _t("IPCNS_MSG", "ipc_msg_pb2", "ipc_msg_entry", MsgQueue()),
    _t("NETNS", "netdev_pb2", "netns_entry"),
    _t("USERNS", "userns_pb2", "userns_entry"),
    _t("SECCOMP", "seccomp_pb2", "seccomp_entry"),
    _t("AUTOFS", "autofs_pb2", "autofs_entry"),
    _t("FILES", "fdinfo_pb2", "file_entry"),
    _t("CPUINFO", "cpuinfo_pb2", "cpuinfo_entry"),
    _t("MEMFD_INODE", "memfd_pb2", "memfd_inode_entry"),
    _t("BPFMAP_FILE", "bpfmap_file_pb2", "bpfmap_file_entry"),
    _t("BPFMAP_DATA", "bpfmap_data_pb2", "bpfmap_data_entry", SizedBlob("keys_bytes", "values_bytes")),
    _t("APPARMOR", "apparmor_pb2", "apparmor_entry"),
    _t("PIDFD", "pidfd_pb2", "pidfd_entry"),
    _t("BINFMT_MISC", "binfmt_misc_pb2", "binfmt_misc_entry"),
    _t("SIGNAL", "siginfo_pb2", "siginfo_entry"),
]

HANDLERS: dict[str, ImageType] = {t.name: t for t in _TYPES}
