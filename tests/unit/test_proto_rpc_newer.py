"""RPC schema against CRIU 3.17, on the wire too, and post-3.17 facts.

test_proto_schema.py compares the image schemas with CRIU 3.17's; the RPC
schema (rpc.proto, what runc/crun/podman and go-criu speak to `criu swrk`)
lives apart in Debian's pycriu and is checked here, both fact by fact and
by passing real serialized requests between our modules and CRIU's.

Facts CRIU added after 3.17 (pidfd files, newer RPC options) have no
installed reference to compare with, so they are pinned here as CRIU
defines them today.
"""

from __future__ import annotations

import base64
import json
import pathlib
import subprocess

import pytest

from images.pb import fdinfo_pb2, pidfd_pb2, rpc_pb2

SYSTEM_PYTHON = pathlib.Path("/usr/bin/python3")
PYCRIU_RPC = pathlib.Path("/usr/lib/python3/dist-packages/pycriu/rpc_pb2.py")

# Field facts as plain data; the same source runs under Debian's python.
DESCRIBE = '''
def describe(module):
    out = {}
    for msg in module.DESCRIPTOR.message_types_by_name.values():
        out["message " + msg.name] = {
            f.name: [f.number, f.type, f.label,
                     (f.message_type or f.enum_type).full_name
                     if (f.message_type or f.enum_type) else None,
                     repr(f.default_value) if f.has_default_value else None]
            for f in msg.fields}
    for enum in module.DESCRIPTOR.enum_types_by_name.values():
        out["enum " + enum.name] = {v.name: v.number for v in enum.values}
    return out
'''

# Facts CRIU itself changed since 3.17: images_dir_fd got a default of -1
# ("use images_dir instead") when the images_dir path option was added.
CHANGED_SINCE_317 = {("message criu_opts", "images_dir_fd")}


def _run_criu_python(body: str, stdin: bytes = b"") -> str:
    """Run body under Debian's python with CRIU 3.17's rpc_pb2 imported."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} missing: cannot load CRIU 3.17's rpc_pb2")
    if not PYCRIU_RPC.exists():
        pytest.skip(f"CRIU's pycriu not installed ({PYCRIU_RPC} missing; "
                    "apt-get install criu)")
    script = ("import sys, json, base64\n"
              "from pycriu import rpc_pb2 as criu\n" + DESCRIBE + body)
    done = subprocess.run([str(SYSTEM_PYTHON), "-I", "-c", script],
                          input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _describe_ours(module) -> dict:
    scope: dict = {}
    exec(DESCRIBE, scope)
    return json.loads(json.dumps(scope["describe"](module)))


def test_rpc_matches_criu_317():
    theirs = json.loads(_run_criu_python("json.dump(describe(criu), sys.stdout)"))
    ours = _describe_ours(rpc_pb2)
    problems = []
    for kind, items in sorted(theirs.items()):
        mine = ours.get(kind)
        if mine is None:
            problems.append(f"{kind}: missing")
            continue
        for name, facts in sorted(items.items()):
            if (kind, name) in CHANGED_SINCE_317:
                facts, got = facts[:4], (mine.get(name) or [None] * 5)[:4]
            else:
                got = mine.get(name)
            if got != facts:
                problems.append(f"{kind}.{name}: ours {got}, CRIU 3.17 {facts}")
    assert not problems, "\n".join(problems)


def test_request_we_encode_is_read_by_criu_317():
    req = rpc_pb2.criu_req(type=rpc_pb2.DUMP, keep_open=True)
    opts = req.opts
    opts.images_dir_fd = 7
    opts.pid = 4242
    opts.log_level = 4
    opts.tcp_established = True
    opts.manage_cgroups_mode = rpc_pb2.SOFT
    opts.external.extend(["mnt[/a]:a", "veth[eth0]:vh0"])
    opts.ps.address = "127.0.0.1"
    opts.ps.port = 1234
    opts.network_lock = rpc_pb2.NFTABLES
    # A field 3.17 does not know must not stop it from reading the rest.
    opts.leave_stopped = True
    wire = req.SerializeToString()

    out = _run_criu_python(
        "r = criu.criu_req()\n"
        "r.ParseFromString(sys.stdin.buffer.read())\n"
        "o = r.opts\n"
        "json.dump([r.type, r.keep_open, o.images_dir_fd, o.pid, o.log_level,"
        " o.tcp_established, o.manage_cgroups_mode, list(o.external),"
        " o.ps.address, o.ps.port, o.network_lock], sys.stdout)\n",
        stdin=wire)
    assert json.loads(out) == [1, True, 7, 4242, 4, True, 3,
                               ["mnt[/a]:a", "veth[eth0]:vh0"],
                               "127.0.0.1", 1234, 2]


def test_response_criu_317_encodes_is_read_by_us():
    out = _run_criu_python(
        "r = criu.criu_resp(type=criu.RESTORE, success=False)\n"
        "r.restore.pid = 31337\n"
        "r.cr_errno = 13\n"
        "r.cr_errmsg = 'no permission'\n"
        "r.version.major_number = 3\n"
        "r.version.minor_number = 17\n"
        "r.features.lazy_pages = True\n"
        "sys.stdout.write(base64.b64encode(r.SerializeToString()).decode())\n")
    resp = rpc_pb2.criu_resp()
    resp.ParseFromString(base64.b64decode(out))
    assert resp.type == rpc_pb2.RESTORE and resp.success is False
    assert resp.restore.pid == 31337
    assert (resp.cr_errno, resp.cr_errmsg) == (13, "no permission")
    assert (resp.version.major_number, resp.version.minor_number) == (3, 17)
    assert resp.features.lazy_pages and not resp.features.HasField("mem_track")


# (message, field) -> (number, protobuf type name, label, default) as CRIU
# defines them today, for what came after 3.17.
NEWER_FIELDS = {
    (rpc_pb2.criu_opts, "images_dir_fd"): (1, "int32", "required", -1),
    (rpc_pb2.criu_opts, "images_dir"): (68, "string", "optional", None),
    (rpc_pb2.criu_opts, "skip_file_rwx_check"): (66, "bool", "optional", None),
    (rpc_pb2.criu_opts, "unprivileged"): (67, "bool", "optional", None),
    (rpc_pb2.criu_opts, "leave_stopped"): (69, "bool", "optional", None),
    (rpc_pb2.criu_opts, "display_stats"): (70, "bool", "optional", None),
    (rpc_pb2.criu_opts, "log_to_stderr"): (71, "bool", "optional", None),
    (rpc_pb2.criu_opts, "allow_uprobes"): (72, "bool", "optional", None),
    (rpc_pb2.criu_opts, "ghost_fiemap"): (73, "bool", "optional", None),
    (rpc_pb2.criu_opts, "file_validation_method"):
        (74, "enum", "optional", rpc_pb2.BUILD_ID),
    (fdinfo_pb2.file_entry, "pidfd"): (22, "message", "optional", None),
    (pidfd_pb2.pidfd_entry, "id"): (1, "uint32", "required", None),
    (pidfd_pb2.pidfd_entry, "ino"): (2, "uint32", "required", None),
    (pidfd_pb2.pidfd_entry, "flags"): (3, "uint32", "required", None),
    (pidfd_pb2.pidfd_entry, "nspid"): (4, "int32", "required", None),
    (pidfd_pb2.pidfd_entry, "fown"): (5, "message", "required", None),
}

NEWER_ENUM_VALUES = {
    (rpc_pb2, "SKIP"): 3,                 # criu_network_lock_method
    (rpc_pb2, "FILE_SIZE"): 1,            # criu_file_validation_method
    (rpc_pb2, "BUILD_ID"): 2,
    (fdinfo_pb2, "PIDFD"): 20,            # fd_types
}


@pytest.mark.parametrize("where,facts", list(NEWER_FIELDS.items()),
                         ids=lambda v: v[1] if isinstance(v, tuple)
                         and isinstance(v[1], str) else None)
def test_newer_field(where, facts):
    message, name = where
    number, type_name, label, default = facts
    field = message.DESCRIPTOR.fields_by_name[name]
    types = {v: k[len("TYPE_"):].lower()
             for k, v in vars(type(field)).items() if k.startswith("TYPE_")}
    labels = {v: k[len("LABEL_"):].lower()
              for k, v in vars(type(field)).items() if k.startswith("LABEL_")}
    assert (field.number, types[field.type], labels[field.label]) == \
        (number, type_name, label)
    assert (field.default_value if field.has_default_value else None) == default


@pytest.mark.parametrize("where,number", list(NEWER_ENUM_VALUES.items()),
                         ids=lambda v: v[1] if isinstance(v, tuple) else None)
def test_newer_enum_value(where, number):
    module, name = where
    assert getattr(module, name) == number


def test_pidfd_file_entry_on_the_wire():
    """A files.img entry of a pidfd, as CRIU writes it, byte for byte."""
    fe = fdinfo_pb2.file_entry(type=fdinfo_pb2.PIDFD, id=5)
    fe.pidfd.id, fe.pidfd.ino, fe.pidfd.flags, fe.pidfd.nspid = 5, 77, 0o4000, -1
    fe.pidfd.fown.uid = fe.pidfd.fown.euid = 0
    fe.pidfd.fown.signum = fe.pidfd.fown.pid_type = fe.pidfd.fown.pid = 0
    wire = fe.SerializeToString()
    # type=20 (field 1 varint), id=5 (field 2), then field 22 (tag 0xb2 0x01)
    assert wire[:4] == bytes([0x08, 20, 0x10, 5])
    assert wire[4:6] == bytes([0xB2, 0x01])
    again = fdinfo_pb2.file_entry.FromString(wire)
    assert again.pidfd.nspid == -1 and again.pidfd.ino == 77
