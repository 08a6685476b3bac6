"""Dump and restore statistics: the stats-dump / stats-restore images and
what --display-stats prints, both in CRIU's shape."""

from __future__ import annotations

from criu import log
from criu.imagedir import ImageDir
from criu.resources.base import DumpStats, RestoreStats


def _us(seconds: float) -> int:
    return max(0, int(seconds * 1_000_000))


def write_dump(images: ImageDir, st: DumpStats) -> None:
    from images.pb import stats_pb2
    entry = stats_pb2.stats_entry(dump=stats_pb2.dump_stats_entry(
        freezing_time=_us(st.freezing_time), frozen_time=_us(st.frozen_time),
        memdump_time=_us(st.memdump_time), memwrite_time=_us(st.memwrite_time),
        pages_scanned=st.pages_scanned,
        pages_skipped_parent=st.pages_skipped_parent,
        pages_written=st.pages_written, pages_lazy=st.pages_lazy,
        irmap_resolve=_us(st.irmap_resolve)))
    images.write("stats-dump", [entry])


def write_restore(images: ImageDir, st: RestoreStats) -> None:
    from images.pb import stats_pb2
    entry = stats_pb2.stats_entry(restore=stats_pb2.restore_stats_entry(
        pages_compared=st.pages_compared,
        pages_skipped_cow=st.pages_skipped_cow,
        forking_time=_us(st.forking_time), restore_time=_us(st.restore_time),
        pages_restored=st.pages_restored))
    images.write("stats-restore", [entry])


def _count(n: int) -> str:
    return f"{n} (0x{n:x})"


def display_dump(st: DumpStats) -> None:
    log.pr_msg("Displaying dump stats:")
    for name, secs in (("Freezing time", st.freezing_time),
                       ("Frozen time", st.frozen_time),
                       ("Memory dump time", st.memdump_time),
                       ("Memory write time", st.memwrite_time)):
        log.pr_msg("%s: %d us", name, _us(secs))
    for name, n in (("Memory pages scanned", st.pages_scanned),
                    ("Memory pages skipped from parent dump",
                     st.pages_skipped_parent),
                    ("Memory pages written", st.pages_written),
                    ("Zero memory pages", st.pages_zero),
                    ("Lazy memory pages", st.pages_lazy)):
        log.pr_msg("%s: %s", name, _count(n))


def display_restore(st: RestoreStats) -> None:
    log.pr_msg("Displaying restore stats:")
    log.pr_msg("Pages compared: %s", _count(st.pages_compared))
    log.pr_msg("Pages skipped COW: %s", _count(st.pages_skipped_cow))
    log.pr_msg("Pages restored: %s", _count(st.pages_restored))
    log.pr_msg("Restore time: %d us", _us(st.restore_time))
    log.pr_msg("Forking time: %d us", _us(st.forking_time))
