"""The tty kind without root: device numbers and CRIU's info ids, the
/proc/PID/stat controlling terminal, termios image encoding, the dump
checks (pairs, sessions), and the restore half run in this process:
ptys made under a chosen index with their modes, window size, packet
mode and lock; a busy index refused in one line."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace
from typing import Any

import pytest

from compel.native import files as nfiles
from criu.errors import DumpError, RestoreError
from criu.resources import fdtypes
from criu.resources.fdtypes import tty


def test_kind_and_hooks() -> None:
    assert fdtypes.by_type(11) is tty
    assert tty.enter_session in fdtypes.hooks("enter_session")
    assert tty.post_open in fdtypes.hooks("post_open")


@pytest.mark.parametrize("rdev, kind, master", [
    (os.makedev(5, 2), tty.TTY_PTY, True),       # /dev/ptmx, /dev/pts/ptmx
    (os.makedev(136, 3), tty.TTY_PTY, False),    # /dev/pts/3
    (os.makedev(137, 4), tty.TTY_PTY, False),    # /dev/pts/260
    (os.makedev(5, 0), tty.TTY_CTTY, False),
    (os.makedev(5, 1), tty.TTY_CONSOLE, False),
    (os.makedev(4, 1), tty.TTY_VT, False),
    (os.makedev(4, 64), tty.TTY_SERIAL, False),
    (os.makedev(5, 3), None, False),
    (os.makedev(1, 3), None, False),
])
def test_tty_type(rdev: int, kind: Any, master: bool) -> None:
    assert tty.tty_type(rdev) == kind
    assert tty.is_master(rdev) == master


def test_indices_and_ids() -> None:
    assert tty.slave_index(os.makedev(136, 3)) == 3
    assert tty.slave_index(os.makedev(137, 4)) == 260
    # CRIU pairs the two sides of pty N by these ids.
    assert tty.pty_info_id(7, True) == 15
    assert tty.pty_info_id(7, False) == 14


def test_controlling_tty_of_self() -> None:
    with open("/proc/self/stat") as f:
        text = f.read()
    want = int(text[text.rindex(")") + 2:].split()[4])
    assert tty.controlling_tty(os.getpid()) == want


def test_termios_round_trip() -> None:
    t = nfiles.KTermios(0x4800, 0x4, 0xbf, 0x8a3b, 0)
    for i in range(nfiles.KERNEL_NCCS):
        t.c_cc[i] = i * 3
    e = tty._termios_entry(t)
    assert e.c_ispeed == e.c_ospeed == 0xbf & tty.CBAUD
    assert len(e.c_cc) == nfiles.KERNEL_NCCS
    assert bytes(tty._ktermios(e)) == bytes(t)


def _info(index: int, master: bool, sid: int = 0, pgrp: int = 0) -> Any:
    from images.pb import tty_pb2
    e = tty_pb2.tty_info_entry(
        id=tty.pty_info_id(index, master), type=tty.TTY_PTY, locked=False,
        exclusive=False, packet_mode=False, sid=sid, pgrp=pgrp,
        rdev=os.makedev(5, 2) if master else os.makedev(136, index))
    e.pty.index = index
    return e


def _dump_ctx(shell_job: bool = False, tasks: Any = ()) -> Any:
    return SimpleNamespace(opts=SimpleNamespace(shell_job=shell_job),
                           registry={}, tasks=list(tasks),
                           log=logging.getLogger("test"))


def test_slave_without_master_refused() -> None:
    ctx = _dump_ctx()
    state = tty._dump_state(ctx)
    state.infos[6] = _info(3, False)
    state.where[6] = "task 9: fd 4: /dev/pts/3"
    with pytest.raises(DumpError) as e:
        tty._check_pairs(ctx, state)
    assert str(e.value) == (
        "task 9: fd 4: /dev/pts/3: the master of pty 3 (its other end) is "
        "outside the dumped tree; dump its holder too, or use --shell-job "
        "if it is the caller's terminal")
    tty._check_pairs(_dump_ctx(shell_job=True), state)   # the caller's


def test_slave_takes_the_masters_session() -> None:
    ctx = _dump_ctx()
    state = tty._dump_state(ctx)
    state.infos[6] = _info(3, False)
    state.infos[7] = _info(3, True, sid=100, pgrp=101)
    tty._check_pairs(ctx, state)
    assert (state.infos[6].sid, state.infos[6].pgrp) == (100, 101)


def test_session_leader_must_be_dumped() -> None:
    leader = SimpleNamespace(pid=100, sid=100, pgid=100, zombie=False)
    member = SimpleNamespace(pid=101, sid=100, pgid=101, zombie=False)
    ctx = _dump_ctx(tasks=[member])
    state = tty._dump_state(ctx)
    state.infos[7] = _info(3, True, sid=100, pgrp=101)
    state.where[7] = "task 101: fd 3: /dev/ptmx"
    with pytest.raises(DumpError, match=r"^task 101: fd 3: /dev/ptmx: pty 3 "
                       r"is the controlling terminal of session 100, whose "
                       r"leader is not in the dumped tree$"):
        tty._check_sessions(ctx, state)
    tty._check_sessions(_dump_ctx(tasks=[leader, member]), state)


# ---------------------------------------------------------- restore half
def _free_index() -> int:
    fd = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
    try:
        return nfiles.ioctl_int(fd, nfiles.TIOCGPTN)
    finally:
        os.close(fd)


def test_open_index_skips_to_the_wanted_one() -> None:
    for _ in range(5):                  # other programs may take ptys
        want = _free_index() + 2
        spares: list[int] = []
        try:
            fd = tty._open_index("x", "/dev/ptmx",
                                 os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC,
                                 want, spares)
        except RestoreError:
            continue
        finally:
            for s in spares:
                os.close(s)
        try:
            assert nfiles.ioctl_int(fd, nfiles.TIOCGPTN) == want
            assert len(spares) == 2
        finally:
            os.close(fd)
        return
    pytest.fail("no run without another program taking ptys")


def test_open_index_refuses_a_busy_index() -> None:
    held = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
    try:
        busy = nfiles.ioctl_int(held, nfiles.TIOCGPTN)
        with pytest.raises(RestoreError, match=rf"^task 7: fd 3: pty {busy}: "
                           rf"/dev/pts/{busy} is in use by another program$"):
            tty._open_index(f"task 7: fd 3: pty {busy}", "/dev/ptmx",
                            os.O_RDWR | os.O_NOCTTY, busy, [])
    finally:
        os.close(held)


def _restore_ctx(entries: list[Any], infos: dict[int, Any]) -> Any:
    forked: list[Any] = []
    images = SimpleNamespace(read=lambda name: entries if name == "files.img"
                             else [])
    task = SimpleNamespace(pid=1 << 22, sid=1 << 22, alive=True, ids=None,
                           service_fds=SimpleNamespace(base=200))
    return SimpleNamespace(registry={tty._RESTORE_KEY: infos},
                           images=images, tasks=[task], on_forked=forked.append,
                           log=logging.getLogger("test"), forked=forked)


def test_make_a_pty_with_its_settings() -> None:
    """A master and its slave under a free index, as collect() makes them
    in criu: modes, window size, packet mode, exclusive slave, lock."""
    from images.pb import fdinfo_pb2, fown_pb2, regfile_pb2, tty_pb2
    index = _free_index() + 1
    fown = fown_pb2.fown_entry(uid=0, euid=0, signum=0, pid_type=0, pid=0)
    minfo, sinfo = _info(index, True), _info(index, False)
    t = nfiles.KTermios(0, 0, 0xbf, 0, 0)
    t.c_cc[0] = 7
    for info in (minfo, sinfo):
        info.termios.CopyFrom(tty._termios_entry(t))
        info.termios_locked.CopyFrom(tty._termios_entry(nfiles.KTermios()))
        info.winsize.CopyFrom(tty_pb2.winsize_entry(
            ws_row=33, ws_col=99, ws_xpixel=1, ws_ypixel=2))
        info.uid, info.gid = os.getuid(), os.getgid()
    minfo.packet_mode = minfo.locked = True
    sinfo.exclusive = True
    entries = [
        fdinfo_pb2.file_entry(type=1, id=1, reg=regfile_pb2.reg_file_entry(
            id=1, flags=2, pos=0, fown=fown, name="/dev/ptmx")),
        fdinfo_pb2.file_entry(type=1, id=2, reg=regfile_pb2.reg_file_entry(
            id=2, flags=2, pos=0, fown=fown, name=f"/dev/pts/{index}",
            mode=0o20620)),
        fdinfo_pb2.file_entry(type=11, id=3, tty=tty_pb2.tty_file_entry(
            id=3, tty_info_id=minfo.id, flags=2, fown=fown, regf_id=1)),
        fdinfo_pb2.file_entry(type=11, id=4, tty=tty_pb2.tty_file_entry(
            id=4, tty_info_id=sinfo.id, flags=2, fown=fown, regf_id=2)),
    ]
    ctx = _restore_ctx(entries, {minfo.id: minfo, sinfo.id: sinfo})
    try:
        tty._make_ptys(ctx, ctx.registry[tty._RESTORE_KEY])
    except RestoreError as e:
        if "in use by another program" in str(e):
            pytest.skip(str(e))
        raise
    made = ctx.registry[tty._MADE_KEY]
    try:
        master, slave = made[3], made[4]
        assert master >= 200 and slave >= 200
        assert nfiles.ioctl_int(master, nfiles.TIOCGPTN) == index
        assert tty.slave_index(os.fstat(slave).st_rdev) == index
        assert bytes(nfiles.get_termios(slave)) == bytes(t)
        ws = nfiles.get_winsize(slave)
        assert (ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel) == \
            (33, 99, 1, 2)
        assert nfiles.ioctl_int(master, nfiles.TIOCGPKT) == 1
        assert nfiles.ioctl_int(master, nfiles.TIOCGPTLCK) == 1
        assert nfiles.ioctl_int(slave, nfiles.TIOCGEXCL) == 1
        assert nfiles.ioctl_int(master, nfiles.TIOCGEXCL) == 0
        assert os.fstat(slave).st_mode & 0o777 == 0o620
        # connected: raw modes, so the byte crosses as it is
        os.write(master, b"z")
        assert os.read(slave, 1) == b"z"
    finally:
        for fn in ctx.forked:            # criu's copies, once forked
            fn()
    assert made == {}
