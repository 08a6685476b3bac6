"""Pure-Python planning of a tree restore: helper tasks for dead leaders,
zombie session leaders, and the parsing of /proc/PID/timers."""

from __future__ import annotations

import logging

from criu.options import Options
from criu.resources import timers
from criu.resources.base import (TASK_ALIVE, TASK_DEAD, RestoreContext,
                                 RestoreTask, new_core)
from criu.restore import pipeline


def _task(pid: int, ppid: int, pgid: int, sid: int,
          state: int = TASK_ALIVE) -> RestoreTask:
    return RestoreTask(pid=pid, ppid=ppid, pgid=pgid, sid=sid, threads=[pid],
                       core=new_core(state, "t"))


def _link(*tasks: RestoreTask) -> dict[int, RestoreTask]:
    by_pid = {t.pid: t for t in tasks}
    for t in tasks[1:]:
        by_pid[t.ppid].children.append(t)
    return by_pid


def _ctx() -> RestoreContext:
    return RestoreContext(opts=Options(), images=None,  # type: ignore[arg-type]
                          log=logging.getLogger("test"))


def test_dead_group_leader_gets_a_helper_in_the_parents_session() -> None:
    root = _task(100, 0, 100, 100)
    kid = _task(101, 100, 150, 100)            # group 150: leader is gone
    by_pid = _link(root, kid)
    pipeline._add_helpers(_ctx(), root, by_pid)
    helper = root.children[0]
    assert helper.helper and helper.pid == 150 and helper.pgid == 150
    assert helper.sid == 100 and helper.ppid == 100
    assert [t.pid for t in root.walk()] == [100, 150, 101]


def test_dead_session_leader_helper_forks_members_with_clone_parent() -> None:
    root = _task(100, 0, 100, 100)
    a = _task(101, 100, 200, 200)              # session 200: leader gone
    b = _task(102, 100, 102, 200)
    c = _task(103, 100, 100, 100)
    by_pid = _link(root, a, b, c)
    pipeline._add_helpers(_ctx(), root, by_pid)
    helper = next(t for t in root.children if t.helper)
    assert helper.pid == 200 and helper.sid == 200
    # a and b stay root's children, but are made by the helper.
    assert [t.pid for t in helper.parent_kids] == [101, 102]
    assert [t.pid for t in root.children] == [103, 200]


def test_zombie_session_leader_forks_its_members() -> None:
    root = _task(100, 0, 100, 100)
    z = _task(101, 100, 101, 101, state=TASK_DEAD)
    m = _task(102, 100, 101, 101)              # member, z's sibling
    by_pid = _link(root, z, m)
    pipeline._add_helpers(_ctx(), root, by_pid)
    assert z.parent_kids == [m] and m not in root.children


def test_orphan_in_a_live_leaders_session_is_forked_by_it() -> None:
    root = _task(100, 0, 100, 100)
    leader = _task(107, 100, 107, 107)         # started session 107
    orphan = _task(109, 100, 108, 107)         # its group 108: leader gone
    by_pid = _link(root, leader, orphan)
    pipeline._add_helpers(_ctx(), root, by_pid)
    assert leader.parent_kids == [orphan]
    helper = leader.children[0]                # group helper, in 107
    assert helper.helper and helper.pid == 108 and helper.sid == 107


def test_a_live_tree_needs_no_helper() -> None:
    root = _task(100, 0, 100, 100)
    kid = _task(101, 100, 100, 100)
    by_pid = _link(root, kid)
    pipeline._add_helpers(_ctx(), root, by_pid)
    assert not any(t.helper for t in root.walk())


def test_proc_timers_parsing() -> None:
    text = ("ID: 3\nsignal: 10/0000000000001234\nnotify: signal/pid.42\n"
            "ClockID: 1\n"
            "ID: 1\nsignal: 12/0000000000000000\nnotify: signal/tid.43\n"
            "ClockID: -6\n"
            "ID: 0\nsignal: 14/0000000000000000\nnotify: none/pid.42\n"
            "ClockID: 0\n")
    got = timers.parse_proc_timers(text)
    assert [(t.id, t.signo, t.sival, t.notify, t.tid, t.clock_id)
            for t in got] == [
        (3, 10, 0x1234, timers.SIGEV_SIGNAL, 42, 1),
        (1, 12, 0, timers.SIGEV_SIGNAL | timers.SIGEV_THREAD_ID, 43, -6),
        (0, 14, 0, timers.SIGEV_NONE, 42, 0)]
