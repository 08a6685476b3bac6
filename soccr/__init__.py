"""soccr: save and restore a live TCP connection (TCP repair), on its own.

    state = soccr.save(sock)        # repair mode on, whole state read
    soccr.release(sock)             # closed in repair mode: the peer sees nothing
    new = soccr.restore(state)      # a new socket carrying the connection on

TcpState serialises to a dict/JSON (to_dict/from_dict, to_json/from_json) and
to CRIU's tcp-stream image (to_image/from_image). See soccr/README.md.
This package imports neither criu nor compel.
"""

from .errors import (
    NotConnectedError,
    NotTcpSocketError,
    RepairPermissionError,
    RestoreError,
    SoccrError,
    StateFormatError,
    UnstableStateError,
    UnsupportedStateError,
)
from .restore import restore
from .save import release, save
from .state import TcpState, TcpWindow

__all__ = [
    "save",
    "release",
    "restore",
    "TcpState",
    "TcpWindow",
    "SoccrError",
    "NotTcpSocketError",
    "NotConnectedError",
    "UnsupportedStateError",
    "RepairPermissionError",
    "UnstableStateError",
    "StateFormatError",
    "RestoreError",
]
