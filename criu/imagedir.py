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

    def exists(self, name: str) -> bool:
        return self.file(name).exists()

    def names(self) -> list[str]:
        return sorted(os.listdir(self.path))

    # -- protobuf images -----------------------------------------------
    def write(self, name: str, entries: Iterable[Any]) -> None:
        """Write a whole protobuf image of messages, atomically."""
        with self.writer(name) as w:
            for entry in entries:
                w.write(entry)

    @contextlib.contextmanager
    def writer(self, name: str) -> Iterator[Any]:
        """A streaming writer: .write(msg), .write_extra(bytes) when the
        image type carries raw payload after an entry (pipes-data, ...)."""
        from images import image as imglib
        final = self.file(name)
        tmp = final.with_name(final.name + TMP_SUFFIX)
        try:
            with imglib.open_writer(tmp, image_type_of(name)) as w:
                yield w
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def read(self, name: str) -> list[Any]:
        """All entries of a protobuf image, as messages."""
        return list(self.iter(name))

    def iter(self, name: str) -> Iterator[Any]:
        from images import image as imglib
        path = self.file(name)
        if not path.exists():
            raise ImageError(f"{path}: image missing")
        with imglib.open_reader(path) as r:
            yield from r

    def read_one(self, name: str) -> Any:
        """The single entry of a one-entry image (core, mm, fs, ...)."""
        entries = self.read(name)
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


def image_type_of(name: str) -> str:
    """The image type of a file name: "core-42.img" -> "core"."""
    stem = name[:-4] if name.endswith(".img") else name
    head, _, tail = stem.rpartition("-")
    return head if tail.isdigit() and head else stem
