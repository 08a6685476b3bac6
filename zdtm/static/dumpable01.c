// SPDX-License-Identifier: GPL-2.0
/*
 * dumpable01 - the dumpable flag of each task (PR_GET_DUMPABLE) comes back
 * as it was, and with it the owner of the task's /proc files.
 *
 * Started as root: the test makes itself non-dumpable (0); one child stays
 * dumpable (1); one changes its uid, which sets the flag to the value of
 * fs.suid_dumpable (0, or 2 where that sysctl is 2); one changes its uid
 * and makes itself dumpable again.  The files in /proc/PID (not the
 * directory) of a task that is not dumpable (1) belong to root, else to
 * the task's effective uid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define NCHILDREN 3

struct shared {
	int ready;
	int dumpable[NCHILDREN];
};

static struct shared *sh;

static int proc_owner(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (stat(path, &st))
		return -1;
	return st.st_uid;
}

static int child_setup(int i)
{
	if (i >= 1) {
		if (setresgid(50000, 50000, 50000) ||
		    setresuid(50000, 50000, 50000)) {
			pr_perror("child %d: can't change ids", i);
			return -1;
		}
	}
	if (i == 2 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) {
		pr_perror("child %d: PR_SET_DUMPABLE", i);
		return -1;
	}
	return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	int owners[NCHILDREN + 1], dumpable, i, d;
	pid_t pids[NCHILDREN];

	test_init(argc, argv);
	sh = task_shared_page();
	if (!sh)
		return 1;

	i = task_fork_children(pids, NCHILDREN);
	if (i < 0)
		return 1;
	if (i < NCHILDREN) {
		d = child_setup(i);
		if (d < 0)
			exit(1);
		sh->dumpable[i] = d;
		task_count_up(&sh->ready);
		test_waitsig();
		d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		if (d != sh->dumpable[i]) {
			fail("child %d: dumpable %d, expected %d", i, d,
			     sh->dumpable[i]);
			exit(1);
		}
		exit(0);
	}
	if (task_wait_at_least_ms(&sh->ready, NCHILDREN, 10000)) {
		pr_err("the children did not get ready\n");
		goto out_kill;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		pr_perror("PR_SET_DUMPABLE");
		goto out_kill;
	}
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	for (i = 0; i < NCHILDREN; i++)
		owners[i] = proc_owner(pids[i]);
	owners[NCHILDREN] = proc_owner(getpid());
	if (dumpable != 0 || sh->dumpable[0] != 1 || sh->dumpable[2] != 1 ||
	    owners[1] != 0 || owners[2] != 50000) {
		pr_err("unexpected set-up: dumpable %d/%d/%d/%d owners %d/%d\n",
		       dumpable, sh->dumpable[0], sh->dumpable[1],
		       sh->dumpable[2], owners[1], owners[2]);
		goto out_kill;
	}

	test_daemon();
	test_waitsig();

	d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (d != dumpable) {
		fail("dumpable %d, expected %d", d, dumpable);
		goto out_stop;
	}
	for (i = 0; i <= NCHILDREN; i++) {
		int o = proc_owner(i < NCHILDREN ? pids[i] : getpid());

		if (o != owners[i]) {
			fail("/proc of task %d belongs to %d, expected %d", i,
			     o, owners[i]);
			goto out_stop;
		}
	}
	for (i = 0; i < NCHILDREN; i++)
		if (task_stop_child(pids[i], "child"))
			goto out_stop;
	pass();
	return 0;

out_stop:
	for (; i < NCHILDREN; i++)
		task_stop_child(pids[i], "child");
	return 1;
out_kill:
	for (i = 0; i < NCHILDREN; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return 1;
}
