"""The `criu` command line, after criu(8): `criu COMMAND [OPTIONS]`.

Options are one flat set shared by all commands, as in CRIU; each command
module in criu.actions reads the ones it needs.  Every CriuError ends the
program with its one-line message and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from criu.actions import ACTIONS
from criu.errors import CriuError, UsageError

VERSION = "0.1.0"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as UsageError (exit 1, like criu)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="criu", add_help=False,
                usage="criu COMMAND [OPTIONS]  (criu -h for help)")
    p.add_argument("command", nargs="?")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    return p


def build_option_parser(command: str) -> argparse.ArgumentParser:
    """The flat option set of criu(8); commands ignore what they don't use."""
    p = _Parser(prog=f"criu {command}", add_help=False)
    p.add_argument("-t", "--tree", dest="pid", type=int)
    p.add_argument("-D", "--images-dir", dest="images_dir", default=".")
    p.add_argument("-W", "--work-dir", dest="work_dir")
    p.add_argument("-o", "--log-file", dest="log_file")
    p.add_argument("-v", dest="verbosity", action="append", nargs="?",
                   const="v", default=None)
    p.add_argument("--log-pid", action="store_true")
    p.add_argument("--pidfile")
    p.add_argument("-R", "--leave-running", action="store_true")
    p.add_argument("-s", "--leave-stopped", action="store_true")
    p.add_argument("-d", "--restore-detached", action="store_true")
    p.add_argument("-j", "--shell-job", action="store_true")
    p.add_argument("--display-stats", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("args", nargs="*")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        top = build_parser().parse_args(argv[:1] if argv and not
                                        argv[0].startswith("-") else argv)
        if top.version:
            print(f"Version: {VERSION}")
            return 0
        if not argv or top.help and not top.command:
            print(build_parser().format_usage().strip())
            print("commands: " + " ".join(sorted(ACTIONS)))
            return 0 if top.help else 1
        command = argv[0]
        if command not in ACTIONS:
            raise UsageError(f"unknown command: {command}")
        module = importlib.import_module(ACTIONS[command])
        return int(module.run(command, argv[1:]) or 0)
    except CriuError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
