"""Mappings from smaps, classified as CRIU does, and how the restorer is
told to recreate them."""

from __future__ import annotations

from criu.mem import vmas as vm
from criu.resources import memory
from criu.restorer import args as ra

SMAPS = """\
55d0c0000000-55d0c0001000 r--p 00000000 fe:00 260131                     /usr/bin/cat
Size:                  4 kB
VmFlags: rd mr mw me
55d0c0001000-55d0c0002000 rw-p 00001000 fe:00 260131                     /usr/bin/cat
VmFlags: rd wr mr mw me ac
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]
VmFlags: rd wr mr mw me ac
7e0000010000-7e0000012000 rw-p 00000000 00:00 0
VmFlags: rd wr mr mw me lo ac
7e0000012000-7e0000014000 rw-p 00000000 00:00 0
VmFlags: rd wr mr mw me lo lf ac
7f0000000000-7f0000010000 rw-p 00000000 00:00 0
VmFlags: rd wr mr mw me ac dd hg
7f0000010000-7f0000020000 r--s 00000000 fe:00 338846                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache
VmFlags: rd mr me ms
7f0000020000-7f0000024000 r--p 00000000 00:00 0                          [vvar]
VmFlags: rd mr pf io de dd
7f0000024000-7f0000026000 r--p 00000000 00:00 0                          [vvar_vclock]
VmFlags: rd mr pf io de dd
7f0000026000-7f0000028000 r-xp 00000000 00:00 0                          [vdso]
VmFlags: rd ex mr mw me de
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
VmFlags: rd wr mr mw me gd ac
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
VmFlags: ex
"""


def test_classification_like_criu() -> None:
    vmas = vm.parse_smaps(SMAPS)
    vm.classify(vmas, start_brk=0x55D0C1000000, brk=0x55D0C1021000,
                start_stack=0x7FFD00020000)
    by_name = {v.name or hex(v.start): v for v in vmas}
    exe = vmas[0]
    assert exe.status == vm.VMA_AREA_REGULAR | vm.VMA_FILE_PRIVATE
    assert exe.flags == vm.MAP_PRIVATE and exe.prot == vm.PROT_READ
    assert vmas[1].pgoff == 0x1000
    heap = by_name["[heap]"]
    assert heap.status & vm.VMA_AREA_HEAP and heap.status & vm.VMA_ANON_PRIVATE
    assert heap.flags == vm.MAP_PRIVATE | vm.MAP_ANONYMOUS
    anon = by_name["0x7f0000000000"]
    assert anon.madv == (1 << vm.MADV_DONTDUMP) | (1 << vm.MADV_HUGEPAGE)
    assert not anon.flags & vm.MAP_LOCKED
    # mlock()ed: locked again; lock-on-fault is not (it would populate)
    assert by_name["0x7e0000010000"].flags & vm.MAP_LOCKED
    assert not by_name["0x7e0000012000"].flags & vm.MAP_LOCKED
    shared = vmas[6]
    assert shared.status == vm.VMA_AREA_REGULAR | vm.VMA_FILE_SHARED
    assert shared.flags == vm.MAP_SHARED and not shared.dumps_pages
    assert by_name["[vvar]"].status & vm.VMA_AREA_VVAR
    assert by_name["[vvar_vclock]"].status & vm.VMA_AREA_VVAR
    assert by_name["[vdso]"].status & vm.VMA_AREA_VDSO
    assert not by_name["[vdso]"].dumps_pages
    stack = by_name["[stack]"]
    assert stack.status & vm.VMA_AREA_STACK
    assert stack.flags & vm.MAP_GROWSDOWN
    assert by_name["[vsyscall]"].status == vm.VMA_AREA_VSYSCALL


def test_shared_anonymous_is_told_apart() -> None:
    vmas = vm.parse_smaps(
        "7f00a0000000-7f00a0001000 rw-s 00000000 00:01 1043 "
        "                      /dev/zero (deleted)\n"
        "7f00a0001000-7f00a0002000 rw-s 00000000 00:01 32769 "
        "                      /SYSV00000000 (deleted)\n")
    vm.classify(vmas, 0, 0, 0)
    assert vmas[0].status == vm.VMA_AREA_REGULAR | vm.VMA_ANON_SHARED
    assert vmas[1].status & vm.VMA_AREA_SYSVIPC
    assert not vmas[0].is_file and not vmas[0].dumps_pages


def _vma(start: int, end: int, prot: int = 3, flags: int = 0x22,
         pgoff: int = 0) -> dict:
    return dict(start=start, end=end, pgoff=pgoff, madv=0, prot=prot,
                flags=flags, fd=-1, kind=0)


def test_plan_marks_filled_and_separate_mappings() -> None:
    P = 0x1000
    plan = [
        _vma(0x10 * P, 0x20 * P),                   # pages inside
        _vma(0x20 * P, 0x30 * P),                   # alike, adjacent: separate
        _vma(0x30 * P, 0x31 * P, prot=0),           # PROT_NONE, no pages
        _vma(0x40 * P, 0x50 * P, prot=1),           # read-only with pages
    ]
    runs = [(0x12 * P, 2 * P, 0), (0x21 * P, P, 2 * P), (0x41 * P, P, 3 * P)]
    memory.plan_mappings(plan, [0, 0, 0, 0], runs)
    assert plan[0]["kind"] == ra.RST_VMA_FILL
    assert plan[1]["kind"] == (ra.RST_VMA_FILL | ra.RST_VMA_SEPARATE |
                               ra.RST_VMA_DROP_FIRST)
    assert plan[2]["kind"] == 0 and plan[2]["map_prot"] == 0
    assert plan[3]["kind"] == ra.RST_VMA_FILL
    assert plan[3]["map_prot"] == 3 and plan[3]["prot"] == 1


def test_plan_keeps_file_neighbours_and_stack_unseparated() -> None:
    P = 0x1000
    plan = [_vma(0, 4 * P, prot=1, flags=2), _vma(4 * P, 8 * P, prot=1,
                                                  flags=2, pgoff=4 * P),
            _vma(8 * P, 9 * P, flags=0x122), _vma(9 * P, 10 * P, flags=0x122)]
    memory.plan_mappings(plan, [7, 7, 0, 0], [])
    assert all(not v["kind"] & ra.RST_VMA_SEPARATE for v in plan)
