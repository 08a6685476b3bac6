"""soccr's exception hierarchy.

Every failure that soccr reports is a SoccrError, so a caller can catch one
type. The subclasses say which promise was broken, because callers react
differently: a socket that is not TCP or not connected is the caller's
mistake, a missing capability is an environment problem, an unsupported
state is a limit of this library. Errors raised by save() leave the original
socket usable; errors raised by restore() leave no socket behind.
"""


class SoccrError(Exception):
    """Base class of every error soccr raises."""


class NotTcpSocketError(SoccrError):
    """The object given is not an IPv4/IPv6 TCP socket."""


class NotConnectedError(SoccrError):
    """The TCP socket is not connected (listening, closed, or still connecting)."""


class UnsupportedStateError(SoccrError):
    """The connection is in a TCP state soccr refuses to save or restore.

    The state's name (for example CLOSE_WAIT) is in `state` and in the message.
    """

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class RepairPermissionError(SoccrError):
    """TCP repair mode was refused: the caller lacks CAP_NET_ADMIN."""


class UnstableStateError(SoccrError):
    """The connection kept changing while it was read.

    Packets from the peer were still being processed while the socket was in
    repair mode; the caller must stop the traffic (lock the network) first.
    """


class StateFormatError(SoccrError):
    """A saved state (dict, JSON or image message) is malformed."""


class RestoreError(SoccrError):
    """The kernel refused a step of restoring a connection."""
