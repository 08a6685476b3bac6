"""Our schemas and magic table against CRIU 4.2's, recorded as data.

tests/unit/data/criu_4_2_schema.json holds the facts of every message and
enum in CRIU 4.2's images/*.proto (field number, label and type; enum
values; explicit defaults), and criu_4_2_magic.json the image magics of its
criu/include/magic.h. Both were extracted from the CRIU source named in
their "source" key. Every fact there must hold for what `make` compiled into
images.pb; ours may carry more, but each extra is named below with the
reason it exists, so an accidental divergence cannot hide as an "extra".
"""

from __future__ import annotations

import importlib
import json
import pathlib

import pytest
from google.protobuf import descriptor_pb2

from images import magic

DATA = pathlib.Path(__file__).resolve().parent / "data"
OUR_PB = pathlib.Path(__file__).resolve().parents[2] / "images" / "pb"

# Fields we have that CRIU 4.2 does not: (message, field) -> why.
KNOWN_EXTRA_FIELDS: dict[tuple[str, str], str] = {
    ("thread_core_entry", "no_new_privs"):
        "field 100: the thread's PR_GET_NO_NEW_PRIVS bit, which CRIU keeps "
        "only per task (task_core_entry has no per-thread copy); a high "
        "number so it never collides with a field CRIU adds later. CRIU 4.x "
        "also has creds_entry.no_new_privs (18), which we write as well",
    ("criu_opts", "allow_uprobes"):
        "RPC form of --allow-uprobes, after CRIU 4.2's last field (71); a "
        "CRIU 4.2 client never sends it",
    ("criu_opts", "ghost_fiemap"):
        "RPC form of --ghost-fiemap, after CRIU 4.2's last field (71)",
    ("criu_opts", "file_validation_method"):
        "RPC form of --file-validation, after CRIU 4.2's last field (71)",
}

# Messages and enums we have that CRIU 4.2 does not: name -> why.
KNOWN_EXTRA_MESSAGES: dict[str, str] = {
    "sk_ucred_entry":
        "CRIU 3.17's sk-packet.proto defines it (CRIU 4.x dropped it, as no "
        "field ever used it); kept so test_proto_schema's 3.17 check holds",
}
KNOWN_EXTRA_ENUMS: dict[str, str] = {
    "criu_file_validation_method":
        "type of criu_opts.file_validation_method, below",
}

# Enum values we have that CRIU 4.2 does not: (enum, value name) -> why.
KNOWN_EXTRA_ENUM_VALUES: dict[tuple[str, str], str] = {}

# Magic-table names of ours that magic.h does not define: name -> why.
KNOWN_EXTRA_MAGICS: dict[str, str] = {}


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _type(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type in (descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                      descriptor_pb2.FieldDescriptorProto.TYPE_ENUM):
        return field.type_name.lstrip(".")
    return descriptor_pb2.FieldDescriptorProto.Type.Name(
        field.type)[len("TYPE_"):].lower()


def describe(files: list[descriptor_pb2.FileDescriptorProto]) -> dict:
    """The same shape as criu_4_2_schema.json, for FileDescriptorProtos."""
    label = {v: k[len("LABEL_"):].lower()
             for k, v in descriptor_pb2.FieldDescriptorProto.Label.items()}
    out: dict = {"messages": {}, "enums": {}, "defaults": {}, "files": {}}

    def walk_enum(enum, prefix: str, fname: str) -> None:
        name = prefix + enum.name
        out["enums"][name] = {v.name: v.number for v in enum.value}
        out["files"][name] = fname

    def walk_message(msg, prefix: str, fname: str) -> None:
        name = prefix + msg.name
        out["messages"][name] = {
            f.name: [f.number, label[f.label], _type(f)] for f in msg.field}
        out["files"][name] = fname
        for f in msg.field:
            if f.HasField("default_value"):
                out["defaults"][f"{name}.{f.name}"] = f.default_value
        for nested in msg.nested_type:
            walk_message(nested, name + ".", fname)
        for enum in msg.enum_type:
            walk_enum(enum, name + ".", fname)

    for fd in files:
        for msg in fd.message_type:
            walk_message(msg, fd.package + "." if fd.package else "", fd.name)
        for enum in fd.enum_type:
            walk_enum(enum, fd.package + "." if fd.package else "", fd.name)
    return out


@pytest.fixture(scope="module")
def criu42() -> dict:
    return _load("criu_4_2_schema.json")


@pytest.fixture(scope="module")
def ours() -> dict:
    names = sorted(p.stem for p in OUR_PB.glob("*_pb2.py"))
    assert names, f"no generated modules in {OUR_PB}: run make"
    files = [descriptor_pb2.FileDescriptorProto.FromString(
        importlib.import_module(f"images.pb.{n}").DESCRIPTOR.serialized_pb)
        for n in names]
    return describe(files)


def differences(theirs: dict, mine: dict) -> list[str]:
    """Every fact of `theirs` that `mine` lacks or states otherwise."""
    problems: list[str] = []
    for name, fields in sorted(theirs["messages"].items()):
        our_fields = mine["messages"].get(name)
        if our_fields is None:
            problems.append(f"message {name}: missing")
            continue
        if mine["files"].get(name) != theirs["files"][name]:
            problems.append(f"message {name}: in {mine['files'].get(name)}, "
                            f"CRIU has it in {theirs['files'][name]}")
        for fname, facts in sorted(fields.items()):
            our = our_fields.get(fname)
            if our is None:
                problems.append(f"{name}.{fname}: missing (CRIU: {facts})")
            elif our != facts:
                problems.append(f"{name}.{fname}: ours {our}, CRIU {facts}")
    for name, values in sorted(theirs["enums"].items()):
        our_values = mine["enums"].get(name)
        if our_values is None:
            problems.append(f"enum {name}: missing")
            continue
        for vname, number in sorted(values.items()):
            if our_values.get(vname) != number:
                problems.append(f"enum {name}.{vname}: ours "
                                f"{our_values.get(vname)!r}, CRIU {number}")
    for key, value in sorted(theirs["defaults"].items()):
        if mine["defaults"].get(key) != value:
            problems.append(f"default of {key}: ours "
                            f"{mine['defaults'].get(key)!r}, CRIU {value!r}")
    return problems


def extras(theirs: dict, mine: dict) -> list[str]:
    """What ours has beyond CRIU 4.2 and the known-extras lists do not name."""
    found: list[str] = []
    for name, fields in sorted(mine["messages"].items()):
        if name not in theirs["messages"]:
            if name not in KNOWN_EXTRA_MESSAGES:
                found.append(f"message {name}")
            continue
        for fname in sorted(fields):
            if fname not in theirs["messages"][name] and \
                    (name, fname) not in KNOWN_EXTRA_FIELDS:
                found.append(f"field {name}.{fname} = {fields[fname]}")
    for name, values in sorted(mine["enums"].items()):
        if name not in theirs["enums"]:
            if name not in KNOWN_EXTRA_ENUMS:
                found.append(f"enum {name}")
            continue
        for vname in sorted(values):
            if vname not in theirs["enums"][name] and \
                    (name, vname) not in KNOWN_EXTRA_ENUM_VALUES:
                found.append(f"enum value {name}.{vname}")
    for key in sorted(set(mine["defaults"]) - set(theirs["defaults"])):
        if tuple(key.rsplit(".", 1)) in KNOWN_EXTRA_FIELDS:
            continue
        found.append(f"default of {key} = {mine['defaults'][key]!r}")
    return found


def test_recorded_facts_are_plausible(criu42):
    """The data file is whole: CRIU 4.2 has these, as numbered by CRIU."""
    assert criu42["source"]["describe"].startswith("v4.2")
    assert len(criu42["messages"]) > 150
    assert criu42["messages"]["pagemap_entry"]["nr_pages"] == \
        [5, "optional", "uint64"]
    assert criu42["messages"]["core_entry"]["tc"] == \
        [3, "optional", "task_core_entry"]
    assert criu42["enums"]["core_entry.march"]["X86_64"] == 1


def test_every_criu42_fact_is_ours(criu42, ours):
    problems = differences(criu42, ours)
    assert not problems, "\n  ".join(["schema facts differ:"] + problems)


def test_our_extras_are_known(criu42, ours):
    found = extras(criu42, ours)
    assert not found, "\n  ".join(
        ["not in CRIU 4.2 and not listed as a known extra:"] + found)


def test_known_extras_exist(criu42, ours):
    """A known extra that is gone (or now in CRIU) must leave the list."""
    for name, fname in KNOWN_EXTRA_FIELDS:
        assert fname in ours["messages"][name], (name, fname)
        assert fname not in criu42["messages"].get(name, {}), (name, fname)
    for name in KNOWN_EXTRA_MESSAGES:
        assert name in ours["messages"] and name not in criu42["messages"]
    for name in KNOWN_EXTRA_ENUMS:
        assert name in ours["enums"] and name not in criu42["enums"]


def test_no_new_privs_is_field_100(ours):
    assert ours["messages"]["thread_core_entry"]["no_new_privs"][0] == 100


def test_comparison_detects_a_changed_fact(criu42, ours):
    """The comparison fails on a changed number, label, type or value."""
    broken = json.loads(json.dumps(ours))
    broken["messages"]["pstree_entry"]["ppid"][0] = 99
    del broken["messages"]["pstree_entry"]["threads"]
    broken["messages"]["creds_entry"]["cap_amb"][1] = "optional"
    broken["enums"]["core_entry.march"]["X86_64"] = 9
    broken["defaults"]["reg_file_entry.mnt_id"] = "0"
    broken["messages"]["pstree_entry"]["bogus"] = [77, "optional", "bool"]
    problems = differences(criu42, broken)
    assert any(p.startswith("pstree_entry.ppid: ours [99") for p in problems)
    assert any(p.startswith("pstree_entry.threads: missing") for p in problems)
    assert any(p.startswith("creds_entry.cap_amb:") for p in problems)
    assert any("core_entry.march.X86_64" in p for p in problems)
    assert any("reg_file_entry.mnt_id" in p for p in problems)
    assert any("pstree_entry.bogus" in p for p in extras(criu42, broken))


@pytest.fixture(scope="module")
def criu42_magic() -> dict:
    return _load("criu_4_2_magic.json")


def test_magic_table_has_every_criu42_magic(criu42_magic):
    """Each magic.h image magic, by name and value; aliases by their value."""
    magics, aliases = criu42_magic["magics"], criu42_magic["aliases"]
    header = {"CRTOOLS_IMAGES_V1": magic.CRTOOLS_IMAGES_V1,
              "CRTOOLS_IMAGES_V1_1": magic.CRTOOLS_IMAGES_V1_1,
              "RAW_IMAGE": magic.RAW_IMAGE_MAGIC,
              "IMG_COMMON": magic.IMG_COMMON,
              "IMG_SERVICE": magic.IMG_SERVICE}
    problems = []
    for name, value in sorted(magics.items()):
        if name in header:
            ours = header[name]
        elif name in aliases:
            ours = magic.ALIASES.get(name)
            if ours is not None:
                ours = magic.BY_NAME.get(ours, magic.RAW_IMAGE_MAGIC
                                         if ours == "RAW_IMAGE" else None)
        else:
            ours = magic.BY_NAME.get(name)
        if ours != value:
            problems.append(f"{name}: ours {ours!r}, CRIU {value:#x}")
    for name in sorted(set(magic.BY_NAME) - set(magics)):
        if name not in KNOWN_EXTRA_MAGICS:
            problems.append(f"{name}: ours only")
    assert not problems, "\n  ".join(["magics differ:"] + problems)


def test_magic_aliases_match_criu42(criu42_magic):
    assert magic.ALIASES == criu42_magic["aliases"]


def test_magic_values_are_unique():
    """BY_VALUE must be able to name every magic (crit prints the name)."""
    assert len(magic.BY_VALUE) == len(magic.BY_NAME)


def test_pagemap_count_written_for_both_eras():
    """We write the count to field 5 (CRIU 4.x) and field 2 (older
    readers); reading prefers field 5 and falls back to field 2."""
    from images import pagemap
    from images.pb import pagemap_pb2
    e = pagemap.new_entry(0x1000, 3, flags=4)
    assert (e.compat_nr_pages, e.nr_pages) == (3, 3)
    assert pagemap.nr_pages(e) == 3
    big = pagemap.new_entry(0, 1 << 33)
    assert (big.compat_nr_pages, pagemap.nr_pages(big)) == (0, 1 << 33)
    old = pagemap_pb2.pagemap_entry(vaddr=0, compat_nr_pages=7)
    assert pagemap.nr_pages(old) == 7
    criu42 = pagemap_pb2.pagemap_entry(vaddr=0, compat_nr_pages=0,
                                       nr_pages=9)
    assert pagemap.nr_pages(criu42) == 9
    assert pagemap.nr_pages_of_dict({"vaddr": 0, "compat_nr_pages": 7}) == 7
    assert pagemap.nr_pages_of_dict({"compat_nr_pages": 0, "nr_pages": 9}) == 9


def test_no_new_privs_read_from_creds_of_criu42_images():
    from criu.resources import seccomp
    from images.pb import core_pb2
    tcore = core_pb2.thread_core_entry(futex_rla=0, futex_rla_len=0)
    assert seccomp.plan_thread(tcore, None).no_new_privs is False
    tcore.creds.no_new_privs = 1
    assert seccomp.plan_thread(tcore, None).no_new_privs is True
    tcore.no_new_privs = False
    assert seccomp.plan_thread(tcore, None).no_new_privs is False
