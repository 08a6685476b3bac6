"""x86_64: registers, XSAVE layout, syscall numbers, the syscall insn."""

from compel.arch.x86 import syscalls
from compel.arch.x86.regs import (ERESTART_RESTARTBLOCK, ERESTARTNOHAND,
                                  ERESTARTNOINTR, ERESTARTSYS, RESTART_CODES,
                                  SYSCALL_INSN, UserFpregs, UserRegs)
from compel.arch.x86.xsave import XSave

NAME = "x86"
# gcc flags for blobs on this arch (code that runs inside a target).
BLOB_CFLAGS = ("-mno-red-zone", "-mcmodel=small", "-mno-sse", "-mno-mmx",
               "-mno-avx", "-mgeneral-regs-only")

__all__ = ["syscalls", "UserRegs", "UserFpregs", "XSave", "SYSCALL_INSN",
           "ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND",
           "ERESTART_RESTARTBLOCK", "RESTART_CODES", "NAME", "BLOB_CFLAGS"]
