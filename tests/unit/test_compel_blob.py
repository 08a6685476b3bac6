"""Blobs without root: build, file format, relocation, running in our own
process, and C/Python struct layouts agreeing."""

from __future__ import annotations

import ctypes
import os
import subprocess

import pytest

from compel.blob import Blob
from compel.build import build, include_dirs, syscall_header
from compel.errors import BlobError
from compel.infect import ParasiteHeader
from compel.stdparasite import KSigaction, KStack, StdCreds, StdMisc

SOURCE = r"""
#include <compel/sys.h>
#include <compel/std.h>

static const char *names[] = { "zero", "one", "two" };
static int calls;

COMPEL_EXPORT long add(long a, long b) { calls++; return a + b; }
COMPEL_EXPORT long my_pid(void) { return sys_getpid(); }
COMPEL_EXPORT const char *name_of(int i) { return names[i]; }
COMPEL_EXPORT int count(void) { return calls; }
COMPEL_EXPORT int format(char *buf, int n)
{
	return std_snprintf(buf, n, "%s|%d|%u|%08lx|%x|%p|%c|%%|%5d", names[1],
			    -42, 7u, 0xbeefUL, 255, (void *)0x10, 'z', 3);
}
COMPEL_EXPORT long write_to(int fd, const char *s) { return sys_write(fd, s, strlen(s)); }
"""


@pytest.fixture(scope="module")
def blob(tmp_path_factory) -> Blob:
    d = tmp_path_factory.mktemp("blob")
    src = d / "t.c"
    src.write_text(SOURCE)
    return build([src], d / "t.blob")


def test_symbols_and_relocations(blob):
    assert {"add", "my_pid", "name_of", "count", "format"} <= set(blob.symbols)
    assert len(blob.relocs) == 3  # the three pointers of names[]
    assert blob.bss_size >= 4     # `calls`
    base = 0x7F0000000000
    moved = blob.relocated(base)
    for off in blob.relocs:
        value = int.from_bytes(moved[off:off + 8], "little")
        original = int.from_bytes(blob.image[off:off + 8], "little")
        assert value == base + original and original < len(blob.image)


def test_file_round_trip(blob, tmp_path):
    path = tmp_path / "copy.blob"
    blob.save(path)
    again = Blob.load(path)
    assert (again.image, again.relocs, again.symbols, again.bss_size) == \
        (blob.image, blob.relocs, blob.symbols, blob.bss_size)


def test_runs_in_our_process(blob):
    with blob.map_local() as local:
        add = local.function("add", ctypes.c_long, ctypes.c_long, ctypes.c_long)
        assert add(2, 40) == 42 and add(-1, 1) == 0
        assert local.function("count", ctypes.c_int)() == 2
        assert local.function("my_pid", ctypes.c_long)() == os.getpid()
        name_of = local.function("name_of", ctypes.c_char_p, ctypes.c_int)
        assert [name_of(i) for i in range(3)] == [b"zero", b"one", b"two"]
        buf = ctypes.create_string_buffer(80)
        fmt = local.function("format", ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        n = fmt(buf, 80)
        assert buf.value == b"one|-42|7|0000beef|ff|0x10|z|%|    3"
        assert n == len(buf.value)
        r, w = os.pipe()
        write_to = local.function("write_to", ctypes.c_long, ctypes.c_int,
                                  ctypes.c_char_p)
        assert write_to(w, b"through sys_write") == 17
        assert os.read(r, 100) == b"through sys_write"
        assert write_to(-1, b"x") == -9  # raw -EBADF, no errno
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("data, what", [
    (b"NOTABLOB" + bytes(40), "bad magic"),
    (b"CMPLBLB1", "bad magic"),
])
def test_bad_blob_files(data, what):
    with pytest.raises(BlobError, match=what):
        Blob.from_bytes(data)


def test_truncated_image(blob):
    data = blob.to_bytes()[:-10]
    with pytest.raises(BlobError, match="truncated"):
        Blob.from_bytes(data)


def test_undefined_symbol_is_an_error(tmp_path):
    src = tmp_path / "u.c"
    src.write_text("extern int nowhere(void);\nint f(void) { return nowhere(); }\n")
    with pytest.raises(BlobError, match="nowhere"):
        build([src], tmp_path / "u.blob")


def test_missing_symbol(blob):
    with pytest.raises(BlobError, match="no symbol 'nope'"):
        blob.symbol("nope")


def test_syscall_header_from_table():
    header = syscall_header()
    assert "#define __NR_read 0\n" in header
    assert "#define __NR_clone3 435\n" in header
    assert "#define sys_getpid(...) compel_syscall(__NR_getpid, ##__VA_ARGS__)" in header


LAYOUT_PROGRAM = r"""
#include <stdio.h>
#include <stddef.h>
#include <compel/parasite.h>
#include "std.h"
#define S(t) printf(#t " %zu\n", sizeof(struct t))
#define O(t, f) printf(#t "." #f " %zu\n", offsetof(struct t, f))
int main(void)
{
	S(compel_parasite_header); O(compel_parasite_header, sun_path);
	O(compel_parasite_header, cmd_area_offset);
	S(k_sigaction); S(k_stack); S(std_creds); O(std_creds, groups);
	O(std_creds, cap_bnd); S(std_misc); O(std_misc, rlimits);
	O(std_misc, clear_tid_addr); S(compel_msg);
	return 0;
}
"""


def test_c_and_python_structs_agree(tmp_path, project_root):
    src = tmp_path / "layout.c"
    src.write_text(LAYOUT_PROGRAM)
    exe = tmp_path / "layout"
    incs = [f"-I{d}" for d in include_dirs()]
    incs.append(f"-I{project_root / 'compel' / 'parasite'}")
    # syscall-nr.h is only needed by sys.h, which these headers don't use
    subprocess.run(["gcc", *incs, "-o", str(exe), str(src)], check=True)
    got = dict(line.rsplit(" ", 1) for line in
               subprocess.run([str(exe)], capture_output=True, text=True,
                              check=True).stdout.splitlines())
    got = {k: int(v) for k, v in got.items()}
    assert got["compel_parasite_header"] == ctypes.sizeof(ParasiteHeader)
    assert got["compel_parasite_header.sun_path"] == ParasiteHeader.sun_path.offset
    assert got["compel_parasite_header.cmd_area_offset"] == \
        ParasiteHeader.cmd_area_offset.offset
    assert got["k_sigaction"] == ctypes.sizeof(KSigaction)
    assert got["k_stack"] == ctypes.sizeof(KStack)
    assert got["std_creds"] == ctypes.sizeof(StdCreds)
    assert got["std_creds.groups"] == StdCreds.groups.offset
    assert got["std_creds.cap_bnd"] == StdCreds.cap_bnd.offset
    assert got["std_misc"] == ctypes.sizeof(StdMisc)
    assert got["std_misc.rlimits"] == StdMisc.rlimits.offset
    assert got["std_misc.clear_tid_addr"] == StdMisc.clear_tid_addr.offset
    assert got["compel_msg"] == 16
