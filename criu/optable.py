"""criu(8)'s options as CRIU 4.2 parses them, and a getopt_long that reads
them the way glibc does.

Scripts written for CRIU must run unchanged: every option of criu(8) 4.2
is in TABLE with its argument kind, so that bundled short options
(-dSs), attached arguments (-t42, -v4, --timeout=5), unambiguous
abbreviations (--images for --images-dir), "--no-NAME" for boolean
options and arguments anywhere on the line (permutation) parse as they
do for CRIU, including the odd ones (CRIU reads "-verbosity=0" as -v with
the argument "erbosity=0", which atoi() turns into 0).

An option whose feature this criu does not have yet is still parsed, and
then refused in one line naming it (Opt.missing): never ignored quietly.

Config files (criu(8) "CONFIGURATION FILES") give options too, one per
line without the leading dashes: /etc/criu/default.conf, then
$HOME/.criu/default.conf, then $CRIU_CONFIG_FILE, then --config FILE
(which, like --no-default-config, skips the two default files), then the
command line; a later value wins.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from criu.errors import UsageError

NONE, REQUIRED, OPTIONAL = "none", "required", "optional"


@dataclasses.dataclass(frozen=True)
class Opt:
    """One option of criu(8).

    long: its long name; short: its letter (or ""); arg: NONE, REQUIRED or
    OPTIONAL (getopt's has_arg); negatable: CRIU's BOOL_OPT, which also
    has "--no-NAME"; missing: why this criu refuses it (None: supported).
    """

    long: str
    short: str = ""
    arg: str = NONE
    negatable: bool = False
    missing: Optional[str] = None


def _todo(what: str) -> str:
    return f"{what} is not supported yet"


TABLE: tuple[Opt, ...] = (
    Opt("tree", "t", REQUIRED),
    Opt("leave-stopped", "s"),
    Opt("leave-running", "R"),
    Opt("restore-detached", "d", negatable=True),
    Opt("restore-sibling", "S", negatable=True),
    Opt("daemon", negatable=True),
    Opt("images-dir", "D", REQUIRED),
    Opt("work-dir", "W", REQUIRED),
    Opt("log-file", "o", REQUIRED),
    Opt("join-ns", "J", REQUIRED, missing=_todo("joining namespaces")),
    Opt("root", "r", REQUIRED, missing=_todo("restoring into another root")),
    Opt("ext-unix-sk", "x", OPTIONAL,
        missing=_todo("unix sockets with peers outside the tree")),
    Opt("help", "h"),
    Opt("tcp-established", negatable=True,
        missing=_todo("dumping established TCP connections")),
    Opt("close", arg=REQUIRED, missing=_todo("closing an fd before dump")),
    Opt("log-pid", negatable=True),
    Opt("version", "V"),
    Opt("evasive-devices", negatable=True),
    Opt("pidfile", arg=REQUIRED),
    Opt("veth-pair", arg=REQUIRED, missing=_todo("network namespaces")),
    Opt("action-script", arg=REQUIRED),
    Opt("link-remap", negatable=True),
    Opt("shell-job", "j", negatable=True),
    Opt("file-locks", "l", negatable=True),
    Opt("page-server", negatable=True, missing=_todo("the page server")),
    Opt("address", arg=REQUIRED, missing=_todo("the page server")),
    Opt("port", arg=REQUIRED, missing=_todo("the page server")),
    Opt("prev-images-dir", arg=REQUIRED,
        missing=_todo("incremental dumps (pre-dump)")),
    Opt("ms", missing=_todo("--ms")),
    Opt("track-mem", negatable=True,
        missing=_todo("memory tracking (pre-dump)")),
    Opt("auto-dedup", negatable=True, missing=_todo("image deduplication")),
    Opt("libdir", "L", REQUIRED, missing=_todo("plugins")),
    Opt("cpu-cap", arg=OPTIONAL),
    Opt("force-irmap", negatable=True,
        missing=_todo("inotify path resolution (irmap)")),
    Opt("ext-mount-map", "M", REQUIRED, missing=_todo("external mounts")),
    Opt("exec-cmd"),
    Opt("manage-cgroups", arg=OPTIONAL, missing=_todo("cgroups")),
    Opt("cgroup-root", arg=REQUIRED, missing=_todo("cgroups")),
    Opt("inherit-fd", arg=REQUIRED),
    Opt("feature", arg=REQUIRED),
    Opt("skip-mnt", arg=REQUIRED, missing=_todo("mount namespaces")),
    Opt("enable-fs", arg=REQUIRED, missing=_todo("mount namespaces")),
    Opt("enable-external-sharing", missing=_todo("mount namespaces")),
    Opt("enable-external-masters", missing=_todo("mount namespaces")),
    Opt("freeze-cgroup", arg=REQUIRED,
        missing="--freeze-cgroup is not supported yet (criu freezes the "
        "tree with ptrace, re-scanning it until no task appears)"),
    Opt("ghost-limit", arg=REQUIRED),
    Opt("irmap-scan-path", arg=REQUIRED,
        missing=_todo("inotify path resolution (irmap)")),
    Opt("lsm-profile", arg=REQUIRED, missing=_todo("LSM profiles")),
    Opt("timeout", arg=REQUIRED),
    Opt("external", arg=REQUIRED, missing=_todo("external resources")),
    Opt("empty-ns", arg=REQUIRED, missing=_todo("network namespaces")),
    Opt("lazy-pages", missing=_todo("lazy restore")),
    Opt("extra", negatable=True),
    Opt("experimental", negatable=True),
    Opt("all"),
    Opt("cgroup-props", arg=REQUIRED, missing=_todo("cgroups")),
    Opt("cgroup-props-file", arg=REQUIRED, missing=_todo("cgroups")),
    Opt("cgroup-dump-controller", arg=REQUIRED, missing=_todo("cgroups")),
    Opt("skip-in-flight", negatable=True,
        missing=_todo("dumping TCP connections")),
    Opt("deprecated", negatable=True),
    Opt("display-stats", negatable=True),
    Opt("weak-sysctls", negatable=True, missing=_todo("network namespaces")),
    Opt("status-fd", arg=REQUIRED,
        missing=_todo("--status-fd (for service, page-server, lazy-pages)")),
    Opt("tcp-close", negatable=True,
        missing=_todo("dumping TCP connections")),
    Opt("verbosity", "v", OPTIONAL),
    Opt("ps-socket", arg=REQUIRED, missing=_todo("the page server")),
    Opt("stream", negatable=True, missing=_todo("image streaming")),
    Opt("config", arg=REQUIRED),
    Opt("no-default-config"),
    Opt("tls-cacert", arg=REQUIRED, missing=_todo("TLS")),
    Opt("tls-cacrl", arg=REQUIRED, missing=_todo("TLS")),
    Opt("tls-cert", arg=REQUIRED, missing=_todo("TLS")),
    Opt("tls-key", arg=REQUIRED, missing=_todo("TLS")),
    Opt("tls", negatable=True, missing=_todo("TLS")),
    Opt("tls-no-cn-verify", missing=_todo("TLS")),
    Opt("cgroup-yard", arg=REQUIRED, missing=_todo("cgroups")),
    Opt("pre-dump-mode", arg=REQUIRED),
    Opt("file-validation", arg=REQUIRED),
    Opt("skip-file-rwx-check", negatable=True),
    Opt("lsm-mount-context", arg=REQUIRED, missing=_todo("LSM profiles")),
    Opt("network-lock", arg=REQUIRED),
    Opt("mntns-compat-mode", negatable=True,
        missing=_todo("mount namespaces")),
    Opt("unprivileged", negatable=True,
        missing=_todo("unprivileged mode")),
    Opt("ghost-fiemap", negatable=True),
    Opt("allow-uprobes", negatable=True),
)

BY_LONG = {o.long: o for o in TABLE}
BY_SHORT = {o.short: o for o in TABLE if o.short}


@dataclasses.dataclass(frozen=True)
class Given:
    """One option as given: its Opt, its argument (None if none), and
    whether it was the --no-NAME form; `spelled` for messages."""

    opt: Opt
    value: Optional[str]
    negated: bool = False
    spelled: str = ""


def _long(name: str) -> tuple[Opt, bool]:
    """An exact long name (or --no-NAME of a boolean), else a unique
    abbreviation, as getopt_long allows."""
    names: dict[str, tuple[Opt, bool]] = {}
    for o in TABLE:
        names[o.long] = (o, False)
        if o.negatable:
            names["no-" + o.long] = (o, True)
    if name in names:
        return names[name]
    matches = {k: v for k, v in names.items() if k.startswith(name)}
    if len({(v[0].long, v[1]) for v in matches.values()}) == 1 and name:
        return next(iter(matches.values()))
    if matches:
        raise UsageError(f"option '--{name}' is ambiguous; possibilities: "
                         + " ".join(f"'--{k}'" for k in sorted(matches))
                         + " (try criu -h)")
    raise UsageError(f"unrecognized option '--{name}' (try criu -h)")


def getopt(argv: list[str]) -> tuple[list[Given], list[str]]:
    """(options, positionals) of argv, GNU getopt_long style: options and
    positionals may mix; "--" ends the options."""
    given: list[Given] = []
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            opt, negated = _long(name)
            if opt.arg == NONE or negated:
                if eq:
                    raise UsageError(f"option '--{name}' doesn't allow an "
                                     "argument (try criu -h)")
                given.append(Given(opt, None, negated, "--" + opt.long))
            elif opt.arg == REQUIRED and not eq:
                if i >= len(argv):
                    raise UsageError(f"option '--{name}' requires an "
                                     "argument (try criu -h)")
                given.append(Given(opt, argv[i], False, "--" + opt.long))
                i += 1
            else:
                given.append(Given(opt, value if eq else None, False,
                                   "--" + opt.long))
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                letter = arg[j]
                opt_or_none = BY_SHORT.get(letter)
                if opt_or_none is None:
                    raise UsageError(f"invalid option -- '{letter}' "
                                     "(try criu -h)")
                opt = opt_or_none
                rest = arg[j + 1:]
                if opt.arg == NONE:
                    given.append(Given(opt, None, False, "-" + letter))
                    j += 1
                    continue
                if opt.arg == REQUIRED and not rest:
                    if i >= len(argv):
                        raise UsageError(f"option requires an argument -- "
                                         f"'{letter}' (try criu -h)")
                    rest = argv[i]
                    i += 1
                given.append(Given(opt, rest or None, False, "-" + letter))
                break
        else:
            positional.append(arg)
    return given, positional


# ----------------------------------------------------------- config files
def config_words(text: str, path: str) -> list[str]:
    """The command-line words of a config file: "name [value]" per line,
    "#" starts a comment, a value may be "quoted" (\\" inside)."""
    words: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ") if " " in line else \
            line.partition("\t")
        words.append("--" + name)
        rest = rest.strip()
        if not rest or rest.startswith("#"):
            continue
        if rest.startswith('"'):
            end = 1
            while True:
                end = rest.find('"', end)
                if end < 0:
                    raise UsageError(f"{path}:{number}: unterminated quote")
                if rest[end - 1] != "\\":
                    break
                end += 1
            value = rest[1:end].replace('\\"', '"')
            tail = rest[end + 1:].strip()
            if tail and not tail.startswith("#"):
                raise UsageError(f"{path}:{number}: more than one value "
                                 f"for {name}")
        else:
            value = rest.split("#", 1)[0].strip()
        words.append(value)
    return words


def config_argv(argv: list[str],
                env: Optional[dict[str, str]] = None) -> list[str]:
    """The words of every config file that applies, in CRIU's order (a
    later one overrides an earlier one; the command line comes last)."""
    env = dict(os.environ) if env is None else env
    explicit: Optional[str] = None
    no_default = False
    for i, arg in enumerate(argv):
        if arg == "--no-default-config":
            no_default = True
        elif arg == "--config" and i + 1 < len(argv):
            explicit, no_default = argv[i + 1], True
        elif arg.startswith("--config="):
            explicit, no_default = arg[len("--config="):], True
    files: list[tuple[str, bool]] = []
    if not no_default:
        files.append(("/etc/criu/default.conf", False))
        if env.get("HOME"):
            files.append((os.path.join(env["HOME"], ".criu",
                                       "default.conf"), False))
    if env.get("CRIU_CONFIG_FILE"):
        files.append((env["CRIU_CONFIG_FILE"], False))
    if explicit is not None:
        files.append((explicit, True))
    words: list[str] = []
    for path, required in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            # Like CRIU, a default file that cannot be read is no config
            # (HOME may be another user's); one named by --config must be.
            if required:
                raise UsageError(f"--config {path}: {e.strerror}") from e
            continue
        words.extend(config_words(text, path))
    return words


def atoi(text: str) -> int:
    """C's atoi(): the leading decimal digits (with a sign), else 0."""
    text = text.lstrip()
    sign, digits = 1, ""
    if text[:1] in "+-" and text[:1]:
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0
