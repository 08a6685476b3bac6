"""`criu check`: the probes run for real on this kernel."""

from __future__ import annotations

from criu_testlib import criu


def test_check_looks_good() -> None:
    r = criu("check")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Looks good."


def test_check_all() -> None:
    r = criu("check", "--all", "-v3")
    assert r.returncode == 0, r.stderr
    assert "Looks good" in r.stdout
    # every probe reported in the log at -v3
    assert "ptrace_seize: ok" in r.stderr


def test_feature_list_and_single_features() -> None:
    r = criu("check", "--feature", "list")
    assert r.returncode == 0
    names = r.stdout.split()
    for name in ("ptrace_seize", "map_files", "clone3_set_tid", "memfd",
                 "uffd", "pagemap_scan", "rseq", "get_rseq_conf",
                 "mem_dirty_track", "can_map_vdso"):
        assert name in names
    r = criu("check", "--feature", "clone3_set_tid", "--feature",
             "pagemap_scan")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["clone3_set_tid is supported",
                                     "pagemap_scan is supported"]
