"""Per-architecture parts of compel; `current` is the running machine's."""

from __future__ import annotations

import platform

_MACHINE = platform.machine()

if _MACHINE == "x86_64":
    from compel.arch import x86 as current
else:  # pragma: no cover - aarch64 comes later
    raise ImportError(f"compel: unsupported architecture {_MACHINE}")

__all__ = ["current"]
