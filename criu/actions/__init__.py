"""The commands of criu(8): name -> module with a run(opts) -> int function.

Modules are imported lazily so `criu exec` does not pay for dump/restore.
"""

ACTIONS: dict[str, str] = {
    "dump": "criu.actions.dump",
    "restore": "criu.actions.restore",
    "check": "criu.actions.check",
    "exec": "criu.actions.exec",
}
