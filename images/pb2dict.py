"""Protobuf message <-> JSON-compatible dict, with crit's conventions.

The dict form is what `crit decode` prints and `crit encode` reads, so it
follows CRIU's crit exactly: only fields that are set appear, in field-number
order; enums by name; bytes as base64 text (MIME style, a newline every 76
characters, as Python's base64.encodebytes makes them), unix socket names
quoted-printable. With pretty=True (crit show, decode --pretty) the schema's
(criu) field options also apply: hex -> "0x..", ipadd -> address text,
flags -> "A | B | 0x..", dev/odev -> "major:minor", dict -> symbolic names.
A hex option also applies to every integer nested under the marked field.
On the way back every form is accepted (numbers or strings).
"""

from __future__ import annotations

import base64
import importlib
import ipaddress
import quopri
import socket
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_INT_TYPES = frozenset({
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64,
})

# Flag tables named by the (criu).flags option: (symbol, bit mask) pairs.
FLAG_TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    "mmap.prot": (("PROT_READ", 0x1), ("PROT_WRITE", 0x2), ("PROT_EXEC", 0x4)),
    "mmap.flags": (
        ("MAP_SHARED", 0x1), ("MAP_PRIVATE", 0x2), ("MAP_DROPPABLE", 0x8),
        ("MAP_ANON", 0x20), ("MAP_GROWSDOWN", 0x100),
    ),
    "mmap.status": (
        ("VMA_AREA_NONE", 0), ("VMA_AREA_REGULAR", 1 << 0),
        ("VMA_AREA_STACK", 1 << 1), ("VMA_AREA_VSYSCALL", 1 << 2),
        ("VMA_AREA_VDSO", 1 << 3), ("VMA_AREA_HEAP", 1 << 5),
        ("VMA_FILE_PRIVATE", 1 << 6), ("VMA_FILE_SHARED", 1 << 7),
        ("VMA_ANON_SHARED", 1 << 8), ("VMA_ANON_PRIVATE", 1 << 9),
        ("VMA_AREA_SYSVIPC", 1 << 10), ("VMA_AREA_SOCKET", 1 << 11),
        ("VMA_AREA_VVAR", 1 << 12), ("VMA_AREA_AIORING", 1 << 13),
        ("VMA_AREA_MEMFD", 1 << 14), ("VMA_AREA_SHSTK", 1 << 15),
        ("VMA_AREA_UPROBES", 1 << 17), ("VMA_UNSUPP", 1 << 31),
    ),
    "rfile.flags": (
        ("O_WRONLY", 0o1), ("O_RDWR", 0o2), ("O_CREAT", 0o100),
        ("O_EXCL", 0o200), ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000),
        ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000), ("O_DSYNC", 0o10000),
        ("FASYNC", 0o20000), ("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000),
        ("O_DIRECTORY", 0o200000), ("O_NOFOLLOW", 0o400000),
        ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000),
    ),
    "pmap.flags": (("PE_PARENT", 1 << 0), ("PE_LAZY", 1 << 1), ("PE_PRESENT", 1 << 2)),
    "seals.flags": (
        ("F_SEAL_SEAL", 0x1), ("F_SEAL_SHRINK", 0x2), ("F_SEAL_GROW", 0x4),
        ("F_SEAL_WRITE", 0x8), ("F_SEAL_FUTURE_WRITE", 0x10),
    ),
}

# Dictionaries named by the (criu).dict option, then keyed by field name.
DICT_TABLES: dict[str, dict[str, dict[int, str]]] = {
    "gen": {
        "task_state": {1: "Alive", 2: "Dead", 3: "Stopped", 6: "Zombie"},
    },
    "sk": {
        "family": {1: "UNIX", 2: "INET", 10: "INET6", 16: "NETLINK", 17: "PACKET"},
        "type": {1: "STREAM", 2: "DGRAM", 3: "RAW", 5: "SEQPACKET", 10: "PACKET"},
        "state": {
            1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1",
            5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT",
            9: "LAST_ACK", 10: "LISTEN",
        },
        "proto": {0: "IP", 6: "TCP", 17: "UDP", 136: "UDPLITE"},
    },
}

# The kernel's dev_t as stat(2) shows it (new, "huge" encoding) keeps 20
# bits of minor; the old encoding glibc's major()/minor() understand mixes
# the bits differently.
_KERNEL_MINOR_BITS = 20


class ConversionError(ValueError):
    """A dict value does not fit its field (wrapped into BadJson by callers)."""


class _Opts:
    """The (criu) options of one field, with defaults when absent."""

    __slots__ = ("hex", "ipadd", "flags", "dev", "odev", "dict", "conv")

    def __init__(self) -> None:
        self.hex = self.ipadd = self.dev = self.odev = False
        self.flags = self.dict = self.conv = ""


_NO_OPTS = _Opts()


def _opts_extension() -> Any | None:
    """The `criu` FieldOptions extension, or None if opts.proto is not built."""
    try:
        return importlib.import_module("images.pb.opts_pb2").criu
    except ImportError:
        return None


@lru_cache(maxsize=None)
def field_opts(field: FieldDescriptor) -> _Opts:
    """The (criu) options of `field` (cached: descriptors are immutable)."""
    ext = _opts_extension()
    if ext is None or not field.has_options:
        return _NO_OPTS
    options = field.GetOptions()
    if not options.HasExtension(ext):
        return _NO_OPTS
    raw = options.Extensions[ext]
    opts = _Opts()
    for name in _Opts.__slots__:
        setattr(opts, name, getattr(raw, name))
    return opts


def flags_to_str(value: int, table: tuple[tuple[str, int], ...]) -> str:
    """'A | B | 0x..' for the bits of `value`; leftover bits in hex."""
    names = [name for name, bit in table if value & bit]
    known = 0
    for _, bit in table:
        known |= bit
    rest = value & ~known
    if rest:
        names.append(f"0x{rest:x}")
    return " | ".join(names)


def str_to_flags(text: str, table: tuple[tuple[str, int], ...]) -> int:
    """Inverse of flags_to_str; parts may also be plain numbers."""
    if text == "":
        return 0
    symbols = dict(table)
    total = 0
    for part in (p.strip() for p in text.split("|")):
        total += symbols[part] if part in symbols else int(part, 0)
    return total


def dev_to_str(value: int, old_encoding: bool) -> str:
    if old_encoding:
        major = ((value >> 8) & 0xFFF) | ((value >> 32) & ~0xFFF)
        minor = (value & 0xFF) | ((value >> 12) & ~0xFF)
    else:
        major = value >> _KERNEL_MINOR_BITS
        minor = value & ((1 << _KERNEL_MINOR_BITS) - 1)
    return f"{major}:{minor}"


def str_to_dev(text: str, old_encoding: bool) -> int:
    major, minor = (int(x) for x in text.split(":"))
    if old_encoding:
        return (((major & 0xFFFFF000) << 32) | ((major & 0xFFF) << 8)
                | ((minor & 0xFFFFFF00) << 12) | (minor & 0xFF))
    return (major << _KERNEL_MINOR_BITS) | minor


def bytes_to_text(data: bytes, conv: str) -> str:
    if conv == "unix_name":
        return quopri.encodestring(data).decode()
    return base64.encodebytes(data).decode()


def text_to_bytes(text: str, conv: str) -> bytes:
    if conv == "unix_name":
        return quopri.decodestring(text.encode())
    return base64.decodebytes(text.encode())


def _addr_words_to_str(words: list[int]) -> str | None:
    """IPv4 (1 word) or IPv6 (4 words) address kept in network byte order."""
    if len(words) == 1:
        return str(ipaddress.IPv4Address(socket.ntohl(words[0])))
    if len(words) == 4:
        value = 0
        for w in words:
            value = (value << 32) | socket.ntohl(w)
        return ipaddress.IPv6Address(value).compressed
    return None


def _str_to_addr_words(text: str) -> list[int]:
    addr = ipaddress.ip_address(text)
    value = int(addr)
    count = 1 if addr.version == 4 else 4
    return [socket.htonl((value >> (32 * i)) & 0xFFFFFFFF)
            for i in reversed(range(count))]


def _scalar_to_json(field: FieldDescriptor, value: Any, pretty: bool, hex_inherited: bool) -> Any:
    opts = field_opts(field)
    is_hex = hex_inherited or opts.hex
    ftype = field.type
    if ftype == FieldDescriptor.TYPE_MESSAGE:
        return message_to_dict(value, pretty, is_hex)
    if ftype == FieldDescriptor.TYPE_BYTES:
        return bytes_to_text(value, opts.conv)
    if ftype == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    if ftype == FieldDescriptor.TYPE_STRING and isinstance(value, bytes):
        # The runtime hands back a string that is not valid UTF-8 as bytes
        # (CRIU writes paths as they are); keep every byte visible.
        return value.decode("utf-8", "surrogateescape")
    if ftype in _INT_TYPES and pretty:
        if is_hex:
            return f"0x{value:x}" if value >= 0 else f"-0x{-value:x}"
        if opts.dev or opts.odev:
            return dev_to_str(value, opts.odev)
        if opts.flags:
            table = FLAG_TABLES.get(opts.flags)
            if table is None:
                return f"0x{value:x}"
            return flags_to_str(value, table)
        if opts.dict:
            names = DICT_TABLES.get(opts.dict, {}).get(field.name, {})
            return names.get(value, value)
    return value


def message_to_dict(msg: Message, pretty: bool = False, hex_inherited: bool = False) -> dict[str, Any]:
    """The dict crit prints for `msg` (see module docstring)."""
    out: dict[str, Any] = {}
    for field, value in msg.ListFields():
        if field.label == FieldDescriptor.LABEL_REPEATED:
            if pretty and field_opts(field).ipadd:
                text = _addr_words_to_str(list(value))
                if text is not None:
                    out[field.name] = [text]
                    continue
            out[field.name] = [_scalar_to_json(field, v, pretty, hex_inherited) for v in value]
        else:
            out[field.name] = _scalar_to_json(field, value, pretty, hex_inherited)
    return out


def _json_to_scalar(field: FieldDescriptor, value: Any) -> Any:
    opts = field_opts(field)
    ftype = field.type
    if ftype == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            raise ConversionError(f"field {field.name}: expected text, got {type(value).__name__}")
        return text_to_bytes(value, opts.conv)
    if ftype == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, int) and not isinstance(value, bool):
            if value not in field.enum_type.values_by_number:
                raise ConversionError(f"field {field.name}: no enum value {value}")
            return value
        enum_value = field.enum_type.values_by_name.get(value)
        if enum_value is None:
            raise ConversionError(f"field {field.name}: no enum name {value!r}")
        return enum_value.number
    if ftype in _INT_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConversionError(f"field {field.name}: expected a number, got {value!r}")
        if isinstance(value, int):
            return value
        if opts.dev or opts.odev:
            return str_to_dev(value, opts.odev)
        if opts.flags and opts.flags in FLAG_TABLES:
            return str_to_flags(value, FLAG_TABLES[opts.flags])
        if opts.dict:
            names = DICT_TABLES.get(opts.dict, {}).get(field.name, {})
            for number, name in names.items():
                if name == value:
                    return number
        return int(value, 0)
    if ftype == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise ConversionError(f"field {field.name}: expected true/false, got {value!r}")
        return value
    if ftype == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise ConversionError(f"field {field.name}: expected a string, got {value!r}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConversionError(f"field {field.name}: not valid UTF-8 text") from None
        return value
    if ftype in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(value)
    raise ConversionError(f"field {field.name}: unsupported type {ftype}")


def dict_to_message(data: Mapping[str, Any], msg: Message) -> Message:
    """Fill `msg` from crit's dict form; unknown keys are an error."""
    if not isinstance(data, Mapping):
        raise ConversionError(f"{msg.DESCRIPTOR.name}: expected an object, got {type(data).__name__}")
    fields = msg.DESCRIPTOR.fields_by_name
    for key in data:
        if key not in fields:
            raise ConversionError(f"{msg.DESCRIPTOR.name}: no field {key!r}")
    for field in msg.DESCRIPTOR.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        try:
            _set_field(msg, field, value)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            if isinstance(exc, ConversionError):
                raise
            raise ConversionError(f"field {field.name}: {exc}") from None
    return msg


def _set_field(msg: Message, field: FieldDescriptor, value: Any) -> None:
    if field.label == FieldDescriptor.LABEL_REPEATED:
        if not isinstance(value, list):
            raise ConversionError(f"field {field.name}: expected a list")
        target = getattr(msg, field.name)
        if field_opts(field).ipadd and len(value) == 1 and isinstance(value[0], str):
            target.extend(_str_to_addr_words(value[0]))
            return
        for item in value:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                dict_to_message(item, target.add())
            else:
                target.append(_json_to_scalar(field, item))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        sub = getattr(msg, field.name)
        sub.SetInParent()
        dict_to_message(value, sub)
    else:
        setattr(msg, field.name, _json_to_scalar(field, value))


