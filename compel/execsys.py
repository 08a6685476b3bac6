"""Run one system call inside a task, arguments given as text, the way
criu(8) "SYSCALLS EXECUTION" describes:

    &text   copied into the task's memory; the argument is its address
    @size   a zeroed buffer of `size` bytes in the task; the argument is its
            address, and its contents after the call are returned
    other   a number, as C's strtol(s, NULL, 0) reads it (0x.. hex, 0.. octal)

The buffers live in one anonymous mapping made for the call and removed
after it; the task is detached untouched.
"""

from __future__ import annotations

import dataclasses
import re

from compel.arch import current as arch
from compel.errors import CompelError
from compel.native import memory
from compel.task import seize

MAX_ARGS = 6
_NUMBER = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


class ExecArgumentError(CompelError):
    """A syscall name or argument that cannot be understood."""


@dataclasses.dataclass
class ExecResult:
    ret: int
    outputs: dict[int, bytes]  # argument index -> bytes of an @size buffer

    def format(self) -> str:
        """criu's report: 'Syscall returned <hex>(<int>)' then outputs."""
        lines = [f"Syscall returned {self.ret & 0xFFFFFFFFFFFFFFFF:x}"
                 f"({_as_int32(self.ret)})"]
        for index, data in sorted(self.outputs.items()):
            lines.append(f"Argument {index} returns:")
            for off in range(0, len(data), 16):
                chunk = data[off:off + 16]
                text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
                lines.append(f"{off:08x}: {chunk.hex(' '):<47}  {text}")
        return "\n".join(lines)


def _as_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def strtol(text: str) -> int:
    """C strtol(text, NULL, 0), but strict: the whole text must be a number."""
    m = _NUMBER.fullmatch(text)
    if not m:
        raise ExecArgumentError(f"bad syscall argument {text!r}: not a number, "
                                "&string or @size")
    sign, digits = m.groups()
    if digits[:2].lower() == "0x":
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


def syscall_number(name: str) -> int:
    try:
        return arch.syscalls.nr(name)
    except KeyError:
        raise ExecArgumentError(f"unknown syscall {name!r}") from None


def exec_syscall(pid: int, name: str, args: list[str]) -> ExecResult:
    """Seize `pid`, run syscall `name` with text arguments, detach."""
    nr = syscall_number(name)
    if len(args) > MAX_ARGS:
        raise ExecArgumentError(f"{name}: at most {MAX_ARGS} arguments")
    blobs: list[tuple[int, bytes | int]] = []  # (index, text bytes or size)
    numbers: dict[int, int] = {}
    for i, arg in enumerate(args):
        if arg.startswith("&"):
            blobs.append((i, arg[1:].encode() + b"\0"))
        elif arg.startswith("@"):
            size = strtol(arg[1:])
            if size <= 0:
                raise ExecArgumentError(f"bad argument size {arg!r}")
            blobs.append((i, size))
        else:
            numbers[i] = strtol(arg)
    with seize(pid) as task:
        area_len = 0
        layout: dict[int, int] = {}
        for i, item in blobs:
            layout[i] = area_len
            area_len += (len(item) if isinstance(item, bytes) else item)
            area_len = (area_len + 15) & ~15
        base = 0
        if area_len:
            length = (area_len + memory.PAGE_SIZE - 1) & ~(memory.PAGE_SIZE - 1)
            base = task.remote_mmap(0, length, memory.PROT_READ | memory.PROT_WRITE,
                                    memory.MAP_PRIVATE | memory.MAP_ANONYMOUS)
        try:
            values = [0] * len(args)
            for i, value in numbers.items():
                values[i] = value
            for i, item in blobs:
                values[i] = base + layout[i]
                if isinstance(item, bytes):
                    task.write_memory(base + layout[i], item)
            ret = task.remote_syscall(nr, *values)
            outputs = {i: task.read_memory(base + layout[i], item)
                       for i, item in blobs if isinstance(item, int)}
        finally:
            if area_len:
                task.remote_munmap(base, length)
    return ExecResult(ret, outputs)
