"""crit encode reads its JSON entry by entry (images.jsonstream)."""

from __future__ import annotations

import io
import json

import pytest

from images import jsonstream
from images.jsonstream import JsonFormError, iter_image_json

DOC = {"magic": "PSTREE", "entries": [{"pid": i, "ppid": 0, "pgid": 12345678901234, "sid": 1,
                                       "threads": list(range(i % 7))} for i in range(300)]}


@pytest.fixture(params=[1, 7, 1 << 16])
def small_reads(request, monkeypatch):
    """Force buffer refills at every possible place inside values."""
    monkeypatch.setattr(jsonstream, "_MIN_READ", request.param)


@pytest.mark.parametrize("indent", [None, 4])
def test_entries_come_out_one_by_one(small_reads, indent):
    text = json.dumps(DOC, indent=indent)
    magic, entries = iter_image_json(io.StringIO(text))
    assert magic == "PSTREE"
    got = []
    for offset, entry in entries:
        assert text[offset] == "{"
        got.append(entry)
    assert got == DOC["entries"]


def test_entries_before_magic_still_work():
    text = json.dumps({"entries": [{"pid": 1}], "magic": "PSTREE"})
    magic, entries = iter_image_json(io.StringIO(text))
    assert magic == "PSTREE" and [e for _, e in entries] == [{"pid": 1}]


def test_empty_entries_and_extra_keys():
    magic, entries = iter_image_json(io.StringIO('{"magic": "FS", "entries": [], "note": [1]}'))
    assert magic == "FS" and list(entries) == []


@pytest.mark.parametrize("text, offset", [
    ('{"magic": "FS", "entries": [{"a": 1} {"b": 2}]}', 37),
    ('{"magic": "FS", "entries": [{"a": 1}]} trailing', 39),
    ('{"magic": "FS", "entries": [{"a": ]}', 34),
    ('{"magic": 5}', 0),
    ('', 0),
])
def test_errors_carry_the_offset(text, offset):
    with pytest.raises(JsonFormError) as exc:
        magic, entries = iter_image_json(io.StringIO(text))
        list(entries)
    assert exc.value.offset == offset
