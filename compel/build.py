"""Building blobs: C files -> position-independent ELF -> compel blob.

gcc compiles freestanding position-independent code (no libc, no stack
protector, no red zone: a parasite runs on a stack it shares with nobody,
but signal-free code must not rely on the red zone either); ld links it with
compel's linker script into one image at address 0 as a PIE, so that the
only relocations left are R_X86_64_RELATIVE ones, which the loader applies.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

from compel.arch import current as arch
from compel.blob import Blob
from compel.elf import (R_X86_64_NONE, R_X86_64_RELATIVE, SHN_UNDEF,
                        SHT_NOBITS, STB_LOCAL, Elf)
from compel.errors import BlobError

HERE = pathlib.Path(__file__).resolve().parent
ARCH_DIR = HERE / "arch" / arch.NAME

CFLAGS = ("-O2", "-g0", "-fpie", "-nostdlib", "-ffreestanding",
          "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
          "-fno-unwind-tables", "-fno-tree-loop-distribute-patterns",
          "-fvisibility=hidden", "-fno-common", "-fno-jump-tables",
          "-Wall", "-Wno-unused-function") + arch.BLOB_CFLAGS

RUNTIME = (HERE / "runtime" / "std.c",)
PARASITE_RUNTIME = (HERE / "runtime" / "parasite.c",
                    ARCH_DIR / "runtime" / "parasite-entry.S")


def include_dirs() -> list[pathlib.Path]:
    """Where <compel/...> headers come from (besides the generated one)."""
    return [HERE / "include", ARCH_DIR / "include"]


def syscall_header() -> str:
    """<compel/syscall-nr.h>: __NR_<name> and sys_<name>() for each line of
    the arch's syscalls.tbl."""
    lines = ["/* Generated from compel/arch/%s/syscalls.tbl: do not edit. */"
             % arch.NAME, "#ifndef COMPEL_SYSCALL_NR_H",
             "#define COMPEL_SYSCALL_NR_H", ""]
    for name, nr in sorted(arch.syscalls.table().items(), key=lambda x: x[1]):
        lines.append(f"#define __NR_{name} {nr}")
    lines += ["", "#ifndef __ASSEMBLER__"]
    for name in sorted(arch.syscalls.table()):
        lines.append(f"#define sys_{name}(...) "
                     f"compel_syscall(__NR_{name}, ##__VA_ARGS__)")
    lines += ["#endif", "", "#endif", ""]
    return "\n".join(lines)


def _run(cmd: list[str], what: str) -> None:
    """Run a compiler/linker; on failure, one line: its first error."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["?"]
        problems = [l for l in lines if "warning" not in l] or lines
        first = next((l for l in problems if any(
            k in l for k in ("error", "undefined", "multiple definition"))),
            problems[0])
        raise BlobError(f"{pathlib.Path(cmd[0]).name} failed on {what}: "
                        f"{first.strip()}")


def build(sources: Sequence[str | os.PathLike], output: str | os.PathLike,
          parasite: bool = False, includes: Sequence[str] = (),
          defines: Sequence[str] = (), cc: str = "gcc",
          ld: str = "ld") -> Blob:
    """Compile and link `sources` (C or .S files) into a blob at `output`.

    parasite=True links compel's command loop and entry point
    (__compel_parasite_entry): the blob can then be run by infect().
    """
    for tool in (cc, ld):
        if shutil.which(tool) is None:
            raise BlobError(f"building a blob needs {tool}, not found")
    with tempfile.TemporaryDirectory(prefix="compel-build-") as tmp:
        tmpdir = pathlib.Path(tmp)
        gen = tmpdir / "include" / "compel"
        gen.mkdir(parents=True)
        (gen / "syscall-nr.h").write_text(syscall_header())
        incs = [f"-I{d}" for d in (*includes, tmpdir / "include",
                                   *include_dirs())]
        defs = [f"-D{d}" for d in defines]
        objs = []
        all_sources = [pathlib.Path(s) for s in sources] + list(RUNTIME)
        if parasite:
            all_sources += list(PARASITE_RUNTIME)
        for i, src in enumerate(all_sources):
            if not src.exists():
                raise BlobError(f"{src}: no such file")
            obj = tmpdir / f"{i}-{src.stem}.o"
            _run([cc, *CFLAGS, *incs, *defs, "-c", str(src), "-o", str(obj)],
                 str(src))
            objs.append(str(obj))
        elf_path = tmpdir / "blob.elf"
        _run([ld, "-pie", "--no-dynamic-linker", "-z", "norelro",
              "-z", "noexecstack", "--hash-style=sysv", "-Bsymbolic",
              "-T", str(ARCH_DIR / "blob.lds"), "-o", str(elf_path), *objs],
             str(output))
        blob = blob_from_elf(elf_path.read_bytes(), str(output))
    blob.save(output)
    return blob


def blob_from_elf(data: bytes, name: str = "") -> Blob:
    """Turn our linked PIE into a Blob (image, bss size, relocs, symbols)."""
    elf = Elf(data)
    syms = elf.symbols()
    by_name = {s.name: s for s in syms}
    try:
        image_end = by_name["__compel_image_end"].value
        bss_end = by_name["__compel_bss_end"].value
    except KeyError:
        raise BlobError(f"{name}: not linked with compel's linker script") from None
    undefined = sorted({s.name for s in syms if s.shndx == SHN_UNDEF and s.name})
    if undefined:
        raise BlobError(f"{name}: undefined symbols: {', '.join(undefined)}")
    image = bytearray(image_end)
    for sec in elf.sections:
        if sec.type == SHT_NOBITS or not sec.size or sec.addr >= image_end:
            continue
        if sec.addr == 0 and sec.name != ".text":
            continue  # not allocated
        image[sec.addr:sec.addr + sec.size] = data[sec.offset:sec.offset + sec.size]
    relocs = []
    for rel in elf.relocations():
        if rel.type == R_X86_64_NONE:
            continue
        if rel.type != R_X86_64_RELATIVE:
            raise BlobError(f"{name}: unsupported relocation type {rel.type} "
                            f"at {rel.offset:#x} (only position-independent "
                            "code with hidden symbols is allowed)")
        if rel.offset + 8 > image_end:
            raise BlobError(f"{name}: relocation at {rel.offset:#x} is in bss")
        image[rel.offset:rel.offset + 8] = rel.addend.to_bytes(8, "little")
        relocs.append(rel.offset)
    symbols = {s.name: s.value for s in syms
               if s.bind != STB_LOCAL and s.shndx != SHN_UNDEF and s.name
               and not s.name.startswith("_GLOBAL_")}
    return Blob(arch.NAME, bytes(image), bss_end - image_end, sorted(relocs),
                symbols, name)
