"""The exception hierarchy of the images library.

Every failure to read or write an image is an ImageError whose str() is one
line naming the file, the byte offset of the entry that failed and what is
wrong with it, so that `crit` (and criu, which catches ImageError) can print
it as is and exit 1 instead of showing a traceback.
"""

from __future__ import annotations


class ImageError(Exception):
    """Base of all image errors.

    path: the image file (or "<stdin>"); offset: byte offset in the file of
    the entry (or header) being processed, None if not about a position;
    reason: what is wrong, without the file or offset.
    """

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(self._line())

    def _line(self) -> str:
        where = self.path
        if self.offset is not None:
            where += f": offset {self.offset}"
        return f"{where}: {self.reason}"


class TruncatedImage(ImageError):
    """The file ends in the middle of a header, a length, an entry or its payload."""


class CorruptedEntry(ImageError):
    """An entry's bytes do not parse as the message its image type holds."""


class UnknownMagic(ImageError):
    """The header's magic number belongs to no known image type."""


class WrongMagic(ImageError):
    """The image is of a known type, but not the one the caller asked for."""


class NoHandler(ImageError):
    """A known magic whose format is not protobuf entries (raw images, kdat)."""


class SchemaMissing(ImageError):
    """The generated protobuf module for this image type is not available."""


class BadJson(ImageError):
    """A JSON/dict image cannot be turned into entries (crit encode input)."""
