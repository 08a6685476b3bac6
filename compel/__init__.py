"""compel: run code inside another process and leave no trace.

Usable on its own (it never imports criu):

    import compel
    with compel.seize(pid) as task:       # all threads frozen
        print(task.remote_syscall("getpid"))
        with StdParasite(task.infect(compel.default_parasite())) as p:  # compel.stdparasite
            actions = p.get_sigactions()
    # the task continues as if nothing happened

See compel/README.md for the full API.
"""

from typing import TYPE_CHECKING

from compel.errors import (AlreadyTracedError, BlobError, CompelError,
                           NoSuchTaskError, NotPermittedError, ParasiteError,
                           RemoteError, TaskError, ZombieTaskError)

__all__ = ["CompelError", "TaskError", "NoSuchTaskError", "ZombieTaskError",
           "AlreadyTracedError", "NotPermittedError", "RemoteError",
           "BlobError", "ParasiteError"]

from compel.task import Task, seize  # noqa: E402

if TYPE_CHECKING:
    import compel.arch
    from compel.blob import Blob

__all__ += ["Task", "seize", "default_parasite", "arch_xsave"]


def default_parasite() -> "Blob":
    """The standard parasite blob (compel/parasite/std.c) as a Blob; wrap
    the infected Parasite in compel.stdparasite.StdParasite for its typed
    commands (sigactions, creds, misc/rlimits, dump_pages ...)."""
    from compel.blob import Blob
    from compel.stdparasite import blob_path

    return Blob.load(blob_path())


def arch_xsave(data: bytes) -> "compel.arch.current.XSave":
    """Parse an XSAVE area (Task.get_xsave()) for the running arch."""
    from compel.arch import current

    return current.XSave(data)
