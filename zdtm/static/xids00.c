// SPDX-License-Identifier: GPL-2.0
/*
 * xids00 - real, effective, saved and filesystem uids and gids, all
 * different, come back as they were.
 *
 * Started as root, the test sets four different gids, then four different
 * uids: to make the fs uid differ from the effective one it keeps its
 * capabilities over the uid change (PR_SET_KEEPCAPS), raises CAP_SETUID
 * for setfsuid() and then drops every capability.  A forked child does the
 * same with other ids.  getresuid(), getresgid(), setfsuid(-1),
 * setfsgid(-1) and the Uid/Gid lines of /proc/self/status must read the
 * same after the restore.
 */
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

struct xids {
	uid_t r, e, s, fs;
	gid_t gr, ge, gs, gfs;
	char uid_line[128], gid_line[128];
};

static int get_xids(struct xids *x)
{
	if (getresuid(&x->r, &x->e, &x->s) ||
	    getresgid(&x->gr, &x->ge, &x->gs))
		return -1;
	x->fs = setfsuid(-1);
	x->gfs = setfsgid(-1);
	if (task_status_field(0, "Uid", x->uid_line, sizeof(x->uid_line)) ||
	    task_status_field(0, "Gid", x->gid_line, sizeof(x->gid_line)))
		return -1;
	return 0;
}

static int caps_set(__u32 effective, __u32 permitted)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	d[0].effective = effective;
	d[0].permitted = permitted;
	return syscall(SYS_capset, &hdr, d);
}

/* ids: real, effective, saved, fs; base + 0..3 for uids, + 10.. for gids */
static int set_xids(unsigned int base, struct xids *want)
{
	want->gr = base + 10;
	want->ge = base + 11;
	want->gs = base + 12;
	want->gfs = base + 13;
	want->r = base;
	want->e = base + 1;
	want->s = base + 2;
	want->fs = base + 3;

	if (setgroups(0, NULL) ||
	    setresgid(want->gr, want->ge, want->gs)) {
		pr_perror("setresgid");
		return -1;
	}
	setfsgid(want->gfs);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setresuid(want->r, want->e, want->s)) {
		pr_perror("setresuid");
		return -1;
	}
	if (caps_set(1U << CAP_SETUID, 1U << CAP_SETUID)) {
		pr_perror("capset");
		return -1;
	}
	setfsuid(want->fs);
	if (caps_set(0, 0)) {
		pr_perror("capset");
		return -1;
	}
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

static int same_xids(const struct xids *a, const struct xids *b,
		     const char *who)
{
	if (a->r != b->r || a->e != b->e || a->s != b->s || a->fs != b->fs) {
		fail("%s: uids %u/%u/%u/%u, expected %u/%u/%u/%u", who,
		     a->r, a->e, a->s, a->fs, b->r, b->e, b->s, b->fs);
		return 0;
	}
	if (a->gr != b->gr || a->ge != b->ge || a->gs != b->gs ||
	    a->gfs != b->gfs) {
		fail("%s: gids %u/%u/%u/%u, expected %u/%u/%u/%u", who,
		     a->gr, a->ge, a->gs, a->gfs, b->gr, b->ge, b->gs,
		     b->gfs);
		return 0;
	}
	if (strcmp(a->uid_line, b->uid_line) ||
	    strcmp(a->gid_line, b->gid_line)) {
		fail("%s: Uid: %s Gid: %s, expected %s and %s", who,
		     a->uid_line, a->gid_line, b->uid_line, b->gid_line);
		return 0;
	}
	return 1;
}

/* Set the ids and check they are what was asked for. */
static int setup(unsigned int base, struct xids *before, const char *who)
{
	struct xids want;

	if (set_xids(base, &want) || get_xids(before))
		return -1;
	strcpy(want.uid_line, before->uid_line);
	strcpy(want.gid_line, before->gid_line);
	return same_xids(before, &want, who) ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct xids before, after;
	volatile int *ready;
	pid_t child;

	test_init(argc, argv);
	ready = task_fork_shared(&child);
	if (!ready)
		return 1;
	if (child == 0) {
		/* The same real uid as the parent's: it may signal us. */
		if (setup(30000, &before, "child set-up"))
			exit(1);
		task_set_word(ready, 1);
		test_waitsig();
		if (get_xids(&after)) {
			fail("child: can't read the ids");
			exit(1);
		}
		exit(same_xids(&after, &before, "child") ? 0 : 1);
	}

	if (task_wait_at_least_ms(ready, 1, 10000)) {
		pr_err("the child did not get ready\n");
		task_kill_child(child);
		return 1;
	}
	if (setup(30000 - 1, &before, "set-up")) {
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (get_xids(&after)) {
		fail("can't read the ids");
		return task_end_with_child(child, "child", false);
	}
	return task_end_with_child(child, "child",
				   same_xids(&after, &before, "parent"));
}
