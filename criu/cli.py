"""The `criu` command line, after criu(8): `criu COMMAND [OPTIONS]`.

Options are one flat set shared by all commands, as in CRIU; each command
module in criu.actions reads the ones it needs (through parse_options(),
which also sets up logging).  Every CriuError ends the program with its
one-line message and exit status 1; a wrong or missing option is a
UsageError (exit 1, with a hint to -h).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from criu import log
from criu.actions import ACTIONS
from criu.errors import CriuError, UsageError, from_os_error
from criu.options import Options

VERSION = "0.1.0"

USAGE = """\
Usage:
  criu dump -t PID [<options>]
  criu restore [<options>]
  criu check [--feature FEAT] [--all]
  criu exec -t PID SYSCALL [ARGS...]

Commands:
  dump           checkpoint the process tree rooted at PID into images
  restore        recreate a process tree from images
  check          check whether the kernel supports what criu needs
  exec           run a system call inside a stopped task

Dump/restore options:
  -t|--tree PID          root of the tree to dump
  -D|--images-dir DIR    directory of the image files (default: .)
  -W|--work-dir DIR      directory for logs and pidfile (default: -D)
  -R|--leave-running     leave the tasks running after dump
  -s|--leave-stopped     leave the tasks stopped after dump
  -d|--restore-detached  do not wait for the restored tree to exit
  -S|--restore-sibling   restore the root as a sibling of criu (with -d)
  --exec-cmd -- CMD ...  restore: run CMD in place of criu once the tree
                         runs (it is then the root's parent); not with -d
  --freeze-cgroup DIR    dump: freeze with a cgroup freezer (not
                         supported yet: refused)
  -j|--shell-job         the tree was started from a shell (uses the
                         caller's terminal)
  -l|--file-locks        dump the file locks the tree holds (flock,
                         POSIX, OFD); without it such a tree is refused
  --evasive-devices      dump: a device other than /dev/null & co. is
                         reopened by its path at restore
  --pidfile FILE         write the restored root's PID to FILE
  --inherit-fd fd[N]:KEY restore: criu's fd N stands for the dumped file
                         KEY (pipe:[INODE] or a file path), e.g. the other
                         end of a pipe that stayed outside the tree
  --display-stats        print dump/restore statistics
  --ghost-limit SIZE     largest unlinked open file to keep in the images
                         (default 1M; K, M, G suffixes)

Check options:
  --feature FEAT         check one feature ("list" lists them)
  --all                  check every feature, including optional ones

Logging:
  -o|--log-file FILE     log to FILE (relative to -W; "-" is stderr)
  -v[v...]|-vNUM         verbosity: 0 msgs, 1 errors, 2 warnings (default),
                         3 info + timestamps, 4 debug
  --log-pid              one log file per process: FILE.PID

Other:
  -h|--help              this text
  -V|--version           show the version
"""


def _size(text: str) -> int:
    """A size like criu(8) takes it: bytes, or with a K, M or G suffix."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    scale = units.get(text[-1:].upper(), 1)
    digits = text[:-1] if scale != 1 else text
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"bad size: {text}")
    return int(digits) * scale


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as UsageError (exit 1, like criu)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (try criu -h)")


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
    # -v takes its value only attached (-v4, -vvv), like getopt's optional
    # arguments; parse_options turns a bare -v into --verbose-step.
    p.add_argument("-v", dest="verbosity", action="append", default=None)
    p.add_argument("--verbose-step", dest="verbosity",
                   action="append_const", const="", help=argparse.SUPPRESS)
    p.add_argument("--verbosity", dest="verbosity", action="append")
    p.add_argument("--log-pid", action="store_true")
    p.add_argument("--pidfile")
    p.add_argument("-R", "--leave-running", action="store_true")
    p.add_argument("-s", "--leave-stopped", action="store_true")
    p.add_argument("-d", "--restore-detached", action="store_true")
    p.add_argument("-S", "--restore-sibling", action="store_true")
    p.add_argument("--exec-cmd", dest="has_exec_cmd", action="store_true")
    p.add_argument("--freeze-cgroup")
    p.add_argument("-j", "--shell-job", action="store_true")
    p.add_argument("-l", "--file-locks", action="store_true")
    p.add_argument("--evasive-devices", action="store_true")
    p.add_argument("--display-stats", action="store_true")
    p.add_argument("--inherit-fd", dest="inherit_fds", action="append")
    p.add_argument("--ghost-limit", type=_size)
    p.add_argument("--feature", dest="features", action="append")
    p.add_argument("--all", "--extra", "--experimental", dest="check_all",
                   action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    p.add_argument("args", nargs="*")
    return p


def parse_options(command: str, argv: list[str], *,
                  positional_ok: bool = False,
                  create_dirs: bool = False) -> tuple[Options, list[str]]:
    """Parse a command's options, set up logging; return (opts, positionals).

    -h prints the help and exits 0.  Positional arguments are a usage error
    unless the command takes them (positional_ok).  create_dirs makes the
    images and work directories first (dump writes into them).
    """
    argv = ["--verbose-step" if a == "-v" else a for a in argv]
    ns = build_option_parser(command).parse_args(argv)
    if ns.help:
        print(USAGE, end="")
        raise SystemExit(0)
    if ns.version:
        print(f"Version: {VERSION}")
        raise SystemExit(0)
    if ns.has_exec_cmd:
        if command != "restore":
            raise UsageError("--exec-cmd is available for the restore "
                             "command only (try criu -h)")
        if ns.restore_detached:
            raise UsageError("--restore-detached and --exec-cmd cannot be "
                             "used together (try criu -h)")
        if not ns.args:
            raise UsageError("--exec-cmd requires a command (try criu -h)")
        ns.exec_cmd, ns.args = ns.args, []
    if ns.args and not positional_ok:
        raise UsageError(f"unexpected argument for {command}: "
                         f"{' '.join(ns.args)} (try criu -h)")
    try:
        ns.verbosity = log.parse_verbosity(ns.verbosity)
    except ValueError as e:
        raise UsageError(f"{e} (try criu -h)") from None
    opts = Options.from_namespace(ns)
    if create_dirs:
        for path in {opts.images_dir, opts.work_path}:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as e:
                raise CriuError(f"directory {path}: {e.strerror}") from e
    log.setup(opts.verbosity, opts.log_file, opts.work_path, opts.log_pid)
    return opts, list(ns.args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            print(USAGE, end="", file=sys.stderr)
            return 1
        if argv[0].startswith("-"):
            # Options may come before the command, as getopt allows.
            at = next((i for i, a in enumerate(argv) if a in ACTIONS), None)
            if at is not None:
                argv = [argv[at], *argv[:at], *argv[at + 1:]]
        if argv[0].startswith("-"):
            top = build_parser().parse_args(argv)
            if top.version:
                print(f"Version: {VERSION}")
                return 0
            if top.help:
                print(USAGE, end="")
                return 0
            raise UsageError(f"no command given before {argv[0]} "
                             "(try criu -h)")
        command = argv[0]
        if command not in ACTIONS:
            raise UsageError(f"unknown command: {command} (try criu -h)")
        module = importlib.import_module(ACTIONS[command])
        return int(module.run(command, argv[1:]) or 0)
    except CriuError as e:
        return _report(e)
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return 1
    except OSError as e:
        # Mapped here so that no traceback reaches the user.
        return _report(from_os_error(e, "criu"))
    except Exception as e:  # noqa: BLE001 - the last boundary
        import traceback
        log.get_logger().debug("%s", traceback.format_exc())
        return _report(CriuError(f"internal error: {type(e).__name__}: {e} "
                                 "(the log at -v4 has the traceback)"))


def _report(e: CriuError) -> int:
    """The one-line message for the user, on stderr, with where it happened
    (`Error (dump/files): ...`); also in the log when one is open, so -o
    FILE shows why the command failed."""
    where = e.where()
    line = f"Error ({where}): {e}" if where else f"Error: {e}"
    logger = log.get_logger()
    if logger.handlers and log.log_fd() is not None:
        logger.error("%s", line)
    print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
