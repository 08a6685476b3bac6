"""Our .proto schemas must say exactly what CRIU 3.17's say, field by field.

Wire compatibility and crit's JSON shape both hang on facts that protoc
cannot check for us: field numbers, scalar types, labels, enum values and
the [(criu).xxx] options. Debian ships CRIU 3.17's compiled schemas
(pycriu, importable only by Debian's own /usr/bin/python3 and its
python3-protobuf), so we ask that interpreter to describe them and compare
with what `make` generated into images.pb. Every 3.17 fact must be there,
unchanged; our schemas may carry newer fields and messages on top.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pathlib
import subprocess
from typing import Any, Iterable

import pytest

SYSTEM_PYTHON = pathlib.Path("/usr/bin/python3")
PYCRIU_IMAGES = pathlib.Path("/usr/lib/python3/dist-packages/pycriu/images")
OUR_PB = pathlib.Path(__file__).resolve().parents[2] / "images" / "pb"


def describe_modules(modules: Iterable[Any]) -> dict:
    """Describe every message, enum and extension of generated _pb2 modules.

    Runs both here and, as source text, under Debian's python, so it uses
    nothing but the protobuf descriptor API and plain data.
    """
    from google.protobuf import descriptor as d

    type_names = {
        getattr(d.FieldDescriptor, n): n[len("TYPE_"):].lower()
        for n in dir(d.FieldDescriptor) if n.startswith("TYPE_")
    }
    label_names = {
        getattr(d.FieldDescriptor, n): n[len("LABEL_"):].lower()
        for n in dir(d.FieldDescriptor) if n.startswith("LABEL_")
    }

    def plain(value):
        if hasattr(value, "ListFields"):
            return {f.full_name if f.is_extension else f.name: plain(v)
                    for f, v in value.ListFields()}
        if isinstance(value, (list, tuple)) or type(value).__name__.startswith("Repeated"):
            return [plain(v) for v in value]
        if isinstance(value, bytes):
            return value.hex()
        return value

    def field_facts(field) -> dict:
        target = field.message_type or field.enum_type
        facts = {
            "number": field.number,
            "type": type_names[field.type],
            "label": label_names[field.label],
            "type_name": target.full_name if target else None,
            "default": (repr(field.default_value)
                        if field.has_default_value else None),
            "options": plain(field.GetOptions()) if field.has_options else {},
        }
        if field.is_extension:
            facts["extendee"] = field.containing_type.full_name
        return facts

    messages: dict = {}
    enums: dict = {}
    extensions: dict = {}

    def walk_enum(enum) -> None:
        enums[enum.full_name] = {
            "file": enum.file.name,
            "values": {v.name: v.number for v in enum.values},
        }

    def walk_message(message) -> None:
        messages[message.full_name] = {
            "file": message.file.name,
            "fields": {f.name: field_facts(f) for f in message.fields},
        }
        for nested in message.nested_types:
            walk_message(nested)
        for enum in message.enum_types:
            walk_enum(enum)

    for module in modules:
        fdesc = module.DESCRIPTOR
        for message in fdesc.message_types_by_name.values():
            walk_message(message)
        for enum in fdesc.enum_types_by_name.values():
            walk_enum(enum)
        for ext in fdesc.extensions_by_name.values():
            extensions[ext.full_name] = dict(field_facts(ext),
                                             file=fdesc.name)
    return {"messages": messages, "enums": enums, "extensions": extensions}


def _pycriu_script() -> str:
    """Source run by /usr/bin/python3: import every pycriu _pb2, describe."""
    return "from __future__ import annotations\n" + inspect.getsource(
        describe_modules) + (
        "\nimport importlib, json, pathlib, sys\n"
        "import pycriu.images as pkg\n"
        "names = sorted(p.stem for p in pathlib.Path(pkg.__file__).parent"
        ".glob('*_pb2.py'))\n"
        "mods = [importlib.import_module('pycriu.images.' + n) for n in names]\n"
        "json.dump(describe_modules(mods), sys.stdout)\n"
    )


def _pycriu_module_names() -> list[str]:
    return sorted(p.stem for p in PYCRIU_IMAGES.glob("*_pb2.py"))


def _skip_reason() -> str | None:
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} missing: cannot load CRIU 3.17's schemas"
    if not _pycriu_module_names():
        return (f"CRIU's pycriu not installed ({PYCRIU_IMAGES} has no "
                "*_pb2.py; apt-get install criu)")
    return None


@pytest.fixture(scope="module")
def criu317() -> dict:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-I", "-c", "import pycriu.images"],
        capture_output=True, text=True, timeout=120,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["no error output"]
        pytest.skip(f"{SYSTEM_PYTHON} cannot import pycriu: {lines[-1]}")
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-I", "-c", _pycriu_script()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def ours() -> dict:
    names = sorted(p.stem for p in OUR_PB.glob("*_pb2.py"))
    assert names, f"no generated modules in {OUR_PB}: run make images/pb/.stamp"
    modules = [importlib.import_module(f"images.pb.{n}") for n in names]
    # Round-trip through JSON so both sides compare as the same plain types.
    return json.loads(json.dumps(describe_modules(modules)))


# Fields CRIU 4.x renamed (same number, type and label): 3.17's
# (message, name) -> the name CRIU 4.x and ours give it. The 3.17 facts are
# checked against the renamed field.
RENAMED_AFTER_317 = {
    ("pagemap_entry", "nr_pages"): "compat_nr_pages",
}


def _differences(theirs: dict, mine: dict, proto_file: str) -> list[str]:
    """Every 3.17 fact of proto_file that ours lacks or states otherwise."""
    problems: list[str] = []
    for name, msg in sorted(theirs["messages"].items()):
        if msg["file"] != proto_file:
            continue
        our_msg = mine["messages"].get(name)
        if our_msg is None:
            problems.append(f"message {name}: missing")
            continue
        if our_msg["file"] != proto_file:
            problems.append(f"message {name}: in {our_msg['file']}, "
                            f"not {proto_file}")
        for fname, facts in sorted(msg["fields"].items()):
            our_facts = our_msg["fields"].get(
                RENAMED_AFTER_317.get((name, fname), fname))
            if our_facts is None:
                problems.append(f"{name}.{fname}: missing")
                continue
            for key, value in facts.items():
                if our_facts.get(key) != value:
                    problems.append(f"{name}.{fname}: {key} is "
                                    f"{our_facts.get(key)!r}, CRIU has "
                                    f"{value!r}")
    for name, enum in sorted(theirs["enums"].items()):
        if enum["file"] != proto_file:
            continue
        our_enum = mine["enums"].get(name)
        if our_enum is None:
            problems.append(f"enum {name}: missing")
            continue
        for vname, number in sorted(enum["values"].items()):
            if our_enum["values"].get(vname) != number:
                problems.append(f"enum {name}.{vname}: is "
                                f"{our_enum['values'].get(vname)!r}, CRIU "
                                f"has {number}")
    return problems


def _proto_file(module_name: str) -> str:
    return module_name[: -len("_pb2")].replace("_", "-") + ".proto"


def _params() -> list:
    names = _pycriu_module_names()
    if not names:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=_skip_reason() or "no CRIU schemas found"))]
    return names


@pytest.mark.parametrize("module_name", _params())
def test_schema_matches_criu_317(module_name, criu317, ours):
    """Each of CRIU 3.17's schema files is matched fact for fact by ours."""
    # Module names lose the dash of the file name; ask CRIU's own facts
    # which file this module came from instead of guessing.
    files = {m["file"] for m in criu317["messages"].values()}
    files |= {e["file"] for e in criu317["enums"].values()}
    files |= {e["file"] for e in criu317["extensions"].values()}
    guess = _proto_file(module_name)
    candidates = [f for f in files
                  if f.replace("-", "_") == guess.replace("-", "_")]
    proto_file = candidates[0] if candidates else guess
    problems = _differences(criu317, ours, proto_file)
    assert not problems, f"{proto_file}:\n  " + "\n  ".join(problems)


def test_crit_option_extension(criu317, ours):
    """The [(criu).xxx] options live in the extension crit looks up."""
    theirs = criu317["extensions"]
    assert theirs, "CRIU 3.17 defines no field option extension?"
    for name, facts in theirs.items():
        assert ours["extensions"].get(name) == facts, name


def test_comparison_detects_a_changed_fact(criu317, ours):
    """The comparison itself fails on a wrong number (guards the guard)."""
    broken = json.loads(json.dumps(ours))
    fields = broken["messages"]["pstree_entry"]["fields"]
    fields["ppid"]["number"] = 99
    del fields["threads"]
    problems = _differences(criu317, broken, "pstree.proto")
    assert any("pstree_entry.ppid: number" in p for p in problems)
    assert any("pstree_entry.threads: missing" in p for p in problems)

    regs = broken["messages"]["thread_info_x86"]["fields"]
    regs["clear_tid_addr"]["options"] = {}
    broken["enums"]["user_x86_regs_mode"]["values"]["COMPAT"] = 3
    problems = _differences(criu317, broken, "core-x86.proto")
    assert any("clear_tid_addr: options" in p for p in problems)
    assert any("user_x86_regs_mode.COMPAT" in p for p in problems)
    assert _differences(criu317, ours, "core-x86.proto") == []


# Fields CRIU added after 3.17, as CRIU's current schemas number them (read
# from CRIU's and go-criu's published schemas). Debian's pycriu cannot vouch
# for these, so they are pinned here: (message, field) -> (number, type,
# label). CRIU 4.x renamed pagemap_entry's field 2 (3.17's nr_pages) to
# compat_nr_pages and put nr_pages in field 5; ours follows CRIU 4.x (see
# RENAMED_AFTER_317 and tests/unit/test_proto_criu42.py).
NEWER_CRIU_FIELDS = {
    ("task_core_entry", "stop_signo"): (21, "uint32", "optional"),
    ("task_core_entry", "membarrier_registration_mask"):
        (22, "uint32", "optional"),
    ("thread_core_entry", "cg_set"): (16, "uint32", "optional"),
    ("core_entry", "ti_loongarch64"): (12, "message", "optional"),
    ("core_entry", "ti_riscv64"): (13, "message", "optional"),
    ("inventory_entry", "plugins_entry"): (12, "message", "optional"),
    ("inventory_entry", "dump_criu_run_id"): (13, "string", "optional"),
    ("inventory_entry", "allow_uprobes"): (14, "bool", "optional"),
    ("plugins_entry", "plugins"): (12, "string", "repeated"),
    ("cg_controller_entry", "is_threaded"): (3, "bool", "optional"),
    ("pagemap_entry", "nr_pages"): (5, "uint64", "optional"),
    ("pagemap_entry", "compat_nr_pages"): (2, "uint32", "required"),
    ("creds_entry", "no_new_privs"): (18, "uint32", "optional"),
    ("creds_entry", "cap_amb"): (19, "uint32", "repeated"),
    ("thread_info_riscv64", "gpregs"): (3, "message", "required"),
    ("thread_info_loongarch64", "fpregs"): (4, "message", "required"),
}


@pytest.mark.parametrize("message,field", sorted(NEWER_CRIU_FIELDS))
def test_newer_criu_fields(ours, message, field):
    """Fields newer CRIU writes are there, numbered as CRIU numbers them."""
    facts = ours["messages"][message]["fields"][field]
    number, type_, label = NEWER_CRIU_FIELDS[(message, field)]
    assert (facts["number"], facts["type"], facts["label"]) == \
        (number, type_, label)


def test_newer_core_march_values(ours):
    """core_entry.march knows the architectures CRIU added after 3.17."""
    values = ours["enums"]["core_entry.march"]["values"]
    assert values["LOONGARCH64"] == 7 and values["RISCV64"] == 8


def test_schema_files_follow_criu_conventions():
    """proto2, no package (CRIU's names are global), imports by bare name.

    A package would rename every message (crit and pycriu look them up by
    bare name); a path in an import would break protoc's -Iimages/proto.
    """
    proto_dir = OUR_PB.parent / "proto"
    problems = []
    for path in sorted(proto_dir.glob("*.proto")):
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        if 'syntax = "proto2";' not in lines:
            problems.append(f"{path.name}: not proto2")
        for ln in lines:
            if ln.startswith("package "):
                problems.append(f"{path.name}: has a package")
            if ln.startswith("import ") and "/" in ln \
                    and "google/protobuf/descriptor.proto" not in ln:
                problems.append(f"{path.name}: import with a path: {ln}")
    assert problems == []
