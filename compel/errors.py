"""The one exception hierarchy of compel.

Native calls raise OSError subclasses (ProcessLookupError, PermissionError,
...) carrying errno; the injector turns the failures a user can meet into a
CompelError whose str() is one line naming the task and the reason.
"""

from __future__ import annotations


class CompelError(Exception):
    """Base of compel's errors: str(err) is a one-line message."""


class TaskError(CompelError):
    """The task cannot be seized: gone, a zombie, traced, not permitted."""


class NoSuchTaskError(TaskError):
    """The PID does not exist."""


class ZombieTaskError(TaskError):
    """The task is a zombie: it has no memory or registers left to work on."""


class AlreadyTracedError(TaskError):
    """Another tracer already holds the task."""


class NotPermittedError(TaskError):
    """The kernel refuses to let us trace the task (EPERM)."""


class RemoteError(CompelError):
    """Running code inside the task failed (remote syscall, parasite)."""


class BlobError(CompelError):
    """A blob file is malformed, or building one failed."""


class ParasiteError(RemoteError):
    """The parasite died, answered wrongly or a command returned an error."""
