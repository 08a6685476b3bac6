// SPDX-License-Identifier: GPL-2.0
/*
 * sched_prio00 - the nice value of each task and thread comes back as it
 * was, negative ones included.
 *
 * Started as root (negative nice values need it): the test and a thread
 * of it, and four children, each set a nice value of their own between
 * -15 and 19 (nice is per thread in Linux).  After the restore each reads
 * its own with getpriority(PRIO_PROCESS, 0) and the "nice" field of
 * /proc/self/task/TID/stat.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "zdtmtst.h"
#include "tasks.h"

static const int child_nice[] = { -15, -5, 7, 19 };
#define NCHILDREN (sizeof(child_nice) / sizeof(child_nice[0]))
#define MAIN_NICE	(-3)
#define THREAD_NICE	11

static volatile int thread_ready, thread_stop;
static char thread_why[256];

/* The "nice" field (19th) of /proc/self/task/TID/stat of the caller. */
static int stat_nice(void)
{
	char path[64], buf[1024], *p;
	int i, nice = 1000;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", gettid());
	f = fopen(path, "r");
	if (!f)
		return 1000;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	for (i = 2; p && i < 19; i++)
		p = strchr(p + 1, ' ');
	if (p)
		nice = atoi(p + 1);
	return nice;
}

static int check_nice(int want, const char *who, char *why, size_t len)
{
	int got;

	errno = 0;
	got = getpriority(PRIO_PROCESS, 0);
	if (errno) {
		snprintf(why, len, "%s: getpriority failed", who);
		return -1;
	}
	if (got != want) {
		snprintf(why, len, "%s: nice %d, expected %d", who, got, want);
		return -1;
	}
	got = stat_nice();
	if (got != want) {
		snprintf(why, len, "%s: nice in stat %d, expected %d", who,
			 got, want);
		return -1;
	}
	return 0;
}

static void *thread_fn(void *arg)
{
	task_block_sigterm();
	if (setpriority(PRIO_PROCESS, 0, THREAD_NICE))
		snprintf(thread_why, sizeof(thread_why), "can't set nice");
	task_count_up(&thread_ready);
	task_wait_at_least(&thread_stop, 1);
	if (!thread_why[0])
		check_nice(THREAD_NICE, "thread", thread_why,
			   sizeof(thread_why));
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
		if (setpriority(PRIO_PROCESS, 0, child_nice[i])) {
			pr_perror("setpriority(%d)", child_nice[i]);
			exit(1);
		}
		task_count_up(ready);
		test_waitsig();
		if (check_nice(child_nice[i], "child", why, sizeof(why))) {
			fail("%s", why);
			exit(1);
		}
		exit(0);
	}
	if (setpriority(PRIO_PROCESS, 0, MAIN_NICE) ||
	    pthread_create(&th, NULL, thread_fn, NULL) ||
	    task_wait_at_least_ms(ready, NCHILDREN, 10000)) {
		pr_perror("set-up failed");
		for (i = 0; i < NCHILDREN; i++) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
		return 1;
	}
	task_wait_at_least(&thread_ready, 1);

	test_daemon();
	test_waitsig();

	if (check_nice(MAIN_NICE, "main thread", why, sizeof(why))) {
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
}
