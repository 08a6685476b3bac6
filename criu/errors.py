"""The one exception hierarchy of the criu engine.

Every failure the user can cause or meet is a CriuError whose message is a
single line naming the task, the resource and the reason; the command line
prints it and exits 1, never a traceback.
"""


import errno as _errno
from typing import Optional


class CriuError(Exception):
    """Base of all criu errors: str(err) is the one-line message.

    The pipelines attach where it happened: the stage ("dump", "restore"),
    the resource module, the task and the errno, as attributes; the command
    line prints them as `Error (dump/files): task 1234: fd 7: ...`.
    """

    def __init__(self, message: str = "", *, stage: Optional[str] = None,
                 resource: Optional[str] = None, task: Optional[int] = None,
                 errno: Optional[int] = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.resource = resource
        self.task = task
        self.errno = errno

    def attach(self, stage: str, resource: Optional[str] = None,
               task: Optional[int] = None) -> "CriuError":
        """Fill in where it happened, unless already known; returns self."""
        self.stage = self.stage or stage
        self.resource = self.resource or resource
        self.task = self.task if self.task is not None else task
        return self

    def where(self) -> str:
        """ "dump/files", "restore", or "" when unknown."""
        return "/".join(p for p in (self.stage, self.resource) if p)

    def copy_where(self, other: "CriuError") -> "CriuError":
        """Take over where another error happened; returns self."""
        self.stage, self.resource = other.stage, other.resource
        self.task, self.errno = other.task, other.errno
        return self


def from_os_error(e: OSError, what: str, **where: object) -> "CriuError":
    """One line for an OSError: what failed, the reason and errno's name."""
    name = _errno.errorcode.get(e.errno or 0, "")
    reason = e.strerror or str(e)
    text = f"{what}: {reason}" + (f" ({name})" if name else "")
    return CriuError(text, errno=e.errno, **where)  # type: ignore[arg-type]


class UsageError(CriuError):
    """Bad or missing command-line option."""


class DumpError(CriuError):
    """A dump step failed; the tasks have been left running as they were."""


class RestoreError(CriuError):
    """A restore step failed; nothing is left half-restored."""


class ImageError(CriuError):
    """An image directory or file is missing, incomplete or corrupt."""
