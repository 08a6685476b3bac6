"""The Python declaration of the restorer's arguments matches restorer.h.

Compiles a tiny C program that prints sizeof/offsetof of restorer.h and
compares with criu.restorer.args, so a field added on one side only fails.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

from criu.restorer import args

HEADER_DIR = pathlib.Path(args.__file__).parent

# Every field of every struct: one added on one side only fails.
LAYOUTS = [args.RESTORER_ARGS, args.RST_VMA, args.RST_MM_MAP, args.RST_CREDS,
           args.RST_SIGACTION, args.RST_MOVE, args.RST_RUN, args.RST_RLIMIT,
           args.RST_RANGE, args.RST_THREAD, args.RST_ITIMER,
           args.RST_POSIX_TIMER, args.RST_SECCOMP, args.RST_SECCOMP_FILTER]
CHECKS = {layout.name: (layout, [f[0] for f in layout.fields])
          for layout in LAYOUTS}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_layout_matches_header(tmp_path: pathlib.Path) -> None:
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             '#include "restorer.h"', 'int main(void) {']
    for struct_name, (_, fields) in CHECKS.items():
        lines.append(f'printf("{struct_name} %zu\\n", '
                     f'sizeof(struct {struct_name}));')
        for f in fields:
            lines.append(f'printf("{struct_name}.{f} %zu\\n", '
                         f'offsetof(struct {struct_name}, {f}));')
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run(["gcc", "-I", str(HEADER_DIR), "-o", str(exe), str(src)],
                   check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True,
                         text=True).stdout
    c_side = dict(line.split() for line in out.splitlines())
    py_side = {}
    for struct_name, (layout, fields) in CHECKS.items():
        py_side[struct_name] = str(layout.size)
        for f in fields:
            py_side[f"{struct_name}.{f}"] = str(layout.offset_of(f))
    assert py_side == c_side


def test_block_appends_arrays_at_absolute_addresses() -> None:
    block = args.RestorerBlock(base=0x10000)
    addr = block.add_array(args.RST_RANGE, [{"start": 1, "len": 2}])
    assert addr >= 0x10000 + args.RESTORER_ARGS.size
    assert addr % 16 == 0
    data = block.to_bytes()
    assert len(data) == block.size
    assert args.RST_RANGE.unpack(data, addr - 0x10000) == {"start": 1, "len": 2}
    head = args.RESTORER_ARGS.unpack(data)
    assert head["magic"] == args.RESTORER_ARGS_MAGIC
    assert head["version"] == args.RESTORER_ARGS_VERSION
