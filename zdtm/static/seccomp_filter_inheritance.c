// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_filter_inheritance - seccomp filters shared by a parent and a
 * child through fork(), and filters each stacked on its own after it,
 * come back in both, each task with exactly its own chain.
 *
 * The parent installs a filter making times() fail with errno 131 and
 * forks; the child stacks one for sysinfo() (errno 132) and the parent
 * one for syslog() (errno 133).  After the restore each task checks its
 * Seccomp mode and number of filters, and which of the three calls fail:
 * times() in both, sysinfo() only in the child, syslog() only in the
 * parent.  A grandchild forked by the child after the restore inherits
 * the child's chain.
 */
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "seccomp.h"

static const int calls[3] = { SYS_times, SYS_sysinfo, SYS_syslog };
static const char *call_names[3] = { "times", "sysinfo", "syslog" };
static const int in_parent[3] = { 131, 0, 133 };
static const int in_child[3] = { 131, 132, 0 };

struct shared {
	int child_ready;
};

static int check_self(const char *who, const int *want, int mode0,
		      int filters0)
{
	int mode, filters, e, i;

	if (seccomp_status(0, &mode, &filters)) {
		fail("%s: can't read the status", who);
		return -1;
	}
	if (mode != mode0 || filters != filters0) {
		fail("%s: Seccomp %d with %d filters, expected %d with %d",
		     who, mode, filters, mode0, filters0);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		e = seccomp_errno_of(calls[i]);
		if (e != want[i]) {
			fail("%s: %s() gave errno %d, expected %d", who,
			     call_names[i], e, want[i]);
			return -1;
		}
	}
	return 0;
}

static int child_main(struct shared *sh)
{
	int mode, filters, status;
	pid_t grandchild;

	if (seccomp_filter_one(SYS_sysinfo, SECCOMP_RET_ERRNO | 132, 0) ||
	    seccomp_status(0, &mode, &filters) ||
	    check_self("child set-up", in_child, 2, 2))
		return 1;
	task_set_word(&sh->child_ready, 1);
	test_waitsig();
	if (check_self("child", in_child, mode, filters))
		return 1;

	grandchild = fork();
	if (grandchild < 0) {
		fail("fork");
		return 1;
	}
	if (grandchild == 0)
		_exit(check_self("grandchild", in_child, mode, filters) ?
		      1 : 0);
	if (task_reap_ms(grandchild, &status, 10000) ||
	    !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("the grandchild failed (status %#x)", status);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	int mode, filters;
	pid_t child;

	test_init(argc, argv);
	sh = task_shared_page();
	if (!sh)
		return 1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    seccomp_filter_one(SYS_times, SECCOMP_RET_ERRNO | 131, 0)) {
		pr_perror("can't install the filter");
		return 1;
	}

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0)
		exit(child_main(sh));

	if (seccomp_filter_one(SYS_syslog, SECCOMP_RET_ERRNO | 133, 0) ||
	    seccomp_status(0, &mode, &filters) ||
	    check_self("set-up", in_parent, 2, 2) ||
	    task_wait_at_least_ms(&sh->child_ready, 1, 10000)) {
		pr_err("set-up failed\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	return task_end_with_child(child, "child",
				   !check_self("parent", in_parent, mode, filters));
}
