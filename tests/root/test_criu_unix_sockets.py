"""Unix sockets criu cannot bring back yet are refused at dump in one line
naming the task, the fd, the socket and the reason; the task is left
running, untraced, and no inventory.img is written."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import socket
import subprocess

import pytest

from criu_testlib import Victim, criu, one_line


def _refused(v: Victim, images: pathlib.Path, reason: str) -> str:
    r = criu("dump", "-t", str(v.pid), "-D", str(images))
    assert r.returncode == 1, r.stderr
    line = one_line(r.stderr)
    assert line.startswith("Error (dump/files): "), line
    assert f"task {v.pid}: fd " in line and "socket:[" in line, line
    assert reason in line, line
    v.assert_running_untraced()
    assert not (images / "inventory.img").exists()
    return line


@pytest.mark.parametrize("extra, reason", [
    # A file descriptor in flight in a queued message (SCM_RIGHTS).
    ("import socket\na, b = socket.socketpair()\n"
     "socket.send_fds(a, [b'x'], [0])\n",
     "carries file descriptors (SCM_RIGHTS)"),
    # Data sent on a connection nobody accepted yet.
    ("import socket, os\np = os.path.join(os.getcwd(), 'l.sock')\n"
     "l = socket.socket(socket.AF_UNIX)\nl.bind(p)\nl.listen(1)\n"
     "c = socket.socket(socket.AF_UNIX)\nc.connect(p)\nc.send(b'x')\n"
     "os.unlink(p)\n",
     "has not accepted yet"),
    # A socket of another family: no kind takes it (the name must not be
    # one the victim's counter loop reuses, or the socket is closed).
    ("import socket\n"
     "nl_sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n",
     "AF_NETLINK sockets are not supported yet"),
])
def test_refused(extra: str, reason: str, tmp_path: pathlib.Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    v = Victim(tmp_path, extra=extra)
    try:
        _refused(v, tmp_path / "img", reason)
    finally:
        v.kill()


def test_peer_outside_the_tree(tmp_path: pathlib.Path) -> None:
    """A dgram socket connected to one held by another program (say a
    logging daemon's): --ext-unix-sk is not supported."""
    name = f"\0criu-test-{tmp_path.name}".encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as outside:
        outside.bind(name)
        v = Victim(tmp_path, extra="import socket\n"
                   "c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                   f"c.connect({name!r})\n")
        try:
            line = _refused(v, tmp_path / "img", "is outside the dumped tree")
            assert "its peer socket:[" in line, line
        finally:
            v.kill()


def test_connection_waiting_from_outside(tmp_path: pathlib.Path) -> None:
    """A listening socket whose queue holds a connection from a program
    outside the tree: that client would be cut off."""
    path = tmp_path / "l.sock"
    v = Victim(tmp_path, extra="import socket\n"
               "l = socket.socket(socket.AF_UNIX)\n"
               f"l.bind({str(path)!r})\nl.listen(1)\n")
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            _refused(v, tmp_path / "img", "waiting in its listen queue "
                     "comes from")
    finally:
        v.kill()


@pytest.mark.skipif(not os.path.exists("/usr/bin/crit"),
                    reason="Debian's crit (CRIU 3.17) is not installed")
def test_crit_317_decodes_unix_images(tmp_path: pathlib.Path) -> None:
    """files.img (unix_sk_entry) and sk-queues.img as CRIU's own crit
    reads them: fields, names and queued bytes."""
    v = Victim(tmp_path, extra="import socket\n"
               "sk_a, sk_b = socket.socketpair(socket.AF_UNIX, "
               "socket.SOCK_DGRAM)\n"
               "sk_a.send(b'first')\nsk_a.send(b'')\n"
               "sk_x = socket.socket(socket.AF_UNIX)\n"
               f"sk_x.bind(b'\\0criu-crit-{tmp_path.name}')\n"
               "sk_x.listen(3)\n")
    images = tmp_path / "img"
    try:
        r = criu("dump", "-t", str(v.pid), "-D", str(images), "-R")
        assert r.returncode == 0, r.stderr
    finally:
        v.kill()
    out = subprocess.run(["/usr/bin/crit", "decode", "--pretty", "-i",
                          str(images / "files.img")],
                         capture_output=True, text=True, check=True)
    usks = [e["usk"] for e in json.loads(out.stdout)["entries"]
            if e["type"] == "UNIXSK"]
    assert sorted(u["type"] for u in usks) == ["DGRAM", "DGRAM", "STREAM"]
    listener = next(u for u in usks if u["state"] == "LISTEN")
    assert listener["backlog"] == 3
    assert listener["name"] == f"=00criu-crit-{tmp_path.name}"
    a, b = (u for u in usks if u["type"] == "DGRAM")
    assert a["peer"] == b["ino"] and b["peer"] == a["ino"]
    out = subprocess.run(["/usr/bin/crit", "decode", "--pretty", "-i",
                          str(images / "sk-queues.img")],
                         capture_output=True, text=True, check=True)
    packets = json.loads(out.stdout)["entries"]
    assert [(p["length"], base64.b64decode(p.get("extra", "")))
            for p in packets] == [(5, b"first"), (0, b"")]
    assert {p["id_for"] for p in packets} < {u["id"] for u in usks}
