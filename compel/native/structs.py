"""Kernel structures shared by several native calls."""

from __future__ import annotations

import ctypes


class IoVec(ctypes.Structure):
    """One buffer of a scatter/gather list.

    struct iovec {
        void  *iov_base;
        size_t iov_len;
    };
    """

    _fields_ = [("iov_base", ctypes.c_uint64), ("iov_len", ctypes.c_uint64)]


def iovec_array(pairs: list[tuple[int, int]]) -> ctypes.Array:
    """A struct iovec[] from (address, length) pairs."""
    arr = (IoVec * max(len(pairs), 1))()
    for i, (base, length) in enumerate(pairs):
        arr[i].iov_base = base
        arr[i].iov_len = length
    return arr
