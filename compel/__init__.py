"""compel: run code inside another process and leave no trace.

Usable on its own (it never imports criu):

    import compel
    with compel.seize(pid) as task:       # all threads frozen
        print(task.remote_syscall("getpid"))
        with task.infect(compel.default_parasite()) as parasite:
            actions = parasite.call(...)
    # the task continues as if nothing happened

See compel/README.md for the full API.
"""

from compel.errors import (AlreadyTracedError, BlobError, CompelError,
                           NoSuchTaskError, NotPermittedError, ParasiteError,
                           RemoteError, TaskError, ZombieTaskError)

__all__ = ["CompelError", "TaskError", "NoSuchTaskError", "ZombieTaskError",
           "AlreadyTracedError", "NotPermittedError", "RemoteError",
           "BlobError", "ParasiteError"]

from compel.task import Task, seize  # noqa: E402

__all__ += ["Task", "seize"]


def arch_xsave(data: bytes):
    """Parse an XSAVE area (Task.get_xsave()) for the running arch."""
    from compel.arch import current

    return current.XSave(data)
