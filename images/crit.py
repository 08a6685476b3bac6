"""`crit`: decode, encode, show, info and explore CRIU image files.

Behaves like CRIU's crit and prints the same JSON. Every failure is one line
on stderr ("crit: FILE: offset N: what is wrong") and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

from . import explore
from .errors import ImageError
from .image import ImageReader, ImageWriter, info as image_info
from .jsonstream import JsonFormError, iter_image_json

STDIN = "<stdin>"


class CritFailure(Exception):
    """A one-line message for the user (file and reason already in it)."""


def _binary_in(path: str | None) -> tuple[BinaryIO, str]:
    if path:
        try:
            return open(path, "rb"), path
        except OSError as exc:
            raise CritFailure(f"{path}: {exc.strerror}") from None
    return sys.stdin.buffer, STDIN


def write_json_stream(magic: str, entries: Iterator[dict[str, Any]], out: TextIO, pretty: bool) -> None:
    """Print {"magic": ..., "entries": [...]} exactly as json.dump would,
    but one entry at a time, so a big image is never held whole."""
    if not pretty:
        out.write('{"magic": ' + json.dumps(magic) + ', "entries": [')
        first = True
        for entry in entries:
            if not first:
                out.write(", ")
            out.write(json.dumps(entry))
            first = False
        out.write("]}")
        return
    out.write('{\n    "magic": ' + json.dumps(magic) + ',\n    "entries": [')
    first = True
    for entry in entries:
        text = json.dumps(entry, indent=4).replace("\n", "\n        ")
        out.write(("\n        " if first else ",\n        ") + text)
        first = False
    out.write("]\n}" if first else "\n    ]\n}")


def cmd_decode(args: argparse.Namespace) -> None:
    f, path = _binary_in(args.input)
    with f if f is not sys.stdin.buffer else contextlib.nullcontext(f):
        reader = ImageReader(f, path)
        entries = reader.dicts(args.pretty, args.nopl)
        if args.output:
            try:
                with open(args.output, "w") as out:
                    write_json_stream(reader.magic, entries, out, args.pretty)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(args.output)
                raise
        else:
            write_json_stream(reader.magic, entries, sys.stdout, args.pretty)
            sys.stdout.write("\n")


def cmd_encode(args: argparse.Namespace) -> None:
    f, path = _binary_in(args.input)
    text = io.TextIOWrapper(f, encoding="utf-8")
    try:
        if args.output:
            try:
                with open(args.output, "wb") as out:
                    _encode_stream(text, out, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(args.output)
                raise
        else:
            _encode_stream(text, sys.stdout.buffer, path)
            sys.stdout.buffer.flush()
    finally:
        if f is not sys.stdin.buffer:
            text.close()
        else:
            text.detach()


def _encode_stream(text: io.TextIOWrapper, out: BinaryIO, path: str) -> None:
    """JSON image form in, image bytes out, one entry at a time."""
    try:
        magic_name, entries = iter_image_json(text)
        writer = ImageWriter(out, magic_name, path)
        for _, entry in entries:
            writer.write_dict(entry)
    except JsonFormError as exc:
        raise CritFailure(f"{path}: offset {exc.offset}: bad JSON: {exc.reason}") from None
    except UnicodeDecodeError as exc:
        raise CritFailure(f"{path}: offset {exc.start}: not JSON text "
                          "(is this a binary image? encode reads JSON)") from None


def cmd_info(args: argparse.Namespace) -> None:
    f, path = _binary_in(args.input)
    with f:
        result = image_info(f, path)
    print(json.dumps(result, indent=4))


def cmd_explore(args: argparse.Namespace) -> None:
    # Names that are not valid UTF-8 (paths, comm) go out as their raw bytes.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")
    try:
        explore.EXPLORERS[args.what](args.dir, sys.stdout)
    except (KeyError, IndexError, TypeError) as exc:
        raise CritFailure(f"{args.dir}: images are inconsistent for 'x {args.what}' "
                          f"({type(exc).__name__}: {exc})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crit", description="CRiu Image Tool")
    sub = parser.add_subparsers(dest="command", metavar="CMD",
                                help="Use crit CMD --help for command-specific help")

    p = sub.add_parser("decode", help="convert criu image from binary type to json")
    p.add_argument("--pretty", action="store_true",
                   help="Multiline with indents and some numerical fields in field-specific format")
    p.add_argument("-i", "--in", dest="input", help="criu image in binary format to be decoded (stdin by default)")
    p.add_argument("-o", "--out", dest="output", help="where to put criu image in json format (stdout by default)")
    p.set_defaults(func=cmd_decode, nopl=False)

    p = sub.add_parser("encode", help="convert criu image from json type to binary")
    p.add_argument("-i", "--in", dest="input", help="criu image in json format to be encoded (stdin by default)")
    p.add_argument("-o", "--out", dest="output", help="where to put criu image in binary format (stdout by default)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("info", help="show info about image")
    p.add_argument("input", metavar="in")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("x", help="explore image dir")
    p.add_argument("dir")
    p.add_argument("what", choices=sorted(explore.EXPLORERS))
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("show", help="convert criu image from binary to human-readable json")
    p.add_argument("input", metavar="in")
    p.add_argument("--nopl", action="store_true", help="do not show entry payload (if exists)")
    p.set_defaults(func=cmd_decode, pretty=True, output=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        sys.stderr.write("crit: error: too few arguments\n")
        return 1
    try:
        args.func(args)
        sys.stdout.flush()
    except (ImageError, CritFailure, explore.ExploreError) as exc:
        _fail(str(exc))
        return 1
    except BrokenPipeError:
        # The reader went away (crit ... | head): not an error of ours.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        name = exc.filename or "crit"
        _fail(f"{name}: {exc.strerror or exc}")
        return 1
    return 0


def _fail(line: str) -> None:
    sys.stderr.write("crit: " + line.replace("\n", " ") + "\n")


if __name__ == "__main__":
    sys.exit(main())
