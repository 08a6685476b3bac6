"""The ZDTM runner (zdtm.py) on real test processes.

The checkpoint path is exercised with a fake `criu` (a small script given
with --criu-bin) so that the runner's own duties can be checked whatever
state the real criu is in: a criu failure is a FAIL with the log's tail, a
dump that leaves the task running is caught, a restore with the wrong PID
is caught, and nothing is left running afterwards.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ZDTM = ROOT / "zdtm.py"
LIB = ROOT / "zdtm" / "lib"

pytestmark = pytest.mark.skipif(
    not (LIB / "libzdtmtst.a").exists() or
    not (ROOT / "zdtm" / "static" / "env00").exists(),
    reason="ZDTM library and tests not built (run make)")


def zdtm(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run zdtm.py; on timeout SIGTERM it first so it kills its tests."""
    p = subprocess.Popen([sys.executable, str(ZDTM), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, cwd=ROOT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.terminate()
        p.communicate(timeout=30)
        raise
    return subprocess.CompletedProcess(p.args, p.returncode, out)


def pid_gone(pid: int) -> bool:
    """True if pid no longer exists or is a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def build_test(tmp: pathlib.Path, name: str, body: str,
               desc: str = "{'flavor': 'h', 'flags': 'suid'}") -> pathlib.Path:
    """A tiny ZDTM test in tmp/static/NAME, linked with the real library."""
    d = tmp / "static"
    d.mkdir(exist_ok=True)
    src = d / f"{name}.c"
    src.write_text(textwrap.dedent(body))
    (d / f"{name}.desc").write_text(desc + "\n")
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-D_GNU_SOURCE",
                    f"-I{LIB}", "-o", str(d / name), str(src),
                    str(LIB / "libzdtmtst.a")], check=True)
    return d / name


SLEEPER = """
#include "zdtmtst.h"
int main(int argc, char **argv)
{
	test_init(argc, argv);
	test_daemon();
	test_waitsig();
	pass();
	return 0;
}
"""


def fake_criu(tmp: pathlib.Path, dump: str, restore: str = "") -> pathlib.Path:
    """A criu stand-in: records its argv, runs the given shell snippets.

    The snippets see $D (images dir), $LOG (the log, in $D), $PID (-t) and
    $PIDFILE (--pidfile)."""
    script = tmp / "fake-criu"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> {tmp}/criu-calls
        action=$1; shift
        D= LOG= PID= PIDFILE=
        while [ $# -gt 0 ]; do
            case $1 in
            -D) D=$2; shift;;
            -o) LOG=$2; shift;;
            -t) PID=$2; shift;;
            --pidfile) PIDFILE=$2; shift;;
            esac
            shift
        done
        LOG=$D/$LOG
        case $action in
        dump) {dump} ;;
        restore) {restore} ;;
        esac
        """))
    script.chmod(0o755)
    return script


def test_list_names_every_static_test():
    r = zdtm("list")
    assert r.returncode == 0, r.stdout
    names = r.stdout.split()
    for t in ("env00", "sleeping00", "maps00", "maps01", "fpu01", "rseq00",
              "cmdlinenv00", "sigaction"):
        assert f"zdtm/static/{t}" in names
    info = zdtm("list", "-i")
    assert "zdtm/static/env00" in info.stdout and "h ns uns" in info.stdout


def test_env00_passes_with_nocr():
    r = zdtm("run", "-t", "static/env00", "--nocr")
    assert r.returncode == 0, r.stdout
    assert "PASS  zdtm/static/env00 (h)" in r.stdout
    # ns and uns are reported as skips with their reason, not silently.
    assert "SKIP  zdtm/static/env00 (ns): ns flavour: not yet" in r.stdout


def test_failing_test_is_a_fail_with_its_message(tmp_path):
    t = build_test(tmp_path, "fail00", """
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {
        	test_init(argc, argv);
        	test_daemon();
        	test_waitsig();
        	fail("the resource came back different");
        	return 1;
        }
        """)
    r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert f"FAIL  {t} (h): result:" in r.stdout
    assert "the resource came back different" in r.stdout


def test_test_that_cannot_start_is_a_fail(tmp_path):
    t = build_test(tmp_path, "nostart", """
        #include <stdlib.h>
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {
        	test_init(argc, argv);
        	pr_err("setup went wrong\\n");
        	exit(1);
        }
        """)
    r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert "before it was ready" in r.stdout
    assert "setup went wrong" in r.stdout


def test_leftover_process_is_detected_and_killed(tmp_path):
    pidfile = tmp_path / "child.pid"
    t = build_test(tmp_path, "leak00", f"""
        #include <signal.h>
        #include <stdio.h>
        #include <unistd.h>
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {{
        	pid_t child;
        	FILE *f;

        	test_init(argc, argv);
        	child = fork();
        	if (child == 0) {{
        		signal(SIGTERM, SIG_IGN);
        		for (;;)
        			pause();
        	}}
        	f = fopen("{pidfile}", "w");
        	fprintf(f, "%d\\n", child);
        	fclose(f);
        	test_daemon();
        	test_waitsig();
        	pass();
        	return 0;
        }}
        """)
    r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert "tasks left running in the test's session" in r.stdout
    child = int(pidfile.read_text())
    assert pid_gone(child), f"leftover {child} was not killed"


def test_criu_failure_is_a_fail_with_log_tail_and_nothing_left(tmp_path):
    t = build_test(tmp_path, "sleep00", SLEEPER)
    criu = fake_criu(tmp_path,
                     dump='echo "Error (fake): cannot dump pid $PID" > $LOG; '
                          f'echo $PID > {tmp_path / "dumped"}; exit 1')
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu),
             "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert "criu dump exited with 1; the task was left running" in r.stdout
    assert "Error (fake): cannot dump pid" in r.stdout      # the log's tail
    assert pid_gone(int((tmp_path / "dumped").read_text()))


def test_dump_that_leaves_the_task_running_is_a_fail(tmp_path):
    t = build_test(tmp_path, "sleep00", SLEEPER)
    criu = fake_criu(tmp_path, dump="echo $PID > " + str(tmp_path / "dumped") +
                     "; exit 0")
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu),
             "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert "still running after criu dump" in r.stdout
    assert pid_gone(int((tmp_path / "dumped").read_text()))


def test_criu_that_leaves_tasks_behind_is_a_fail(tmp_path):
    t = build_test(tmp_path, "sleep00", SLEEPER)
    criu = fake_criu(tmp_path, dump="sleep 600 & echo $! > " +
                     str(tmp_path / "helper") + "; exit 0")
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu), "--norst",
             "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    assert "criu dump left tasks behind" in r.stdout
    assert pid_gone(int((tmp_path / "helper").read_text()))


def test_norst_dumps_leave_running_and_the_test_checks_itself(tmp_path):
    t = build_test(tmp_path, "sleep00", SLEEPER)
    criu = fake_criu(tmp_path, dump='echo "dumped $PID" > $LOG; exit 0')
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu), "--norst",
             "--iters", "2", "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    calls = (tmp_path / "criu-calls").read_text().splitlines()
    assert len(calls) == 2
    assert all(c.startswith("dump ") and "--leave-running" in c
               for c in calls)


def test_restore_with_another_pid_is_a_fail_and_is_cleaned_up(tmp_path):
    """A restore that brings back the task under another PID must fail."""
    t = build_test(tmp_path, "sleep00", SLEEPER)
    impostor = tmp_path / "impostor"
    criu = fake_criu(
        tmp_path,
        dump="kill -9 $PID; exit 0",
        restore="setsid sleep 600 < /dev/null > /dev/null 2>&1 & "
                # until the impostor has left criu's session
                'while [ "$(ps -o sid= -p $! | tr -d " ")" != $! ]; do '
                "sleep 0.01; done; "
                f"echo $! > $PIDFILE; echo $! > {impostor}; exit 0")
    # The fake dump kills one task: the test alone, no launcher above it.
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu),
             "--keep-img", "never", "--no-launcher")
    assert r.returncode == 1, r.stdout
    assert "restore: the task came back as pid" in r.stdout
    calls = (tmp_path / "criu-calls").read_text().splitlines()
    assert calls[1].startswith("restore ") and "--restore-detached" in calls[1]
    assert pid_gone(int(impostor.read_text()))


def test_unknown_test_is_a_usage_error():
    r = zdtm("run", "-t", "static/no-such-test", "--nocr")
    assert r.returncode != 0
    assert "no test named static/no-such-test" in r.stdout


def test_uid_of_non_suid_tests():
    """Tests run as 18943:58467 (groups 27495 48244) unless .desc says suid."""
    with tempfile.TemporaryDirectory(prefix="zdtm-uid-") as d:
        tmp = pathlib.Path(d)
        tmp.chmod(0o755)       # the test's user must reach its binary
        t = build_test(tmp, "ids00", """
            #include <unistd.h>
            #include "zdtmtst.h"
            int main(int argc, char **argv)
            {
            	gid_t groups[4];
            	int n;

            	test_init(argc, argv);
            	test_daemon();
            	test_waitsig();
            	n = getgroups(4, groups);
            	if (getuid() != 18943 || getgid() != 58467 || n != 2 ||
            	    groups[0] != 27495 || groups[1] != 48244) {
            		fail("running as %d:%d with %d groups",
            		     getuid(), getgid(), n);
            		return 1;
            	}
            	pass();
            	return 0;
            }
            """, desc="{'flavor': 'h'}")
        (tmp / "static").chmod(0o755)
        r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
        assert r.returncode == 0, r.stdout


def test_crfail_test_passes_when_criu_refuses_and_leaves_it_running(tmp_path):
    t = build_test(tmp_path, "refuse00", SLEEPER,
                   desc="{'flavor': 'h', 'flags': 'suid crfail'}")
    criu = fake_criu(tmp_path, dump='echo "Error: refused" > $LOG; exit 1')
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu),
             "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert "criu dump failed as expected" in r.stdout
    calls = (tmp_path / "criu-calls").read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["dump"]


def _runner_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("zdtm_runner", ZDTM)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod      # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_maps_compare_keeps_vma_boundaries():
    mod = _runner_module()
    split = textwrap.dedent("""\
        7f00000000-7f00001000 r--p 00010000 08:01 12   /lib/libc.so.6
        7f00001000-7f00003000 r--p 00011000 08:01 12   /lib/libc.so.6
        """)
    joined = "7f00000000-7f00003000 r--p 00010000 08:01 12 /lib/libc.so.6\n"
    before = {"maps": mod.vma_lines(split)}
    after = {"maps": mod.vma_lines(joined)}
    assert len(before["maps"]) == 2
    # A restore that merges what the original kept apart is a difference.
    diffs = mod.state_differences(before, after)
    assert any("lost" in d for d in diffs) and any("appeared" in d
                                                   for d in diffs)
    assert mod.state_differences(before, dict(before)) == []


def test_desc_parsing(tmp_path):
    TestDesc = _runner_module().TestDesc
    p = tmp_path / "x.desc"
    p.write_text("{'flavor': 'h', 'flags': 'suid excl', 'opts': '--shell-job',"
                 " 'args': '--a=1 --b=\"two words\"'}")
    d = TestDesc.load(p)
    assert d.flavors == ("h",) and d.flags == {"suid", "excl"}
    assert d.opts == ("--shell-job",) and d.args == ("--a=1", "--b=two words")
    missing = TestDesc.load(tmp_path / "missing.desc")
    assert missing.flavors == ("h", "ns", "uns")
    p.write_text("{'flavour': 'h'}")
    with pytest.raises(SystemExit, match="unknown keys"):
        TestDesc.load(p)


def test_interrupted_runner_kills_its_test_and_criu(tmp_path):
    """SIGTERM to the runner mid-dump: the test and criu's helpers die too."""
    t = build_test(tmp_path, "sleep00", SLEEPER)
    helper = tmp_path / "helper"
    criu = fake_criu(tmp_path, dump=f"echo $PID > {tmp_path / 'dumped'}; "
                     f"sleep 600 & echo $! > {helper}; wait")
    p = subprocess.Popen([sys.executable, str(ZDTM), "run", "-t", str(t),
                          "--criu-bin", str(criu), "--keep-img", "never"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, cwd=ROOT)
    try:
        # Wait (no timing assumption) until the fake criu is in its dump.
        while not (helper.exists() and helper.read_text().strip()):
            assert p.poll() is None, p.stdout.read()
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, out
    assert "killing the running tests" in out
    assert pid_gone(int((tmp_path / "dumped").read_text()))
    assert pid_gone(int(helper.read_text()))


def test_skip_is_reported_with_its_reason(tmp_path):
    t = build_test(tmp_path, "skip00", """
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {
        	test_init(argc, argv);
        	test_daemon();
        	test_waitsig();
        	skip("no such thing on this machine");
        	return 0;
        }
        """)
    r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert f"SKIP  {t} (h): no such thing on this machine" in r.stdout
    assert "0 passed, 0 failed, 1 skipped" in r.stdout


def test_change_seen_from_outside_fails_the_test(tmp_path):
    """A task whose fds differ after criu is a FAIL, even if it says PASS.

    The fake dump lets the test open one more fd while criu "runs" and
    returns only once it has, so the difference is certain."""
    go, done = tmp_path / "go", tmp_path / "done"
    t = build_test(tmp_path, "newfd00", f"""
        #include <fcntl.h>
        #include <unistd.h>
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {{
        	int fd;

        	test_init(argc, argv);
        	test_daemon();
        	while (access("{go}", F_OK))
        		usleep(10000);
        	fd = open("/dev/null", O_RDONLY);
        	close(open("{done}", O_CREAT | O_WRONLY, 0644));
        	test_waitsig();
        	if (fd < 0) {{
        		fail("open");
        		return 1;
        	}}
        	pass();
        	return 0;
        }}
        """)
    criu = fake_criu(tmp_path, dump=f"touch {go}; while [ ! -e {done} ]; "
                     "do sleep 0.01; done; exit 0")
    r = zdtm("run", "-t", str(t), "--criu-bin", str(criu), "--norst",
             "--keep-img", "never")
    assert r.returncode == 1, r.stdout
    # The test runs under the launcher: its fds are those of a task of
    # the tree below the root.
    assert f"FAIL  {t} (h): what /proc shows changed: tree " in r.stdout
    assert "fds 3: None -> /dev/null" in r.stdout


def test_parallel_runs_tests_side_by_side(tmp_path):
    """-p 2: each test is ready only once the other has started, so they
    can both pass only if the runner starts them at the same time."""
    tests = []
    for me, other in (("a", "b"), ("b", "a")):
        tests.append(build_test(tmp_path, f"pair_{me}", f"""
            #include <fcntl.h>
            #include <unistd.h>
            #include "zdtmtst.h"
            int main(int argc, char **argv)
            {{
            	test_init(argc, argv);
            	close(open("{tmp_path}/{me}.started", O_CREAT | O_WRONLY, 0644));
            	while (access("{tmp_path}/{other}.started", F_OK))
            		usleep(10000);
            	test_daemon();
            	test_waitsig();
            	pass();
            	return 0;
            }}
            """))
    r = zdtm("run", "-t", str(tests[0]), "-t", str(tests[1]), "-p", "2",
             "--nocr", "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert "2 passed, 0 failed, 0 skipped" in r.stdout


def test_flavour_selection():
    r = zdtm("run", "-t", "static/env00", "--nocr", "-f", "h",
             "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert "1 passed, 0 failed, 0 skipped" in r.stdout
    assert "(ns)" not in r.stdout and "(uns)" not in r.stdout
    r = zdtm("run", "-t", "static/env00", "--nocr", "-f", "ns,uns")
    assert r.returncode == 0, r.stdout
    assert "0 passed, 0 failed, 2 skipped" in r.stdout
    assert "SKIP  zdtm/static/env00 (uns): uns flavour: not yet" in r.stdout


def test_desc_feature_and_noauto_skips(tmp_path):
    feat = build_test(tmp_path, "feat00", SLEEPER,
                      desc="{'flavor': 'h', 'flags': 'suid', "
                           "'feature': 'no_such_feature'}")
    build_test(tmp_path, "manual00", SLEEPER,
               desc="{'flavor': 'h', 'flags': 'suid noauto'}")
    # A criu whose `check --feature` always says no.
    r = zdtm("run", "-t", str(feat), "--criu-bin", "/bin/false")
    assert r.returncode == 0, r.stdout
    assert f"SKIP  {feat}: criu check: no no_such_feature feature" in r.stdout
    # noauto: left out of -a/-T runs, with its reason.
    mod = _runner_module()
    args = mod.build_parser().parse_args(["run", "-a"])
    runner = mod.Runner(args)
    manual = mod._test_from_binary(tmp_path / "static" / "manual00")
    assert list(runner.plan([manual], run_all=True)) == []
    assert [(r.verdict, r.reason) for r in runner.results] == \
        [("SKIP", "noauto: run only when named")]
    assert list(mod.Runner(args).plan([manual], run_all=False)) == \
        [(manual, "h")]


def test_ready_test_holds_no_handshake_fd(tmp_path):
    """Once the test's parent has exited (ready), the test holds only its
    stdio: nothing of the readiness handshake is left for the runner to see
    or for criu to dump.

    A preloaded close() that never returns for a pipe in the test proper
    (the process that called setsid()) makes a handshake that closes a pipe
    after saying "ready" hold it for good, so that this fails for certain
    instead of once in a while."""
    hang = tmp_path / "hangclose.c"
    hang.write_text(textwrap.dedent("""\
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <sys/stat.h>
        #include <unistd.h>
        int close(int fd)
        {
            static int (*real_close)(int);
            struct stat st;

            if (getsid(0) == getpid() && fstat(fd, &st) == 0 &&
                S_ISFIFO(st.st_mode))
                for (;;)
                    pause();
            if (!real_close)
                real_close = dlsym(RTLD_NEXT, "close");
            return real_close(fd);
        }
        """))
    so = tmp_path / "hangclose.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(hang),
                    "-ldl"], check=True)
    t = build_test(tmp_path, "sleep00", SLEEPER)
    pidfile = tmp_path / "t.pid"
    p = subprocess.Popen([str(t), f"--pidfile={pidfile}", "--outfile=t.out"],
                         cwd=tmp_path, env={"LD_PRELOAD": str(so)},
                         stdin=subprocess.DEVNULL)
    ours = [p.pid]
    try:
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ours += _children(p.pid)
            raise
        assert rc == 0, (tmp_path / "t.out").read_text()
        pid = int(pidfile.read_text())
        ours.append(pid)
        # The pidfile names the launcher; the test proper is its child.
        kids = _children(pid)
        ours += kids
        assert len(kids) == 1, kids
        for task in (pid, *kids):
            fds = sorted(int(fd) for fd in os.listdir(f"/proc/{task}/fd"))
            assert fds == [0, 1, 2], (task, fds)
    finally:
        for pid in ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def test_a_test_named_twice_runs_once():
    r = zdtm("run", "-t", "env00", "-t", "zdtm/static/env00", "-p", "2",
             "--nocr", "-f", "h", "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("=== Run zdtm/static/env00 in h") == 1
    assert "1 passed, 0 failed, 0 skipped" in r.stdout


def test_root_test_that_drops_its_uid_before_ready(tmp_path):
    """A suid test may change its credentials before test_daemon() (they
    are state to checkpoint): saying "ready" must still work."""
    t = build_test(tmp_path, "dropuid00", """
        #include <unistd.h>
        #include "zdtmtst.h"
        int main(int argc, char **argv)
        {
        	test_init(argc, argv);
        	if (setresgid(4242, 4242, 4242) || setresuid(4242, 4242, 4242)) {
        		pr_perror("setresuid");
        		return 1;
        	}
        	test_daemon();
        	test_waitsig();
        	if (getuid() != 4242) {
        		fail("uid %d", getuid());
        		return 1;
        	}
        	pass();
        	return 0;
        }
        """)
    r = zdtm("run", "-t", str(t), "--nocr", "--keep-img", "never")
    assert r.returncode == 0, r.stdout
    assert "1 passed, 0 failed, 0 skipped" in r.stdout
