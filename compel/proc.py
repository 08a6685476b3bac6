"""The few /proc facts compel needs about a task (state, tracer, threads,
executable mappings)."""

from __future__ import annotations

import dataclasses
import os

from compel.errors import NoSuchTaskError


@dataclasses.dataclass(frozen=True)
class Mapping:
    """One line of /proc/PID/maps."""

    start: int
    end: int
    perms: str
    offset: int
    path: str

    @property
    def executable(self) -> bool:
        return self.perms[2] == "x"


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as key -> value text."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise NoSuchTaskError(f"task {pid}: no such process") from None
    out: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def state(pid: int) -> str:
    """The state letter: R S D T t Z X ..."""
    return status(pid).get("State", "?")[:1]


def tracer(pid: int) -> int:
    return int(status(pid).get("TracerPid", "0"))


def threads(pid: int) -> list[int]:
    """Thread ids of the process, leader first."""
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise NoSuchTaskError(f"task {pid}: no such process") from None
    if pid in tids:
        tids.remove(pid)
        tids.insert(0, pid)
    return tids


def maps(pid: int, tid: int | None = None) -> list[Mapping]:
    """The mappings of process pid (read through thread tid if given: a
    zombie leader's own maps file is empty)."""
    path = f"/proc/{pid}/task/{tid}/maps" if tid else f"/proc/{pid}/maps"
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise NoSuchTaskError(f"task {pid}: no such process") from None
    out = []
    for line in lines:
        parts = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        out.append(Mapping(start, end, parts[1], int(parts[2], 16),
                           parts[5] if len(parts) > 5 else ""))
    return out


def signal_masks(pid: int, tid: int | None = None) -> dict[str, int]:
    """SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt of a thread, as ints."""
    path = f"/proc/{pid}/task/{tid}" if tid else f"/proc/{pid}"
    out: dict[str, int] = {}
    with open(f"{path}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"):
                out[key] = int(value.strip(), 16)
    return out
