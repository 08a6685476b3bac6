"""The options of one criu command, after parsing (see criu/cli.py).

A plain dataclass rather than an argparse.Namespace so that library users
(and the RPC service later) can build one directly, and so that every
option has one documented default.
"""

from __future__ import annotations

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
    link_remap: bool = False            # --link-remap
    evasive_devices: bool = False       # --evasive-devices: reopen any
    #                                     device by path
    timeout: int = 0                    # --timeout N: dump gives up after
    #                                     N seconds (0: never)
    pre_dump_mode: str = "splice"       # --pre-dump-mode splice|read
    file_validation: str = "filesize"   # --file-validation filesize
    network_lock: str = "iptables"      # --network-lock iptables|nftables|skip
    cpu_cap: str = "fpu"                # --cpu-cap (restore: no CPU feature
    #                                     check is made yet: see README)
    deprecated: bool = False            # --deprecated
    skip_file_rwx_check: bool = False   # --skip-file-rwx-check
    ghost_fiemap: bool = True           # --ghost-fiemap (holes: SEEK_DATA)
    allow_uprobes: bool = False         # --allow-uprobes
    display_stats: bool = False         # --display-stats
    ghost_limit: int = 1 << 20          # --ghost-limit: largest unlinked file
    action_scripts: list[str] = dataclasses.field(default_factory=list)
    #                                   --action-script CMD (repeatable)
    inherit_fds: list[str] = dataclasses.field(default_factory=list)
    #                                   --inherit-fd fd[N]:KEY (restore)
    features: list[str] = dataclasses.field(default_factory=list)  # check
    check_all: bool = False             # check --all / --extra / --experimental

    @property
    def work_path(self) -> str:
        """Where logs and relative pidfiles go: -W, else the images dir."""
        return self.work_dir or self.images_dir

