// SPDX-License-Identifier: GPL-2.0
/*
 * sched_policy00 - the scheduling policy and priority of each task and
 * thread come back as they were: SCHED_OTHER, SCHED_BATCH (with a nice
 * value), SCHED_IDLE, SCHED_FIFO and SCHED_RR with real-time priorities,
 * and the SCHED_RESET_ON_FORK flag.
 *
 * Started as root (real-time policies need it): children each take one
 * policy, the test itself SCHED_RR and a thread of it SCHED_FIFO (policies
 * are per thread).  All of them sleep, none spins.  After the restore each
 * reads its own with sched_getscheduler(), sched_getparam() and, for the
 * non-real-time ones, getpriority().
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "zdtmtst.h"
#include "tasks.h"

struct policy {
	const char *name;
	int policy;	/* may include SCHED_RESET_ON_FORK */
	int prio;
	int nice;
};

static const struct policy children[] = {
	{ "SCHED_OTHER", SCHED_OTHER, 0, 4 },
	{ "SCHED_BATCH", SCHED_BATCH, 0, 9 },
	{ "SCHED_IDLE", SCHED_IDLE, 0, 0 },
	{ "SCHED_FIFO", SCHED_FIFO, 7, 0 },
	{ "SCHED_RR|RESET_ON_FORK", SCHED_RR | SCHED_RESET_ON_FORK, 3, 0 },
	{ "SCHED_BATCH|RESET_ON_FORK", SCHED_BATCH | SCHED_RESET_ON_FORK, 0,
	  -2 },
};

#define NCHILDREN (sizeof(children) / sizeof(children[0]))

static const struct policy main_policy = { "main SCHED_RR", SCHED_RR, 2, 0 };
static const struct policy thread_policy = {
	"thread SCHED_FIFO|RESET_ON_FORK", SCHED_FIFO | SCHED_RESET_ON_FORK,
	5, 0
};

static volatile int thread_ready, thread_stop;
static char thread_why[256];

static int set_policy(const struct policy *p)
{
	struct sched_param sp = { .sched_priority = p->prio };

	/* The nice value first: SCHED_RESET_ON_FORK must not reset it. */
	if (p->nice && setpriority(PRIO_PROCESS, 0, p->nice))
		return -1;
	return sched_setscheduler(0, p->policy, &sp);
}

static int check_policy(const struct policy *p, char *why, size_t len)
{
	struct sched_param sp;
	int pol, nice;

	pol = sched_getscheduler(0);
	if (pol != p->policy) {
		snprintf(why, len, "%s: policy %#x, expected %#x", p->name,
			 pol, p->policy);
		return -1;
	}
	if (sched_getparam(0, &sp) || sp.sched_priority != p->prio) {
		snprintf(why, len, "%s: priority %d, expected %d", p->name,
			 sp.sched_priority, p->prio);
		return -1;
	}
	if ((p->policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO ||
	    (p->policy & ~SCHED_RESET_ON_FORK) == SCHED_RR)
		return 0;
	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno || nice != p->nice) {
		snprintf(why, len, "%s: nice %d, expected %d", p->name, nice,
			 p->nice);
		return -1;
	}
	return 0;
}

static void *thread_fn(void *arg)
{
	task_block_sigterm();
	if (set_policy(&thread_policy))
		snprintf(thread_why, sizeof(thread_why), "can't set %s",
			 thread_policy.name);
	task_count_up(&thread_ready);
	task_wait_at_least(&thread_stop, 1);
	if (!thread_why[0])
		check_policy(&thread_policy, thread_why, sizeof(thread_why));
	return NULL;
}

int main(int argc, char **argv)
{
	pid_t pids[NCHILDREN];
	volatile int *ready;
	char why[256];
	int i;
	pthread_t th;
	int ret = 0;

	test_init(argc, argv);
	ready = task_shared_page();
	if (!ready)
		return 1;

	i = task_fork_children(pids, NCHILDREN);
	if (i < 0)
		return 1;
	if (i < NCHILDREN) {
		if (set_policy(&children[i])) {
			pr_perror("can't set %s", children[i].name);
			exit(1);
		}
		task_count_up(ready);
		test_waitsig();
		if (check_policy(&children[i], why, sizeof(why))) {
			fail("%s", why);
			exit(1);
		}
		exit(0);
	}
	if (task_wait_at_least_ms(ready, NCHILDREN, 10000) ||
	    pthread_create(&th, NULL, thread_fn, NULL)) {
		pr_err("set-up failed\n");
		goto out_kill;
	}
	task_wait_at_least(&thread_ready, 1);
	if (set_policy(&main_policy)) {
		pr_perror("can't set %s", main_policy.name);
		task_set_word(&thread_stop, 1);
		pthread_join(th, NULL);
		goto out_kill;
	}

	test_daemon();
	test_waitsig();

	if (check_policy(&main_policy, why, sizeof(why))) {
		fail("%s", why);
		ret = 1;
	}
	task_set_word(&thread_stop, 1);
	pthread_join(th, NULL);
	if (thread_why[0]) {
		fail("%s", thread_why);
		ret = 1;
	}
	for (i = 0; i < NCHILDREN; i++)
		if (task_stop_child(pids[i], "child"))
			ret = 1;
	if (ret)
		return 1;
	pass();
	return 0;

out_kill:
	for (i = 0; i < NCHILDREN; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return 1;
}
