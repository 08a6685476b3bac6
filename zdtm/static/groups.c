// SPDX-License-Identifier: GPL-2.0
/*
 * groups - the supplementary groups of a task come back as they were.
 *
 * Started as root, the test gives itself a list of supplementary groups
 * (given out of order: the kernel keeps them sorted) and then becomes an
 * unprivileged user, so that it could not set them again itself.  A child
 * forked before gets a different list (and the same uid, so that the
 * test may signal it).  getgroups() and the Groups line
 * of /proc/self/status must read the same after the restore in both.
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define MAX_GROUPS 64

struct groups {
	int n;
	gid_t list[MAX_GROUPS];
	char status[512];
};

static int get_groups(struct groups *g)
{
	g->n = getgroups(MAX_GROUPS, g->list);
	if (g->n < 0)
		return -1;
	return task_status_field(0, "Groups", g->status, sizeof(g->status));
}

static int same_groups(const struct groups *a, const struct groups *b,
		       const char *who)
{
	int i;

	if (a->n != b->n) {
		fail("%s: %d groups, expected %d", who, a->n, b->n);
		return 0;
	}
	for (i = 0; i < a->n; i++)
		if (a->list[i] != b->list[i]) {
			fail("%s: group %d is %u, expected %u", who, i,
			     a->list[i], b->list[i]);
			return 0;
		}
	if (strcmp(a->status, b->status)) {
		fail("%s: Groups: %s, expected %s", who, a->status, b->status);
		return 0;
	}
	return 1;
}

/* Set the groups, then drop root; 0 or -1. */
static int become(const gid_t *list, int n, uid_t uid, gid_t gid)
{
	if (setgroups(n, list)) {
		pr_perror("setgroups");
		return -1;
	}
	if (setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
		pr_perror("can't change uid/gid");
		return -1;
	}
	/* Changing the uid made the task non-dumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const gid_t parent_list[] = { 40003, 7, 100, 65534, 12,
					     5000, 999, 20, 4, 123456, 1 };
	static const gid_t child_list[] = { 31337, 2, 600 };
	struct groups before, after;
	volatile int *ready;
	pid_t child;

	test_init(argc, argv);
	ready = task_fork_shared(&child);
	if (!ready)
		return 1;
	if (child == 0) {
		if (become(child_list, 3, 20000, 20000) ||
		    get_groups(&before))
			exit(1);
		task_set_word(ready, 1);
		test_waitsig();
		if (get_groups(&after)) {
			fail("child: can't read groups");
			exit(1);
		}
		exit(same_groups(&after, &before, "child") ? 0 : 1);
	}

	if (become(parent_list, sizeof(parent_list) / sizeof(parent_list[0]),
		   20000, 20000) || get_groups(&before) ||
	    task_wait_at_least_ms(ready, 1, 10000)) {
		pr_perror("can't set the groups up");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (get_groups(&after)) {
		fail("can't read groups");
		return task_end_with_child(child, "child", false);
	}
	return task_end_with_child(child, "child",
				   same_groups(&after, &before, "parent"));
}
