"""x86_64: registers and XSAVE state in core images, the rt_sigframe."""

from criu.arch.x86 import cpu, sigframe

# Top of the user address space with 4-level page tables.
TASK_SIZE = 0x7FFFFFFFF000

__all__ = ["cpu", "sigframe", "TASK_SIZE"]
