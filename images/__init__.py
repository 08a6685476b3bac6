"""CRIU image files: read and write them as protobuf messages or crit dicts.

    from images import open_image, write_image, load, dump
    with open_image("dir/pstree.img") as img:
        for entry in img:            # Entry(msg, extra, offset), streamed
            print(entry.msg.pid)

Failures raise images.errors.ImageError (one line: file, offset, reason).
This package never imports criu.
"""

from .errors import ImageError
from .image import (Entry, ImageReader, ImageWriter, dump, dumps, image_type, info, load,
                    loads, open_image, read_entries, write_image)

__all__ = [
    "ImageError", "Entry", "ImageReader", "ImageWriter", "open_image", "read_entries",
    "write_image", "load", "loads", "dump", "dumps", "info", "image_type",
]
