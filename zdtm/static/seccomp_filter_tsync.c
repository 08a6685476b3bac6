// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_filter_tsync - a filter that one thread installed for all the
 * threads of its process (SECCOMP_FILTER_FLAG_TSYNC) still filters in
 * every thread after a checkpoint.
 *
 * Three threads start unfiltered; the main thread then installs, with
 * TSYNC, a filter that makes times() fail with errno 133.  After the
 * restore every thread checks its own Seccomp mode (2) and number of
 * filters in /proc/self/task/TID/status, that times() fails in it with
 * that errno, and that an unfiltered call works.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "seccomp.h"

#define NTHREADS 3
#define ERRNO_TIMES 133

struct worker {
	pthread_t th;
	int idx;
	char why[256];
	int failed;
};

static struct worker workers[NTHREADS];
static volatile int ready, installed, stop;
static int mode0, filters0;

/* Checks the calling thread; 0 or -1 and why. */
static int check_self(int idx, char *why, size_t len)
{
	int mode, filters, e;

	if (seccomp_status(0, &mode, &filters)) {
		snprintf(why, len, "thread %d: can't read status", idx);
		return -1;
	}
	if (mode != mode0 || filters != filters0) {
		snprintf(why, len, "thread %d: Seccomp %d with %d filters, "
			 "expected %d with %d", idx, mode, filters, mode0,
			 filters0);
		return -1;
	}
	e = seccomp_errno_of(SYS_times);
	if (e != ERRNO_TIMES) {
		snprintf(why, len, "thread %d: times() gave errno %d, "
			 "expected %d", idx, e, ERRNO_TIMES);
		return -1;
	}
	if (syscall(SYS_getppid) <= 0) {
		snprintf(why, len, "thread %d: getppid() failed", idx);
		return -1;
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	task_block_sigterm();
	/* Not filtered yet: the filter comes from another thread. */
	if (seccomp_errno_of(SYS_times)) {
		snprintf(w->why, sizeof(w->why), "thread %d: filtered early",
			 w->idx);
		w->failed = 1;
	}
	task_count_up(&ready);
	task_wait_at_least(&installed, 1);
	if (!w->failed && check_self(w->idx, w->why, sizeof(w->why)))
		w->failed = 1;
	task_count_up(&ready);
	task_wait_at_least(&stop, 1);
	if (!w->failed && check_self(w->idx, w->why, sizeof(w->why)))
		w->failed = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	char why[256];
	int i, ret = 0;

	test_init(argc, argv);

	for (i = 0; i < NTHREADS; i++) {
		workers[i].idx = i + 1;
		if (pthread_create(&workers[i].th, NULL, worker_fn,
				   &workers[i])) {
			pr_err("can't create a thread\n");
			return 1;
		}
	}
	task_wait_at_least(&ready, NTHREADS);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    seccomp_filter_one(SYS_times, SECCOMP_RET_ERRNO | ERRNO_TIMES,
			       SECCOMP_FILTER_FLAG_TSYNC)) {
		pr_perror("can't install the filter");
		return 1;
	}
	if (seccomp_status(0, &mode0, &filters0) || mode0 != 2) {
		pr_err("seccomp mode is not 2\n");
		return 1;
	}
	/* The threads see the filter before the checkpoint too. */
	task_set_word(&installed, 1);
	task_wait_at_least(&ready, 2 * NTHREADS);

	test_daemon();
	test_waitsig();

	if (check_self(0, why, sizeof(why))) {
		fail("%s", why);
		ret = 1;
	}
	task_set_word(&stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].th, NULL);
		if (workers[i].failed) {
			fail("%s", workers[i].why);
			ret = 1;
		}
	}
	if (ret)
		return 1;
	pass();
	return 0;
}
