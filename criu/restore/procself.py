"""The new task's own /proc directory, held open by fd.

The restore hooks change the task's root and cwd (fs: chroot, fchdir); a
task dumped inside a chroot has no /proc below its root, so "/proc/self/..."
names nothing from then on.  The pipeline opens /proc/self once in the new
task, before the first hook, and everything that later reads the task's own
/proc files (its mappings, fd table, memory) goes through this directory
fd: lookups relative to it do not depend on the root or the cwd.  The fd is
a service fd, kept above the target's fd numbers and closed by the restorer
blob with criu's other fds.
"""

from __future__ import annotations

import fcntl
import os

from criu.errors import RestoreError
from criu.resources.base import ServiceFds


def _is_open(fd: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


class ProcSelf:
    """/proc/PID of the calling (new) task, opened before any chroot."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def open_here(cls, service_fds: ServiceFds, where: str) -> "ProcSelf":
        """Open /proc/self now: call it before any hook changes the root.
        The kernel resolves "self" at open time, so the fd stays on this
        task's directory whatever happens to the names later."""
        try:
            fd = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY |
                         os.O_CLOEXEC)
        except OSError as e:
            raise RestoreError(f"{where}: /proc/self: {e.strerror} (is /proc "
                               "mounted?)") from e
        return cls(service_fds.keep(fd, "/proc/self"))

    def open(self, name: str, flags: int) -> int:
        """An fd on /proc/self/NAME (opened with O_CLOEXEC added)."""
        return os.open(name, flags | os.O_CLOEXEC, dir_fd=self.fd)

    def read_text(self, name: str) -> str:
        fd = self.open(name, os.O_RDONLY)
        with open(fd, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()

    def fds(self) -> list[int]:
        """The fd numbers open now.  Listing needs fds of its own (ours and
        the one os.listdir duplicates it to); they are closed again by the
        time it returns, so only the numbers still open count."""
        fd = self.open("fd", os.O_RDONLY | os.O_DIRECTORY)
        try:
            names = os.listdir(fd)
        finally:
            os.close(fd)
        return sorted(n for n in map(int, names) if _is_open(n))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
