"""The images directory of one dump or restore (-D DIR).

criu code names images by file name ("core-42.img", "pagemap-42.img",
"pages-1.img") and this class turns those into reads and writes through the
`images` library (framing, magics, protobuf), so no criu module handles
image bytes itself.  Raw images (pages-N.img) are handed out as plain file
descriptors: their contents move through the kernel, never through Python
objects page by page.

Every image is written under a temporary name and renamed into place when
complete, so a file that exists is a whole file; the pipeline writes
inventory.img last, so a directory without it is an unfinished dump.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Any, Iterable, Iterator

from criu.errors import ImageError

TMP_SUFFIX = ".partial"


class ImageDir:
    """An open images directory (kept open by fd, like CRIU does)."""

    def __init__(self, path: str | os.PathLike[str], *,
                 create: bool = False) -> None:
        self.path = pathlib.Path(path)
        try:
            if create:
                self.path.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY |
                              os.O_CLOEXEC)
        except OSError as e:
            raise ImageError(f"images dir {self.path}: {e.strerror}") from e

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "ImageDir":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- names ---------------------------------------------------------
    def file(self, name: str) -> pathlib.Path:
        return self.path / name

    # Every access is relative to the directory fd, so it keeps working in
    # a restored task after chroot or chdir.
    def _opener(self, name: str, flags: int) -> int:
        return os.open(name, flags | os.O_CLOEXEC, 0o600, dir_fd=self.fd)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    # -- protobuf images -----------------------------------------------
    def write(self, name: str, entries: Iterable[Any],
              magic: str | None = None) -> None:
        """Write a whole protobuf image atomically; entries are messages or
        (message, extra payload) pairs."""
        with self.writer(name, magic) as w:
            for entry in entries:
                if isinstance(entry, tuple):
                    w.write(*entry)
                else:
                    w.write(entry)

    @contextlib.contextmanager
    def writer(self, name: str, magic: str | None = None) -> Iterator[Any]:
        """A streaming writer: .write(msg[, extra]) per entry; extra is the
        raw payload of types that carry one (pipes-data, ...)."""
        from images.image import ImageWriter
        tmp = name + TMP_SUFFIX
        try:
            with open(tmp, "wb", opener=self._opener) as f:
                yield ImageWriter(f, magic or magic_of(name),
                                  str(self.file(name)))
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            raise

    def read(self, name: str, magic: str | None = None) -> list[Any]:
        """All entries' messages of a protobuf image."""
        return [e.msg for e in self.entries(name, magic)]

    def entries(self, name: str, magic: str | None = None) -> Iterator[Any]:
        """Stream images.Entry objects (msg, extra payload, offset)."""
        from images.errors import ImageError as LibImageError
        from images.image import ImageReader
        path = self.file(name)
        try:
            f = open(name, "rb", opener=self._opener)
        except FileNotFoundError:
            raise ImageError(f"{path}: image missing") from None
        except OSError as e:
            raise ImageError(f"{path}: {e.strerror}") from e
        try:
            with f:
                yield from ImageReader(f, str(path), magic or magic_of(name))
        except LibImageError as e:
            raise ImageError(str(e)) from e

    def read_one(self, name: str, magic: str | None = None) -> Any:
        """The single entry of a one-entry image (core, mm, fs, ...)."""
        entries = self.read(name, magic)
        if len(entries) != 1:
            raise ImageError(f"{self.file(name)}: expected one entry, "
                             f"found {len(entries)}")
        return entries[0]

    # -- raw images ----------------------------------------------------
    def open_raw(self, name: str, write: bool = False) -> int:
        """An fd on a raw image (pages-N.img); the caller closes it."""
        flags = os.O_CLOEXEC | (os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                                if write else os.O_RDONLY)
        try:
            return os.open(name, flags, 0o600, dir_fd=self.fd)
        except OSError as e:
            raise ImageError(f"{self.file(name)}: {e.strerror}") from e


# Image file name (without "-ID.img") -> crit's image type name.  Names
# and types are CRIU's: crit and CRIU read our directories.
MAGIC_OF_STEM: dict[str, str] = {
    "inventory": "INVENTORY", "pstree": "PSTREE", "core": "CORE",
    "ids": "IDS", "mm": "MM", "vmas": "VMAS", "pagemap": "PAGEMAP",
    "fdinfo": "FDINFO", "files": "FILES", "fs": "FS", "pipes": "PIPES",
    "pipes-data": "PIPES_DATA", "fifo": "FIFO", "fifo-data": "FIFO_DATA",
    "reg-files": "REG_FILES", "tty": "TTY_FILES", "tty-info": "TTY_INFO",
    "tty-data": "TTY_DATA", "creds": "CREDS", "sigacts": "SIGACT",
    "itimers": "ITIMERS", "posix-timers": "POSIX_TIMERS", "rlimit": "RLIMIT",
    "seccomp": "SECCOMP", "cgroup": "CGROUP", "utsns": "UTSNS",
    "ipcns-var": "IPC_VAR", "timens": "TIMENS", "userns": "USERNS",
    "stats-dump": "STATS", "stats-restore": "STATS", "mountpoints": "MNTS",
    "netdev": "NETDEV", "netns": "NETNS", "signal-p": "SIGNAL",
    "signal-s": "SIGNAL", "cpuinfo": "CPUINFO", "remap-fpath": "REMAP_FPATH",
    "ghost-file": "GHOST_FILE", "memfd": "MEMFD_INODE", "pidns": "PIDNS",
    "filelocks": "FILE_LOCKS",
}


def magic_of(name: str) -> str:
    """The image type of a file name: "core-42.img" -> "CORE"."""
    stem = name[:-4] if name.endswith(".img") else name
    head, _, tail = stem.rpartition("-")
    if tail.isdigit() and head:
        stem = head
    try:
        return MAGIC_OF_STEM[stem]
    except KeyError:
        raise ImageError(f"{name}: no image type known for this file "
                         "name") from None
