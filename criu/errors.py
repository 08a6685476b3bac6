"""The one exception hierarchy of the criu engine.

Every failure the user can cause or meet is a CriuError whose message is a
single line naming the task, the resource and the reason; the command line
prints it and exits 1, never a traceback.
"""


class CriuError(Exception):
    """Base of all criu errors: str(err) is the one-line message."""


class UsageError(CriuError):
    """Bad or missing command-line option."""


class DumpError(CriuError):
    """A dump step failed; the tasks have been left running as they were."""


class RestoreError(CriuError):
    """A restore step failed; nothing is left half-restored."""


class ImageError(CriuError):
    """An image directory or file is missing, incomplete or corrupt."""
