"""`crit x DIR {ps,fds,mems,rss}`: summaries of a whole image directory.

The output matches CRIU's crit line for line: a process tree, open files per
task, memory mappings per task, and which pagemap entries cover which VMAs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO

from .image import load
from .pagemap import nr_pages_of_dict

PAGE_SHIFT = 12

VMA_AREA_REGULAR = 1 << 0
VMA_AREA_STACK = 1 << 1
VMA_AREA_VSYSCALL = 1 << 2
VMA_AREA_VDSO = 1 << 3
VMA_FILE_PRIVATE = 1 << 6
VMA_FILE_SHARED = 1 << 7
VMA_ANON_SHARED = 1 << 8
VMA_AREA_SYSVIPC = 1 << 10
VMA_AREA_SOCKET = 1 << 11
MAP_GROWSDOWN = 0x100


# Which image type each file the explorers read must be (by name prefix).
EXPECTED_MAGIC = (
    ("pstree.img", "PSTREE"), ("core-", "CORE"), ("ids-", "IDS"), ("fdinfo-", "FDINFO"),
    ("fs-", "FS"), ("mm-", "MM"), ("pagemap-", "PAGEMAP"), ("files.img", "FILES"),
    ("reg-files.img", "REG_FILES"), ("pipes.img", "PIPES"), ("unixsk.img", "UNIXSK"),
)


def expected_magic(name: str) -> str | None:
    for prefix, magic_name in EXPECTED_MAGIC:
        if name.startswith(prefix):
            return magic_name
    return None


class ExploreError(Exception):
    """An image the explorer needs is missing or unreadable (one line)."""


class ImageDir:
    """Lazy, cached access to the images of one dump directory as dicts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cache: dict[str, list[dict[str, Any]] | None] = {}
        self._file_names: dict[tuple[str, int], str] = {}

    def entries(self, name: str) -> list[dict[str, Any]]:
        """Entries of image `name`; ExploreError if it does not exist."""
        found = self.maybe_entries(name)
        if found is None:
            raise ExploreError(f"{os.path.join(self.path, name)}: No such file or directory")
        return found

    def maybe_entries(self, name: str) -> list[dict[str, Any]] | None:
        if name not in self._cache:
            full = os.path.join(self.path, name)
            try:
                with open(full, "rb") as f:
                    self._cache[name] = load(f, path=full, expect=expected_magic(name))["entries"]
            except FileNotFoundError:
                self._cache[name] = None
            except OSError as exc:
                raise ExploreError(f"{full}: {exc.strerror}") from None
        return self._cache[name]

    def _find(self, fid: int, files_field: str, image: str) -> dict[str, Any] | None:
        """A file by id: in files.img (newer layout) or its own image."""
        files = self.maybe_entries("files.img") or []
        for f in files:
            if f.get("id") == fid:
                return f.get(files_field)
        for f in self.maybe_entries(image) or []:
            if f.get("id") == fid:
                return f
        return None

    def file_str(self, ftype: str, fid: int) -> str:
        """How crit names an open file: path, pipe[...], unix[...], TYPE.id."""
        key = (ftype, fid)
        if key not in self._file_names:
            self._file_names[key] = self._describe(ftype, fid)
        return self._file_names[key]

    def _describe(self, ftype: str, fid: int) -> str:
        if ftype == "REG":
            reg = self._find(fid, "reg", "reg-files.img")
            return (reg or {}).get("name") or "unknown path"
        if ftype == "PIPE":
            pipe = self._find(fid, "pipe", "pipes.img")
            return f"pipe[{pipe['pipe_id']}]" if pipe else "pipe[?]"
        if ftype == "UNIXSK":
            usk = self._find(fid, "usk", "unixsk.img")
            if not usk:
                return "unix[?]"
            name = f" {usk['name']}" if usk.get("name") else ""
            return f"unix[{usk['ino']} ({usk['peer']}){name}]"
        return f"{ftype}.{fid}"


def task_id(pstree_entry: dict[str, Any], key: str) -> int:
    if key in pstree_entry:
        return pstree_entry[key]
    return pstree_entry["ns_" + key][0]


def explore_ps(path: str, out: TextIO) -> None:
    images = ImageDir(path)
    tasks: dict[int, dict[str, Any]] = {}
    kids: dict[int, list[int]] = {}
    root = None
    for p in images.entries("pstree.img"):
        pid = task_id(p, "pid")
        tasks[pid] = p
        kids.setdefault(pid, [])
    for pid, p in tasks.items():
        if p["ppid"] == 0:
            root = pid
        elif p["ppid"] in kids:
            kids[p["ppid"]].append(pid)
    out.write("%7s%7s%7s   %s\n" % ("PID", "PGID", "SID", "COMM"))
    if root is None:
        return

    def show(pid: int, depth: int) -> None:
        p = tasks[pid]
        core = images.entries(f"core-{pid}.img")[0]
        out.write("%7d%7d%7d   %s%s\n" % (pid, task_id(p, "pgid"), task_id(p, "sid"),
                                        " " * (4 * depth), core["tc"]["comm"]))
        for kid in kids[pid]:
            show(kid, depth + 1)

    show(root, 0)


def explore_fds(path: str, out: TextIO) -> None:
    images = ImageDir(path)
    for p in images.entries("pstree.img"):
        pid = task_id(p, "pid")
        files_id = images.entries(f"ids-{pid}.img")[0]["files_id"]
        out.write(f"{pid}\n")
        for fd in images.entries(f"fdinfo-{files_id}.img"):
            out.write("\t%7d: %s\n" % (fd["fd"], images.file_str(fd["type"], fd["id"])))
        fs = images.entries(f"fs-{pid}.img")[0]
        out.write("\t%7s: %s\n" % ("cwd", images.file_str("REG", fs["cwd_id"])))
        out.write("\t%7s: %s\n" % ("root", images.file_str("REG", fs["root_id"])))


def _vma_name(images: ImageDir, vma: dict[str, Any], short_ids: dict[int, int]) -> str:
    def short(shmid: int) -> int:
        return short_ids.setdefault(shmid, len(short_ids) + 1)

    st = vma["status"]
    if st & VMA_AREA_SYSVIPC:
        name = " ips[%x]" % short(vma["shmid"])
    elif st & VMA_ANON_SHARED:
        name = " shmem[%x]" % short(vma["shmid"])
    elif st & VMA_AREA_SOCKET:
        name = " packet[%x]" % short(vma["shmid"])
    elif st & (VMA_FILE_PRIVATE | VMA_FILE_SHARED):
        name = " " + images.file_str("REG", vma["shmid"])
        if vma.get("pgoff"):
            name += " + %#x" % vma["pgoff"]
        if st & VMA_FILE_SHARED:
            name += " (s)"
    elif st & VMA_AREA_STACK:
        name = " [stack]"
    elif st & VMA_AREA_VSYSCALL:
        name = " [vsyscall]"
    elif st & VMA_AREA_VDSO:
        name = " [vdso]"
    elif vma["flags"] & MAP_GROWSDOWN:
        name = " [stack?]"
    else:
        name = ""
    if not st & VMA_AREA_REGULAR:
        name += " *"
    return name


def explore_mems(path: str, out: TextIO) -> None:
    images = ImageDir(path)
    short_ids: dict[int, int] = {}
    for p in images.entries("pstree.img"):
        pid = task_id(p, "pid")
        mm = images.entries(f"mm-{pid}.img")[0]
        out.write(f"{pid}\n")
        out.write("\t%-36s    %s\n" % ("exe", images.file_str("REG", mm["exe_file_id"])))
        for vma in mm.get("vmas", []):
            prot = vma["prot"]
            perms = ("r" if prot & 1 else "-") + ("w" if prot & 2 else "-") + ("x" if prot & 4 else "-")
            span = "%08x-%08x" % (vma["start"], vma["end"])
            out.write("\t%-36s%s%s\n" % (span, perms, _vma_name(images, vma, short_ids)))


def explore_rss(path: str, out: TextIO) -> None:
    images = ImageDir(path)
    for p in images.entries("pstree.img"):
        pid = task_id(p, "pid")
        vmas = images.entries(f"mm-{pid}.img")[0].get("vmas", [])
        pagemaps = images.entries(f"pagemap-{pid}.img")[1:]
        out.write(f"{pid}\n")
        vi = 0
        last_shown = -1
        for pm in pagemaps:
            vaddr, nr = pm["vaddr"], nr_pages_of_dict(pm)
            head = "\t%x / %-8d" % (vaddr, nr)
            while vi < len(vmas) and vmas[vi]["end"] <= vaddr:
                vi += 1
            pm_end = vaddr + (nr << PAGE_SHIFT)
            tail = ""
            while vi < len(vmas) and vmas[vi]["start"] < pm_end:
                vma = vmas[vi]
                if vi == last_shown:
                    tail += " ~"
                else:
                    tail += " %08x / %-8d" % (vma["start"], (vma["end"] - vma["start"]) >> PAGE_SHIFT)
                    if vma["status"] & (VMA_FILE_PRIVATE | VMA_FILE_SHARED):
                        tail += " " + images.file_str("REG", vma["shmid"])
                    last_shown = vi
                tail += "\n\t%23s" % ""
                vi += 1
            vi = max(vi - 1, 0)
            out.write("%-24s%s\n" % (head, tail))


EXPLORERS: dict[str, Callable[[str, TextIO], None]] = {
    "ps": explore_ps,
    "fds": explore_fds,
    "mems": explore_mems,
    "rss": explore_rss,
}
