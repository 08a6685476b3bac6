"""clone3 with set_tid from compel.native (what restore uses for PIDs)."""

from __future__ import annotations

import errno
import os

import pytest

from compel.native.clone import fork_with_tid

pytestmark = pytest.mark.root


def _free_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1000, -7):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    pytest.skip("no free PID found")


def test_fork_with_chosen_pid():
    want = _free_pid()
    pid = fork_with_tid([want])
    if pid == 0:
        os._exit(0 if os.getpid() == want else 3)
    assert pid == want
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_taken_pid_is_eexist():
    with pytest.raises(OSError) as err:
        pid = fork_with_tid([os.getpid()])
        if pid == 0:
            os._exit(0)
    assert err.value.errno == errno.EEXIST
    assert "clone3" in str(err.value)
