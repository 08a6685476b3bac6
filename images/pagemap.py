"""The page count of a pagemap_entry, across CRIU's two ways of storing it.

CRIU before 4.x kept the count in field 2 (32 bits, required); CRIU 4.x
calls that field compat_nr_pages, writes the count to field 5 (nr_pages,
64 bits) and falls back to field 2 only when field 5 is absent. We write
both: field 5 for CRIU 4.x, field 2 for readers that know only it (crit
3.17), with 0 there when the count does not fit in 32 bits, as CRIU 4.x
leaves it.
"""

from __future__ import annotations

from typing import Any, Mapping

U32_MAX = 0xFFFFFFFF


def new_entry(vaddr: int, nr_pages: int, **fields: Any) -> Any:
    """A pagemap_entry for nr_pages pages at vaddr, count in both fields."""
    from images.pb import pagemap_pb2
    compat = nr_pages if nr_pages <= U32_MAX else 0
    return pagemap_pb2.pagemap_entry(vaddr=vaddr, compat_nr_pages=compat,
                                     nr_pages=nr_pages, **fields)


def nr_pages(entry: Any) -> int:
    """The page count of a pagemap_entry message of either CRIU era."""
    if entry.HasField("nr_pages"):
        return int(entry.nr_pages)
    return int(entry.compat_nr_pages)


def nr_pages_of_dict(entry: Mapping[str, Any]) -> int:
    """The same, for an entry decoded to a dict (crit's JSON form)."""
    if "nr_pages" in entry:
        return int(entry["nr_pages"])
    return int(entry.get("compat_nr_pages", 0))
