#!/usr/bin/env python3
"""Dump/restore benchmark: a tiny loop and a process with 1 GiB of non-zero
memory, several times each, with our criu and optionally another one.

    scripts/bench.py [--runs N] [--size-mib M] [--other-criu PATH]

For each criu and each victim it prints the median wall time of dump and
of restore (-d), the page throughput (bytes of pages-*.img per second of
dump / restore) and criu's peak RSS (ru_maxrss of the criu process, from
wait4).  With --other-criu, both are run alternately and the ratios
(other / ours, >1 means ours is faster) are printed.  Needs root.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUR_CRIU = ROOT / ".venv" / "bin" / "criu"

VICTIM_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* argv[1]: MiB of non-zero memory to hold; then loop forever. */
int main(int argc, char **argv)
{
	size_t size = (size_t)atol(argv[1]) << 20;
	unsigned char *mem = NULL;
	volatile unsigned long ticks = 0;
	size_t i;

	if (size) {
		mem = malloc(size);
		if (!mem)
			return 1;
		for (i = 0; i < size; i++)
			mem[i] = (unsigned char)(i * 7 + 1) | 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		ticks++;
		usleep(1000);
	}
	return mem[0];
}
"""


def build_victim(tmp: pathlib.Path) -> pathlib.Path:
    src = tmp / "victim.c"
    exe = tmp / "victim"
    src.write_text(VICTIM_C)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def start_victim(exe: pathlib.Path, mib: int) -> int:
    proc = subprocess.Popen([str(exe), str(mib)], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise SystemExit("victim did not start")
    proc.stdout.close()
    # criu kills the task at dump: reap it from here, never leave a zombie.
    proc.returncode = None
    return proc.pid


def run_criu(criu: str, args: list[str]) -> tuple[float, int, int]:
    """(wall seconds, exit status, peak RSS KiB) of one criu command."""
    start = time.monotonic()
    proc = subprocess.Popen([criu, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode:
        print(f"  {criu} {' '.join(args[:1])} failed: {err.strip()}",
              file=sys.stderr)
    return wall, proc.returncode, usage.ru_maxrss


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def pages_bytes(d: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in d.glob("pages-*.img"))


def one_round(criu: str, exe: pathlib.Path, mib: int,
              work: pathlib.Path) -> dict[str, float] | None:
    pid = start_victim(exe, mib)
    d = work / f"dump-{pid}"
    d.mkdir()
    try:
        dump_t, rc, dump_rss = run_criu(criu, ["dump", "-t", str(pid),
                                               "-D", str(d)])
        kill(pid)           # a failed dump left it running; reap it anyway
        if rc:
            return None
        size = pages_bytes(d)
        rest_t, rc, rest_rss = run_criu(criu, ["restore", "-D", str(d), "-d"])
        if rc:
            return None
        alive = os.path.exists(f"/proc/{pid}")
        kill_restored(pid)
        if not alive:
            return None
        return {"dump": dump_t, "restore": rest_t, "bytes": size,
                "dump_rss": dump_rss, "restore_rss": rest_rss}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def kill_restored(pid: int) -> None:
    """The restored task is not our child: kill it and wait for it to go."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while os.path.exists(f"/proc/{pid}"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[-1].startswith("Z"):
                    break
        except OSError:
            break
        time.sleep(0.01)


def summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    med["dump_gbps"] = med["bytes"] / med["dump"] / 1e9
    med["restore_gbps"] = med["bytes"] / med["restore"] / 1e9
    med["rss_mib"] = max(max(r["dump_rss"], r["restore_rss"])
                         for r in rounds) / 1024
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--other-criu")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("bench.py needs root (ptrace, clone3 with set_tid)",
              file=sys.stderr)
        return 1
    crius = [("ours", str(OUR_CRIU))]
    if opts.other_criu:
        crius.append(("other", opts.other_criu))
    victims = [("tiny loop", 0), (f"{opts.size_mib} MiB", opts.size_mib)]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="criu-bench-") as tmp:
        work = pathlib.Path(tmp)
        exe = build_victim(work)
        for vname, mib in victims:
            for _ in range(opts.runs):
                for cname, criu in crius:      # alternate the criu binaries
                    r = one_round(criu, exe, mib, work)
                    if r is not None:
                        results.setdefault((cname, vname), []).append(r)
    print(f"{'criu':6} {'victim':10} {'dump s':>8} {'restore s':>10} "
          f"{'dump GB/s':>10} {'rest GB/s':>10} {'peak RSS MiB':>13} runs")
    meds = {}
    for (cname, vname), rounds in results.items():
        m = meds[(cname, vname)] = summary(rounds)
        print(f"{cname:6} {vname:10} {m['dump']:8.3f} {m['restore']:10.3f} "
              f"{m['dump_gbps']:10.2f} {m['restore_gbps']:10.2f} "
              f"{m['rss_mib']:13.1f} {len(rounds)}")
    if opts.other_criu:
        for vname, _ in victims:
            a, b = meds.get(("ours", vname)), meds.get(("other", vname))
            if a and b:
                print(f"ratio other/ours {vname}: dump "
                      f"{b['dump'] / a['dump']:.2f}, restore "
                      f"{b['restore'] / a['restore']:.2f}")
            else:
                print(f"ratio {vname}: not available (a run failed)")
    missing = [(c, v) for c, _ in crius for v, _ in victims
               if (c, v) not in results]
    for c, v in missing:
        print(f"{c} / {v}: every run failed", file=sys.stderr)
    return 1 if missing and ("ours", victims[0][0]) in missing else 0


if __name__ == "__main__":
    sys.exit(main())
