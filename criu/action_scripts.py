"""--action-script: user scripts run at fixed points of dump and restore,
as criu(8) describes ("ACTION SCRIPTS").

Each script is run with /bin/sh -c, in criu's environment plus
CRTOOLS_SCRIPT_ACTION (the point: pre-dump, post-dump, pre-restore,
post-restore, pre-resume, post-resume), CRTOOLS_IMAGE_DIR (the images
directory) and CRTOOLS_INIT_PID (the root of the tree, where it is known).
A script that fails (exits non-zero) fails the command: a dump then leaves
the tree running, a restore leaves nothing behind.  The network points
(network-lock, network-unlock, setup-namespaces) belong to network
namespaces, which this criu does not restore yet: never called.
"""

from __future__ import annotations

import os
import subprocess
from typing import Optional

from criu import log
from criu.errors import CriuError
from criu.options import Options


def run(opts: Options, action: str, pid: Optional[int] = None) -> None:
    """Run every --action-script for `action`; CriuError if one fails."""
    if not opts.action_scripts:
        return
    env = dict(os.environ)
    env["CRTOOLS_SCRIPT_ACTION"] = action
    env["CRTOOLS_IMAGE_DIR"] = os.path.abspath(opts.images_dir)
    if pid is not None:
        env["CRTOOLS_INIT_PID"] = str(pid)
    for script in opts.action_scripts:
        log.get_logger().info("Running %s action script: %s", action, script)
        try:
            r = subprocess.run(["/bin/sh", "-c", script], env=env,
                               stdin=subprocess.DEVNULL)
        except OSError as e:
            raise CriuError(f"action script {script!r} at {action}: "
                            f"{e.strerror}") from e
        if r.returncode != 0:
            raise CriuError(f"action script {script!r} failed at {action} "
                            f"(exit status {r.returncode})")
