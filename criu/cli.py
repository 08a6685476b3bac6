"""The `criu` command line, after criu(8): `criu COMMAND [OPTIONS]`.

Options are one flat set shared by all commands, as in CRIU; each command
module in criu.actions reads the ones it needs (through parse_options(),
which also sets up logging).  Every CriuError ends the program with its
one-line message and exit status 1; a wrong or missing option is a
UsageError (exit 1, with a hint to -h).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Any, Callable

from criu import log, optable
from criu.actions import ACTIONS
from criu.errors import CriuError, UsageError, from_os_error
from criu.interrupt import TimedOut
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
  --link-remap           dump a file deleted but still linked elsewhere
                         through a link_remap.ID link next to its name
  -l|--file-locks        dump the file locks the tree holds (flock,
                         POSIX, OFD); without it such a tree is refused
  --evasive-devices      dump: a device other than /dev/null & co. is
                         reopened by its path at restore
  --pidfile FILE         write the restored root's PID to FILE
  --action-script CMD    run CMD (sh -c) at pre-dump, post-dump,
                         pre-restore, post-restore, pre-resume,
                         post-resume ($CRTOOLS_SCRIPT_ACTION)
  --inherit-fd fd[N]:KEY restore: criu's fd N stands for the dumped file
                         KEY (pipe:[INODE] or a file path), e.g. the other
                         end of a pipe that stayed outside the tree
  --display-stats        print dump/restore statistics
  --ghost-limit SIZE     largest unlinked open file to keep in the images
                         (default 1M; K, M, G suffixes)

  --timeout N            dump: give up after N seconds, tasks left as
                         they were
  --pre-dump-mode splice|read, --file-validation filesize,
  --network-lock iptables|nftables|skip, --cpu-cap CAPS, --deprecated,
  --skip-file-rwx-check, --ghost-fiemap, --allow-uprobes: accepted as
                         criu(8) says (see README for what they change)
  Every other option of criu(8) 4.2 is parsed and refused in one line
  naming it, until its feature exists.

Config files (criu(8) "CONFIGURATION FILES"):
  /etc/criu/default.conf, $HOME/.criu/default.conf, $CRIU_CONFIG_FILE,
  --config FILE (skips the two default ones), --no-default-config; one
  option per line without dashes ("images-dir /tmp/img", "shell-job").

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
        raise UsageError(f"bad size: {text} (try criu -h)")
    return int(digits) * scale


# Boolean options: Options field each one sets (the --no- form clears it).
_FLAGS = {
    "leave-stopped": "leave_stopped", "leave-running": "leave_running",
    "restore-detached": "restore_detached", "daemon": "restore_detached",
    "restore-sibling": "restore_sibling", "log-pid": "log_pid",
    "evasive-devices": "evasive_devices", "shell-job": "shell_job",
    "file-locks": "file_locks", "display-stats": "display_stats",
    "link-remap": "link_remap",
    "extra": "check_all", "experimental": "check_all", "all": "check_all",
    "deprecated": "deprecated", "skip-file-rwx-check": "skip_file_rwx_check",
    "ghost-fiemap": "ghost_fiemap", "allow-uprobes": "allow_uprobes",
    "help": "help", "version": "version", "exec-cmd": "has_exec_cmd",
}
# Options with a value: Options field, and how the text becomes its value.
_VALUES: dict[str, tuple[str, Callable[[str], object]]] = {
    "tree": ("pid", lambda v: _number(v, "-t/--tree")),
    "images-dir": ("images_dir", str), "work-dir": ("work_dir", str),
    "log-file": ("log_file", str), "pidfile": ("pidfile", str),
    "ghost-limit": ("ghost_limit", _size),
    "timeout": ("timeout", lambda v: _number(v, "--timeout")),
    "pre-dump-mode": ("pre_dump_mode",
                      lambda v: _choice(v, "--pre-dump-mode",
                                        ("splice", "read"))),
    "file-validation": ("file_validation",
                        lambda v: _choice(v, "--file-validation",
                                          ("filesize", "buildid"))),
    "network-lock": ("network_lock",
                     lambda v: _choice(v, "--network-lock",
                                       ("iptables", "nftables", "skip"))),
    "cpu-cap": ("cpu_cap", lambda v: _cpu_cap(v)),
}
_LISTS = {"inherit-fd": "inherit_fds", "feature": "features",
          "action-script": "action_scripts"}
# Read before parsing (config files) or handled on their own.
_SPECIAL = {"config", "no-default-config", "verbosity"}


def _number(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise UsageError(f"{what}: not a number: {text} (try criu -h)") \
            from None


def _choice(text: str, what: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise UsageError(f"{what}: unknown value {text} (one of "
                         f"{', '.join(allowed)})")
    return text


CPU_CAPS = ("all", "none", "cpu", "fpu", "ins", "image")


def _cpu_cap(text: str | None) -> str:
    for word in (text or "all").split(","):
        if word.lstrip("^") not in CPU_CAPS:
            raise UsageError(f"--cpu-cap: unknown capability {word} (one "
                             f"of {', '.join(CPU_CAPS)})")
    return text or "all"


def _verbosity(value: str | None) -> str:
    """One -v as log.parse_verbosity() takes it: "" for a bare -v, "vv"
    for -vvv, digits for -vN; anything else as CRIU's atoi() reads it
    ("-verbosity=0" is -v with "erbosity=0": level 0)."""
    if value is None:
        return ""
    if value.isdigit() or set(value) <= {"v"}:
        return value
    return str(max(0, optable.atoi(value)))


def parse_options(command: str, argv: list[str], *,
                  positional_ok: bool = False,
                  create_dirs: bool = False) -> tuple[Options, list[str]]:
    """Parse a command's options (config files first, then argv, which
    still holds the command word), set up logging; return (opts,
    positionals after the command).

    -h prints the help and exits 0.  Positional arguments are a usage error
    unless the command takes them (positional_ok).  create_dirs makes the
    images and work directories first (dump writes into them).  An option
    of criu(8) whose feature this criu lacks is refused by name.
    """
    words = optable.config_argv(argv) + list(argv)
    given, positional = optable.getopt(words)
    if positional and positional[0] == command:
        positional = positional[1:]
    # Options' fields by name, each value of its field's type.
    fields: dict[str, Any] = {}
    verbosity: list[str] = []
    for g in given:
        name = g.opt.long
        if g.opt.missing is not None and not g.negated:
            if name == "help":
                continue
            raise UsageError(f"{g.spelled}: {g.opt.missing}"
                             if not g.opt.missing.startswith("--")
                             else g.opt.missing)
        if name in _FLAGS:
            fields[_FLAGS[name]] = not g.negated
        elif name in _VALUES:
            field, convert = _VALUES[name]
            if g.value is not None:
                fields[field] = convert(g.value)
            elif name == "cpu-cap":
                fields[field] = _cpu_cap(None)      # a bare --cpu-cap: all
            else:
                fields[field] = None
        elif name in _LISTS:
            fields.setdefault(_LISTS[name], [])
            fields[_LISTS[name]].append(g.value)
        elif name == "verbosity":
            verbosity.append(_verbosity(g.value))
    if fields.get("help"):
        print(USAGE, end="")
        raise SystemExit(0)
    if fields.get("version"):
        print(f"Version: {VERSION}")
        raise SystemExit(0)
    if fields.get("file_validation") == "buildid":
        raise UsageError("--file-validation buildid is not supported yet "
                         "(filesize is: a file whose size changed is "
                         "refused at restore)")
    if fields.pop("has_exec_cmd", False):
        if command != "restore":
            raise UsageError("--exec-cmd is available for the restore "
                             "command only (try criu -h)")
        if fields.get("restore_detached"):
            raise UsageError("--restore-detached and --exec-cmd cannot be "
                             "used together (try criu -h)")
        if not positional:
            raise UsageError("--exec-cmd requires a command (try criu -h)")
        fields["exec_cmd"], positional = positional, []
    if positional and not positional_ok:
        raise UsageError(f"unexpected argument for {command}: "
                         f"{' '.join(positional)} (try criu -h)")
    try:
        fields["verbosity"] = log.parse_verbosity(verbosity or None)
    except ValueError as e:
        raise UsageError(f"{e} (try criu -h)") from None
    names = {f.name for f in dataclasses.fields(Options)}
    opts = Options(**{k: v for k, v in fields.items() if k in names})
    if create_dirs:
        for path in {opts.images_dir, opts.work_path}:
            try:
                os.makedirs(path, exist_ok=True)
            except OSError as e:
                raise CriuError(f"directory {path}: {e.strerror}") from e
    log.setup(opts.verbosity, opts.log_file, opts.work_path, opts.log_pid)
    return opts, positional


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if not argv:
            print(USAGE, end="", file=sys.stderr)
            return 1
        # The command is the first word that is no option nor an option's
        # argument, wherever it stands (getopt permutes).
        given, positional = optable.getopt(argv)
        names = {g.opt.long for g in given}
        if "help" in names:
            print(USAGE, end="")
            return 0
        if not positional:
            if "version" in names:
                print(f"Version: {VERSION}")
                return 0
            raise UsageError("no command given (try criu -h)")
        command = positional[0]
        if command not in ACTIONS:
            raise UsageError(f"unknown command: {command} (try criu -h)")
        module = importlib.import_module(ACTIONS[command])
        return int(module.run(command, list(argv)) or 0)
    except CriuError as e:
        return _report(e)
    except TimedOut as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
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
