// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_no_new_privs - the no_new_privs bit of each task and thread
 * comes back as it was.
 *
 * Child A, forked before the test sets the bit, has it clear, but starts
 * a thread that sets it for itself (the bit is per thread).  The test then
 * sets it and forks child B, which inherits it.  After the restore
 * PR_GET_NO_NEW_PRIVS and the NoNewPrivs line in /proc/self/task/TID/status
 * must read as before in each of the four threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "zdtmtst.h"
#include "tasks.h"

struct shared {
	int ready;
};

static volatile int thread_ready, thread_stop;
static char thread_why[256];

/* 0 if the calling thread's bit is want, by prctl and by /proc. */
static int check_nnp(int want, const char *who, char *why, size_t len)
{
	char line[16];
	int got;

	got = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (got != want) {
		snprintf(why, len, "%s: no_new_privs %d, expected %d", who,
			 got, want);
		return -1;
	}
	if (task_status_field(0, "NoNewPrivs", line, sizeof(line)) ||
	    atoi(line) != want) {
		snprintf(why, len, "%s: NoNewPrivs: %s, expected %d", who,
			 line, want);
		return -1;
	}
	return 0;
}

static void *thread_fn(void *arg)
{
	task_block_sigterm();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		snprintf(thread_why, sizeof(thread_why), "can't set the bit");
	task_count_up(&thread_ready);
	task_wait_at_least(&thread_stop, 1);
	if (!thread_why[0])
		check_nnp(1, "child A's thread", thread_why,
			  sizeof(thread_why));
	return NULL;
}

static int child_a(struct shared *sh)
{
	char why[256];
	pthread_t th;
	int ret = 0;

	if (pthread_create(&th, NULL, thread_fn, NULL))
		return 1;
	task_wait_at_least(&thread_ready, 1);
	if (check_nnp(0, "child A set-up", why, sizeof(why))) {
		pr_err("%s\n", why);
		return 1;
	}
	task_count_up(&sh->ready);
	test_waitsig();
	if (check_nnp(0, "child A", why, sizeof(why))) {
		fail("%s", why);
		ret = 1;
	}
	task_set_word(&thread_stop, 1);
	pthread_join(th, NULL);
	if (thread_why[0]) {
		fail("%s", thread_why);
		ret = 1;
	}
	return ret;
}

static int child_b(struct shared *sh)
{
	char why[256];

	task_count_up(&sh->ready);
	test_waitsig();
	if (check_nnp(1, "child B", why, sizeof(why))) {
		fail("%s", why);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	pid_t a, b = -1;
	char why[256];

	test_init(argc, argv);
	sh = task_fork_shared(&a);
	if (!sh)
		return 1;
	if (a == 0)
		exit(child_a(sh));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		pr_perror("PR_SET_NO_NEW_PRIVS");
		goto out_kill;
	}
	b = task_fork();
	if (b < 0)
		goto out_kill;
	if (b == 0)
		exit(child_b(sh));
	if (task_wait_at_least_ms(&sh->ready, 2, 10000)) {
		pr_err("the children did not get ready\n");
		goto out_kill;
	}

	test_daemon();
	test_waitsig();

	if (check_nnp(1, "parent", why, sizeof(why))) {
		fail("%s", why);
		task_stop_child(a, "child A");
		task_stop_child(b, "child B");
		return 1;
	}
	if (task_stop_child(a, "child A") | task_stop_child(b, "child B"))
		return 1;
	pass();
	return 0;

out_kill:
	task_kill_child(a);
	if (b > 0)
		task_kill_child(b);
	return 1;
}
