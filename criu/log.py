"""Logging as criu(8) does it.

Levels (-vN): 0 messages only, 1 + errors, 2 + warnings (default), 3 + info
and timestamps, 4 + debug.  pr_msg-level messages ("Looks good.", stats)
always go to stdout without decoration; everything else goes to the log
(-o FILE, relative to the work dir -W, else stderr), filtered by level.  With
timestamps (-v3 and up) each line starts with "(SS.UUUUUU) ", seconds since
criu started, like CRIU's logs, and errors/warnings carry the source place:
"Error (criu/dump/pipeline.py:88): ...".  --log-pid gives every process
criu forks its own file, LOGFILE.PID.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Optional, TextIO

LOGGER_NAME = "criu"
MSG = 60            # above CRITICAL: never filtered, goes to stdout

_START_WALL = time.time()   # log timestamps count from criu's start
_VERBOSITY_TO_LEVEL = {0: MSG, 1: logging.ERROR, 2: logging.WARNING,
                       3: logging.INFO, 4: logging.DEBUG}


def parse_verbosity(values: Optional[list[str]], default: int = 2) -> int:
    """-v options (as argparse collected them) -> level 0..4.

    Like CRIU: "-v" adds one, "-vvv" adds three, "-v4" sets 4.  Values
    are what follows the option letter: "" for -v, "vv" for -vvv, "4".
    """
    level = default
    for v in values or []:
        if v.isdigit():
            level = int(v)
        elif set(v) <= {"v"}:
            level += len(v) + 1
        else:
            raise ValueError(f"bad verbosity: -v{v}")
    return max(0, min(level, 4))


class _Formatter(logging.Formatter):
    """CRIU's line shape: "(SS.UUUUUU) Error (file:line): message"."""

    def __init__(self, timestamps: bool) -> None:
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.ERROR and record.levelno != MSG:
            msg = f"Error ({_where(record)}): {msg}"
        elif record.levelno == logging.WARNING:
            msg = f"Warn  ({_where(record)}): {msg}"
        if self.timestamps:
            t = record.created - _START_WALL
            msg = f"({int(t):02d}.{int((t % 1) * 1e6):06d}) {msg}"
        if record.exc_info and logging.getLogger(
                LOGGER_NAME).isEnabledFor(logging.DEBUG):
            msg += "\n" + self.formatException(record.exc_info)
        return msg


def _where(record: logging.LogRecord) -> str:
    path = record.pathname
    marker = os.sep + "criu" + os.sep
    cut = path.rfind(marker)
    if cut >= 0:
        path = path[cut + 1:]
    return f"{path}:{record.lineno}"


class _StdoutMsgHandler(logging.Handler):
    """pr_msg: plain text on stdout, whatever the log destination."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno != MSG:
            return
        try:
            sys.stdout.write(record.getMessage() + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


class _NotMsg(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != MSG


class LogSetup:
    """The active log configuration (one per criu process)."""

    def __init__(self) -> None:
        self.verbosity = 2
        self.path: Optional[str] = None
        self.log_pid = False
        self.handler: Optional[logging.Handler] = None
        self.stream: Optional[TextIO] = None
        self.owns_stream = False        # a file criu opened, to close

_setup = LogSetup()


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup(verbosity: int = 2, log_file: Optional[str] = None,
          work_dir: Optional[str] = None, log_pid: bool = False) -> logging.Logger:
    """Configure the criu logger; log_file "-" means stderr."""
    logger = get_logger()
    for h in list(logger.handlers):
        logger.removeHandler(h)
        if h is _setup.handler and _setup.stream not in (None, sys.stderr):
            h.close()
            # A StreamHandler leaves its stream open: close it if ours.
            if _setup.owns_stream:
                try:
                    _setup.stream.close()
                except (OSError, ValueError):
                    pass
            _setup.stream = None
            _setup.owns_stream = False
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    _setup.verbosity = verbosity
    _setup.log_pid = log_pid
    _setup.path = None
    if log_file and log_file != "-":
        path = log_file
        if work_dir and not os.path.isabs(path):
            path = os.path.join(work_dir, path)
        if log_pid:
            path = f"{path}.{os.getpid()}"
        _setup.path = path
        try:
            stream: TextIO = open(path, "a", buffering=1, encoding="utf-8",
                                  errors="replace")
        except OSError as e:
            from criu.errors import CriuError
            raise CriuError(f"log file {path}: {e.strerror}") from e
        _setup.owns_stream = True
    else:
        stream = sys.stderr
    _setup.stream = stream
    handler = logging.StreamHandler(stream)
    handler.setLevel(_VERBOSITY_TO_LEVEL.get(verbosity, logging.DEBUG))
    handler.addFilter(_NotMsg())
    handler.setFormatter(_Formatter(timestamps=verbosity >= 3))
    _setup.handler = handler
    logger.addHandler(handler)
    logger.addHandler(_StdoutMsgHandler())
    return logger


def log_fd() -> Optional[int]:
    """The fd of the log file (None when logging to stderr)."""
    if _setup.stream is None or _setup.stream is sys.stderr:
        return None
    return _setup.stream.fileno()


def move_log_fd(min_fd: int) -> None:
    """Move the log (file or stderr) to an fd >= min_fd (close-on-exec).

    A restored child must place the target's fds at exact numbers; the log
    must not sit on one of them, nor follow fd 2 when the target's own
    stderr takes that number.
    """
    import fcntl
    stream = _setup.stream
    handler = _setup.handler
    if stream is None or not isinstance(handler, logging.StreamHandler):
        return
    try:
        old = stream.fileno()
    except (OSError, ValueError):
        return
    if old >= min_fd:
        return
    stream.flush()
    new = fcntl.fcntl(old, fcntl.F_DUPFD_CLOEXEC, min_fd)
    new_stream = os.fdopen(new, "a", buffering=1, encoding="utf-8",
                           errors="replace")
    handler.setStream(new_stream)
    _setup.stream = new_stream
    if _setup.owns_stream:
        stream.close()
    _setup.owns_stream = True


def reopen_for_pid() -> None:
    """After a fork with --log-pid: continue in LOGFILE.PID of this process."""
    if not _setup.log_pid or _setup.path is None:
        return
    base = _setup.path.rsplit(".", 1)[0]
    setup(_setup.verbosity, base, None, log_pid=True)


def pr_msg(fmt: str, *args: object) -> None:
    """A message for the user: stdout, never filtered (CRIU's pr_msg)."""
    get_logger().log(MSG, fmt, *args, stacklevel=2)


def flush() -> None:
    """Write out what the log holds (before os._exit in a forked task)."""
    for handler in get_logger().handlers:
        try:
            handler.flush()
        except (OSError, ValueError):
            pass
