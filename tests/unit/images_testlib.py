"""Shared helpers of the image tests: deterministic "every field set"
messages built from descriptors, their payloads, and access to CRIU's own
crit (Debian's criu 3.17 package) for cross-checks.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import subprocess
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from images import handlers, pb2dict

CRIU_CRIT = "/usr/bin/crit"
SYSTEM_PYTHON = "/usr/bin/python3"

# Image types CRIU 3.17's crit has no handler for (it fails on them).
UNKNOWN_TO_CRIU317 = frozenset({"BINFMT_MISC", "SIGNAL", "PIDFD"})

# Image types whose schema CRIU 4.x changed incompatibly for a JSON
# comparison with 3.17's crit: pagemap_entry field 2 is "nr_pages" in 3.17
# and "compat_nr_pages" in CRIU 4.x (and ours), the 4.x nr_pages is field 5.
# Same bytes, different JSON keys; left out of the 3.17 cross-checks (the
# golden pagemap images still check decoding against 3.17's output).
RENAMED_SINCE_CRIU317 = frozenset({"PAGEMAP"})

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_UINT32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_FIXED32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_UINT64: (0, (1 << 64) - 1),
    FieldDescriptor.TYPE_FIXED64: (0, (1 << 64) - 1),
}

# Schema knowledge: {message full name: {field name: enum value names or None}}.
Known = dict[str, dict[str, list[str] | None]]


def criu_crit_missing() -> str | None:
    """Why CRIU's crit cannot be used here, or None if it can."""
    if not os.path.exists(CRIU_CRIT) or not os.path.exists(SYSTEM_PYTHON):
        return f"CRIU's crit ({CRIU_CRIT}) is not installed (Debian package criu; scripts/install-deps.sh installs it)"
    return None


_DESCRIBE_317 = r"""
import importlib, json, pathlib, sys
import pycriu.images as pkg
out = {}
def walk(d):
    out[d.full_name] = {f.name: ([v.name for v in f.enum_type.values] if f.enum_type else None)
                        for f in d.fields}
    for n in d.nested_types:
        walk(n)
for p in sorted(pathlib.Path(pkg.__file__).parent.glob('*_pb2.py')):
    mod = importlib.import_module('pycriu.images.' + p.stem)
    for d in mod.DESCRIPTOR.message_types_by_name.values():
        walk(d)
json.dump(out, sys.stdout)
"""


@functools.lru_cache(maxsize=1)
def criu317_schema() -> Known:
    """Fields (and enum values) CRIU 3.17's crit knows, per message."""
    done = subprocess.run([SYSTEM_PYTHON, "-I", "-c", _DESCRIBE_317],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def _int_value(field: FieldDescriptor, seed: int) -> int:
    opts = pb2dict.field_opts(field)
    if opts.dict:
        # A value both CRIU 3.17's and newer crit name the same way.
        return min(pb2dict.DICT_TABLES[opts.dict].get(field.name, {1: ""}))
    if opts.flags:
        # Bits 0 and 1 have the same names in every crit flag table; bit 30 in none.
        return 0x40000003
    low, high = _INT_RANGES[field.type]
    value = (0x1000 + seed * 0x10001) % min(high, 1 << 31)
    if low < 0 and seed % 3 == 0:
        value = -value
    if opts.dev or opts.odev:
        value = (8 << 20) | (seed + 1) if not opts.odev else (8 << 8) | (seed & 0xFF)
    return max(low, min(high, value))


def _scalar(field: FieldDescriptor, seed: int, known: Known | None) -> Any:
    t = field.type
    if t in _INT_RANGES:
        return _int_value(field, seed)
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t == FieldDescriptor.TYPE_STRING:
        return f"{field.name}-{seed}/é"
    if t == FieldDescriptor.TYPE_BYTES:
        if pb2dict.field_opts(field).conv == "unix_name":
            return b"\0sock=" + bytes([seed % 256, 0x7F, 0xC3])
        # Longer than 57 bytes: base64 text then spans two lines.
        return bytes((seed + i) % 256 for i in range(61))
    if t == FieldDescriptor.TYPE_ENUM:
        values = list(field.enum_type.values)
        if known is not None:
            names = known.get(field.containing_type.full_name, {}).get(field.name) or []
            values = [v for v in values if v.name in names] or values
        # A non-zero value below internal markers (like fd_types CTL_TTY).
        plain = [v for v in values if 0 < v.number < 1000] or values
        return plain[seed % len(plain)].number
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return 1.5
    raise AssertionError(f"unexpected field type {t} of {field.full_name}")


def fill(msg: Message, known: Known | None = None, seed: int = 1, depth: int = 0) -> Message:
    """Set every field of `msg` (repeated: two values) deterministically.

    With `known` (CRIU 3.17's schema), only fields and enum values that
    3.17 knows are set, plus required ones.
    """
    desc: Descriptor = msg.DESCRIPTOR
    for field in desc.fields:
        if known is not None and field.label != FieldDescriptor.LABEL_REQUIRED:
            if field.name not in known.get(desc.full_name, {}):
                continue
        if field.message_type is not None and depth > 6:
            continue
        n = seed * 7 + field.number
        if field.label == FieldDescriptor.LABEL_REPEATED:
            target = getattr(msg, field.name)
            if field.message_type is not None:
                for i in range(2):
                    fill(target.add(), known, n + i, depth + 1)
            elif pb2dict.field_opts(field).ipadd:
                target.extend([0x0100007F, 0x200, 0x30000, 0x4000000])
            else:
                target.extend([_scalar(field, n, known), _scalar(field, n + 1, known)])
        elif field.message_type is not None:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            fill(sub, known, n, depth + 1)
        else:
            setattr(msg, field.name, _scalar(field, n, known))
    return msg


# Bits whose flag names differ between CRIU 3.17's crit and current CRIU's
# (which we follow): left out of random values so pretty output can match.
_FLAG_BITS_NEW_SINCE_317 = 0x8 | (1 << 14) | (1 << 15) | (1 << 17)


def _random_scalar(field: FieldDescriptor, rng: random.Random, known: Known | None) -> Any:
    t = field.type
    opts = pb2dict.field_opts(field)
    if t in _INT_RANGES:
        low, high = _INT_RANGES[t]
        value = rng.choice([0, 1, low, high, rng.randint(low, high), rng.randint(0, 300)])
        if opts.flags:
            value &= ~_FLAG_BITS_NEW_SINCE_317
        if opts.dict and opts.dict == "gen" and value in (2, 3, 6):
            value = 1  # task_state names 3.17 got wrong (fixed in later CRIU)
        return value
    if t == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FieldDescriptor.TYPE_STRING:
        alphabet = "az/._- \"\n\téЖ€😀"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
    if t == FieldDescriptor.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 56, 57, 58, 114, rng.randint(0, 200)])))
    return _scalar(field, rng.randint(0, 1000), known)


def fill_random(msg: Message, rng: random.Random, known: Known | None = None, depth: int = 0) -> Message:
    """Like fill(), with random presence, counts and (edge-case) values."""
    desc: Descriptor = msg.DESCRIPTOR
    for field in desc.fields:
        required = field.label == FieldDescriptor.LABEL_REQUIRED
        if known is not None and not required and field.name not in known.get(desc.full_name, {}):
            continue
        if not required and rng.random() < 0.35:
            continue
        if field.message_type is not None and depth > 5 and not required:
            continue
        if field.label == FieldDescriptor.LABEL_REPEATED:
            target = getattr(msg, field.name)
            if pb2dict.field_opts(field).ipadd:
                target.extend(rng.randrange(1 << 32) for _ in range(rng.choice([1, 4])))
            elif field.message_type is not None:
                for _ in range(rng.randint(0, 3)):
                    fill_random(target.add(), rng, known, depth + 1)
            else:
                target.extend(_random_scalar(field, rng, known) for _ in range(rng.randint(0, 3)))
        elif field.message_type is not None:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            fill_random(sub, rng, known, depth + 1)
        else:
            setattr(msg, field.name, _random_scalar(field, rng, known))
    return msg


def _blob(size: int, seed: int) -> bytes:
    return bytes((seed * 31 + i) % 256 for i in range(size))


def sample_entries(name: str, known: Known | None = None,
                   rng: random.Random | None = None) -> list[tuple[Message, Any]]:
    """(message, payload) pairs for a valid image of type `name`.

    Every field set (fill), or random ones when `rng` is given (fill_random).
    """
    itype = handlers.HANDLERS[name]
    out: list[tuple[Message, Any]] = []
    count = 3 if itype.first is not None else 2
    for index in range(count):
        ref = itype.ref_for(index)
        if rng is None:
            msg = fill(ref.cls()(), known, seed=index + 1)
        else:
            msg = fill_random(ref.cls()(), rng, known)
        extra = None
        if name in ("PIPES_DATA", "FIFO_DATA"):
            msg.bytes = 70 + index
            extra = _blob(msg.bytes, index)
        elif name == "SK_QUEUES":
            msg.length = 65 + index
            extra = _blob(msg.length, index)
        elif name == "BPFMAP_DATA":
            msg.keys_bytes, msg.values_bytes = 8, 24
            extra = _blob(32, index)
        elif name == "TCP_STREAM":
            msg.inq_len, msg.outq_len = 5 + index, 60
            extra = {"inq": _blob(msg.inq_len, 1), "outq": _blob(60, 2)}
        elif name == "IPCNS_SHM":
            msg.size = 61 + index
            if msg.DESCRIPTOR.fields_by_name.get("in_pagemaps") and msg.HasField("in_pagemaps"):
                msg.in_pagemaps = False
            extra = _blob(msg.size, index)
        elif name == "IPCNS_SEM":
            msg.nsems = 3 + index
            extra = [7 * i + index for i in range(msg.nsems)]
        elif name == "IPCNS_MSG":
            msg.qnum = 2
            extra = []
            for i in range(2):
                head = (fill(handlers.IPC_MSG.cls()(), known, seed=i + 3) if rng is None
                        else fill_random(handlers.IPC_MSG.cls()(), rng, known))
                head.msize = 13 + i
                extra.append((head, _blob(head.msize, i)))
        elif name == "GHOST_FILE":
            if index == 0:
                msg.chunks = True
            else:
                msg.len = 40 + index
                extra = _blob(msg.len, index)
        out.append((msg, extra))
    return out


def unchunked_ghost(known: Known | None = None) -> list[tuple[Message, Any]]:
    """A ghost file image keeping its contents whole after the one entry."""
    msg = fill(handlers.HANDLERS["GHOST_FILE"].first.cls()(), known)
    msg.chunks = False
    return [(msg, _blob(100, 5))]


def run_criu_crit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CRIU_CRIT, *args], input=stdin, capture_output=True, timeout=120)


def have_system_crit() -> bool:
    return shutil.which(CRIU_CRIT) is not None
