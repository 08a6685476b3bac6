// SPDX-License-Identifier: GPL-2.0
/*
 * clone_fs - two processes sharing their filesystem information
 * (clone(CLONE_FS): cwd, root and umask) still share it after a
 * checkpoint, and a third one, forked, still does not.
 *
 * Before the checkpoint the test moves into a directory of its own and
 * sets a umask, which its CLONE_FS child sees.  After the restore the
 * test changes both again and the child must see the change; the child
 * then changes them back, and the test must see that.  The forked child
 * must keep the cwd and umask it had all along.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "zdtmtst.h"
#include "tasks.h"

#define STACK_SIZE (256 * 1024)

struct shared {
	int ready;
	char top[PATH_MAX / 2];	/* the test's starting cwd */
	char d1[PATH_MAX], d2[PATH_MAX];
};

static struct shared *sh;

static int at(const char *dir, mode_t mask, const char *who)
{
	char cwd[PATH_MAX];
	mode_t now;

	if (!getcwd(cwd, sizeof(cwd))) {
		fail("%s: getcwd", who);
		return -1;
	}
	if (strcmp(cwd, dir)) {
		fail("%s: cwd %s, expected %s", who, cwd, dir);
		return -1;
	}
	now = umask(0);
	umask(now);
	if (now != mask) {
		fail("%s: umask %03o, expected %03o", who, now, mask);
		return -1;
	}
	return 0;
}

/* Shares the test's fs_struct. */
static int sharing_child(void *arg)
{
	test_waitsig();
	/* The test moved to d2 with umask 022 after the restore. */
	if (at(sh->d2, 022, "CLONE_FS child"))
		return 1;
	if (chdir(sh->d1)) {
		fail("chdir");
		return 1;
	}
	umask(077);
	return 0;
}

/* Has a copy: keeps d1 and 027. */
static int forked_child(void)
{
	test_waitsig();
	return at(sh->d1, 027, "forked child") ? 1 : 0;
}

static void cleanup(void)
{
	if (chdir(sh->top))
		pr_perror("chdir back");
	rmdir(sh->d1);
	rmdir(sh->d2);
}

int main(int argc, char **argv)
{
	pid_t sharing, forked;
	char *stack;

	test_init(argc, argv);
	sh = task_shared_alloc(sizeof(*sh));
	stack = malloc(STACK_SIZE);
	if (!sh || !stack || !getcwd(sh->top, sizeof(sh->top))) {
		pr_perror("set-up");
		return 1;
	}
	snprintf(sh->d1, sizeof(sh->d1), "%s/%s.d1", sh->top, test_name);
	snprintf(sh->d2, sizeof(sh->d2), "%s/%s.d2", sh->top, test_name);
	if ((mkdir(sh->d1, 0755) && errno != EEXIST) ||
	    (mkdir(sh->d2, 0755) && errno != EEXIST)) {
		pr_perror("mkdir");
		return 1;
	}

	sharing = clone(sharing_child, stack + STACK_SIZE, CLONE_FS | SIGCHLD,
			NULL);
	if (sharing < 0) {
		pr_perror("clone");
		cleanup();
		return 1;
	}
	if (chdir(sh->d1)) {
		pr_perror("chdir");
		goto out_kill;
	}
	umask(027);

	forked = task_fork();
	if (forked < 0)
		goto out_kill;
	if (forked == 0)
		exit(forked_child());

	test_daemon();
	test_waitsig();

	if (at(sh->d1, 027, "test"))
		goto out_stop;
	if (chdir(sh->d2)) {
		fail("chdir");
		goto out_stop;
	}
	umask(022);
	if (task_stop_child(sharing, "CLONE_FS child"))
		goto out_forked;
	/* The child went back to d1 with umask 077, for both of us. */
	if (at(sh->d1, 077, "test, after the child's change"))
		goto out_forked;
	if (task_stop_child(forked, "forked child"))
		goto out_clean;
	cleanup();
	pass();
	return 0;

out_stop:
	task_stop_child(sharing, "CLONE_FS child");
out_forked:
	task_stop_child(forked, "forked child");
out_clean:
	cleanup();
	return 1;
out_kill:
	task_kill_child(sharing);
	cleanup();
	return 1;
}
