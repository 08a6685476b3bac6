// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_filter_threads - threads of one process with seccomp filters of
 * their own (installed without TSYNC) come back each with its own filters
 * and no_new_privs, and the main thread with none.
 *
 * Thread 1 makes times() fail with errno 131; thread 2 makes sysinfo()
 * fail with errno 132; thread 3 stacks both of these and makes syslog()
 * fail with errno 133.  no_new_privs, needed by an unprivileged task to
 * install a filter, is per thread too: only the filtering threads set it.
 * After the restore each thread checks its Seccomp mode and number of
 * filters, its no_new_privs, and which of the three calls fail in it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "seccomp.h"

#define NTHREADS 4	/* thread 0 is the main thread */

static const int calls[3] = { SYS_times, SYS_sysinfo, SYS_syslog };
static const char *call_names[3] = { "times", "sysinfo", "syslog" };
/* Which calls each thread filters, and with which errno (0: none). */
static const int filtered[NTHREADS][3] = {
	{ 0, 0, 0 },
	{ 131, 0, 0 },
	{ 0, 132, 0 },
	{ 131, 132, 133 },
};

struct worker {
	pthread_t th;
	int idx;
	int mode, filters;
	char why[256];
	int failed;
};

static struct worker workers[NTHREADS];
static volatile int ready, stop;

static int install(int idx)
{
	int i;

	if (!filtered[idx][0] && !filtered[idx][1] && !filtered[idx][2])
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	for (i = 0; i < 3; i++)
		if (filtered[idx][i] &&
		    seccomp_filter_one(calls[i],
				       SECCOMP_RET_ERRNO | filtered[idx][i], 0))
			return -1;
	return 0;
}

static int check_self(struct worker *w)
{
	int mode, filters, nnp, want_nnp, e, i;

	if (seccomp_status(0, &mode, &filters)) {
		snprintf(w->why, sizeof(w->why), "thread %d: no status",
			 w->idx);
		return -1;
	}
	if (mode != w->mode || filters != w->filters) {
		snprintf(w->why, sizeof(w->why), "thread %d: Seccomp %d with "
			 "%d filters, expected %d with %d", w->idx, mode,
			 filters, w->mode, w->filters);
		return -1;
	}
	nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	want_nnp = w->mode == 2;
	if (nnp != want_nnp) {
		snprintf(w->why, sizeof(w->why), "thread %d: no_new_privs %d, "
			 "expected %d", w->idx, nnp, want_nnp);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		e = seccomp_errno_of(calls[i]);
		if (e != filtered[w->idx][i]) {
			snprintf(w->why, sizeof(w->why), "thread %d: %s() "
				 "gave errno %d, expected %d", w->idx,
				 call_names[i], e, filtered[w->idx][i]);
			return -1;
		}
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	task_block_sigterm();
	if (install(w->idx) || seccomp_status(0, &w->mode, &w->filters) ||
	    check_self(w)) {
		if (!w->why[0])
			snprintf(w->why, sizeof(w->why), "thread %d: set-up "
				 "failed (errno %d)", w->idx, errno);
		w->failed = 1;
	}
	task_count_up(&ready);
	task_wait_at_least(&stop, 1);
	if (!w->failed && check_self(w))
		w->failed = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *m = &workers[0];
	int i, ret = 0;

	test_init(argc, argv);

	for (i = 1; i < NTHREADS; i++) {
		workers[i].idx = i;
		if (pthread_create(&workers[i].th, NULL, worker_fn,
				   &workers[i])) {
			pr_err("can't create a thread\n");
			return 1;
		}
	}
	task_wait_at_least(&ready, NTHREADS - 1);
	if (seccomp_status(0, &m->mode, &m->filters) || m->mode != 0) {
		pr_err("the main thread is filtered\n");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_self(m)) {
		fail("%s", m->why);
		ret = 1;
	}
	task_set_word(&stop, 1);
	for (i = 1; i < NTHREADS; i++) {
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
