"""Generated protobuf modules (built by make from images/proto)."""

import importlib
import os


def load_all() -> None:
    """Import every schema now: criu does it before freezing a tree (the
    frozen time is what the tasks feel) and before forking a restored one
    (every task inherits them instead of importing them again)."""
    here = os.path.dirname(__file__)
    for name in sorted(os.listdir(here)):
        if name.endswith("_pb2.py"):
            importlib.import_module(f"{__name__}.{name[:-3]}")
