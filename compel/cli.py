"""The `compel` command: build blobs, look into them, run their commands.

    compel build [--parasite] [-I DIR] [-D NAME[=V]] -o OUT.blob FILE.c...
    compel show BLOB
    compel run -t PID BLOB CMD [--args HEX] [--out-size N]
    compel syscall -t PID NAME [ARG...]     (arguments as for criu exec)

Every failure prints one line "compel: ..." and exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from compel.errors import CompelError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CompelError(f"usage: {message}")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="compel", description="parasite code injection")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build a blob from C files")
    b.add_argument("-o", "--output", required=True)
    b.add_argument("--parasite", action="store_true",
                   help="link the parasite command loop and entry point")
    b.add_argument("-I", dest="includes", action="append", default=[])
    b.add_argument("-D", dest="defines", action="append", default=[])
    b.add_argument("sources", nargs="+")

    s = sub.add_parser("show", help="show a blob's sizes and entry points")
    s.add_argument("blob")

    r = sub.add_parser("run", help="infect PID with a parasite blob and run "
                       "one of its commands")
    r.add_argument("-t", "--tree", dest="pid", type=int, required=True)
    r.add_argument("blob")
    r.add_argument("cmd", type=lambda s: int(s, 0))
    r.add_argument("--args", default="", help="hex bytes put in the command area")
    r.add_argument("--out-size", type=int, default=0,
                   help="print this many bytes of the command area after")

    x = sub.add_parser("syscall", help="run a syscall inside PID")
    x.add_argument("-t", "--tree", dest="pid", type=int, required=True)
    x.add_argument("name")
    x.add_argument("args", nargs="*")
    return p


def cmd_build(opts: argparse.Namespace) -> int:
    from compel.build import build

    blob = build(opts.sources, opts.output, parasite=opts.parasite,
                 includes=opts.includes, defines=opts.defines)
    print(f"{opts.output}: {len(blob.image)} bytes + {blob.bss_size} bss, "
          f"{len(blob.relocs)} relocations")
    return 0


def cmd_show(opts: argparse.Namespace) -> int:
    from compel.blob import Blob

    blob = Blob.load(opts.blob)
    print(f"arch: {blob.arch}")
    print(f"image: {len(blob.image)} bytes, bss: {blob.bss_size} bytes, "
          f"relocations: {len(blob.relocs)}")
    print("entry points:")
    for name, off in sorted(blob.symbols.items(), key=lambda x: (x[1], x[0])):
        if not name.startswith("__compel_image") and name != "__compel_bss_end":
            print(f"  {off:#08x} {name}")
    return 0


def cmd_run(opts: argparse.Namespace) -> int:
    from compel.blob import Blob
    from compel.task import seize

    blob = Blob.load(opts.blob)
    try:
        args = bytes.fromhex(opts.args)
    except ValueError:
        raise CompelError(f"--args: not hex: {opts.args!r}") from None
    with seize(opts.pid) as task:
        with task.infect(blob) as parasite:
            ret, fds = parasite.call(opts.cmd, args)
            out = bytes(parasite.area[:opts.out_size])
    for fd in fds:  # fds the command sent back: only counted here
        os.close(fd)
    print(f"ret={ret} fds={len(fds)}")
    if out:
        print(out.hex())
    return 0


def cmd_syscall(opts: argparse.Namespace) -> int:
    from compel.execsys import exec_syscall

    print(exec_syscall(opts.pid, opts.name, opts.args).format())
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        opts = parser().parse_args(argv)
        return {"build": cmd_build, "show": cmd_show, "run": cmd_run,
                "syscall": cmd_syscall}[opts.command](opts)
    except CompelError as e:
        print(f"compel: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"compel: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("compel: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
