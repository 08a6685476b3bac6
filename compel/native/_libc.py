"""libc handle and the raw syscall entry shared by the whole native layer.

Every failing call raises an OSError subclass (Python picks it from errno:
ProcessLookupError, PermissionError, ...) whose message names the call, so a
traceback or a log line always says which syscall failed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

_syscall = libc.syscall
_syscall.restype = ctypes.c_long


def os_error(call: str, err: int) -> OSError:
    """The OSError subclass for errno `err`, with the call named."""
    return OSError(err, f"{call}: {os.strerror(err)}")


def check(call: str, ret: int) -> int:
    """Raise for a libc-style failure (-1 with errno), else return ret."""
    if ret == -1:
        raise os_error(call, ctypes.get_errno())
    return ret


def _arg(value: object) -> ctypes.c_long | ctypes.c_void_p:
    if isinstance(value, int):
        return ctypes.c_long(value & 0xFFFFFFFFFFFFFFFF if value >= 0 else value)
    if value is None:
        return ctypes.c_long(0)
    return value  # type: ignore[return-value]  # ctypes pointer/byref


def syscall(call: str, nr: int, *args: object) -> int:
    """syscall(2) by number; raises the errno's OSError naming `call`."""
    ctypes.set_errno(0)
    ret = _syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    return check(call, ret)


def sys(name: str, *args: object) -> int:
    """syscall(2) by name, numbers from the per-arch table."""
    from compel.arch import current

    return syscall(name, current.syscalls.nr(name), *args)


def address_of(buf: object) -> int:
    """Address of a ctypes object or a writable buffer (bytearray, mmap)."""
    if isinstance(buf, ctypes._SimpleCData | ctypes.Structure | ctypes.Array):
        return ctypes.addressof(buf)
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))  # type: ignore[arg-type]
