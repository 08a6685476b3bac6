"""The options of one criu command, after parsing (see criu/cli.py).

A plain dataclass rather than an argparse.Namespace so that library users
(and the RPC service later) can build one directly, and so that every
option has one documented default.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Optional


@dataclasses.dataclass
class Options:
    """criu(8) options; each command reads the ones it needs."""

    pid: Optional[int] = None           # -t/--tree
    images_dir: str = "."               # -D/--images-dir
    work_dir: Optional[str] = None      # -W/--work-dir (logs, pidfile go here)
    log_file: Optional[str] = None      # -o/--log-file, relative to work dir
    verbosity: int = 2                  # -v: 0..4 (criu default 2)
    log_pid: bool = False               # --log-pid: one log file per pid
    pidfile: Optional[str] = None       # --pidfile
    leave_running: bool = False         # -R
    leave_stopped: bool = False         # -s
    restore_detached: bool = False      # -d
    restore_sibling: bool = False       # -S: the root a sibling of criu
    exec_cmd: list[str] = dataclasses.field(default_factory=list)
    #                                   restore --exec-cmd -- CMD ARGS...
    freeze_cgroup: Optional[str] = None  # --freeze-cgroup DIR (dump)
    shell_job: bool = False             # -j
    file_locks: bool = False            # -l/--file-locks: dump file locks
    evasive_devices: bool = False       # --evasive-devices: reopen any
    #                                     device by path
    display_stats: bool = False         # --display-stats
    ghost_limit: int = 1 << 20          # --ghost-limit: largest unlinked file
    inherit_fds: list[str] = dataclasses.field(default_factory=list)
    #                                   --inherit-fd fd[N]:KEY (restore)
    features: list[str] = dataclasses.field(default_factory=list)  # check
    check_all: bool = False             # check --all / --extra / --experimental

    @property
    def work_path(self) -> str:
        """Where logs and relative pidfiles go: -W, else the images dir."""
        return self.work_dir or self.images_dir

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> "Options":
        """Take every attribute named like a field; ignore the rest."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(ns).items()
                      if k in names and v is not None})
