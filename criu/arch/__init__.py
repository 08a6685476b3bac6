"""Per-architecture parts of criu; `current` is the running machine's.

Each architecture package (criu/arch/<name>/) provides `cpu` (registers and
FPU state <-> core images) and `sigframe` (the rt_sigframe the restorer
returns through).  Syscall numbers, register layouts and the syscall
instruction come from compel's tables (compel.arch.current), never written
inline.
"""

from __future__ import annotations

import platform

_MACHINE = platform.machine()

if _MACHINE == "x86_64":
    from criu.arch import x86 as current
else:  # pragma: no cover - aarch64 comes later
    raise ImportError(f"criu: unsupported architecture {_MACHINE}")

__all__ = ["current"]
