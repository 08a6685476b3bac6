"""x86_64 syscall numbers, read from the ONE table syscalls.tbl."""

from __future__ import annotations

import functools
import pathlib

TABLE = pathlib.Path(__file__).with_name("syscalls.tbl")


@functools.cache
def table() -> dict[str, int]:
    """name -> number, from syscalls.tbl."""
    names: dict[str, int] = {}
    for line in TABLE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            nr, name = line.split()
            names[name] = int(nr)
    return names


def nr(name: str) -> int:
    """The number of syscall `name`; KeyError names it if unknown."""
    try:
        return table()[name]
    except KeyError:
        raise KeyError(f"unknown x86_64 syscall {name!r}") from None


@functools.cache
def name(number: int) -> str:
    """The name of syscall `number` (or 'syscall_<n>' if not in the table)."""
    for n, value in table().items():
        if value == number:
            return n
    return f"syscall_{number}"
