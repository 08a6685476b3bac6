// SPDX-License-Identifier: GPL-2.0
/*
 * pthread_timers - POSIX timers that notify by starting a thread
 * (SIGEV_THREAD) come back with their interval and a plausible time left,
 * and still start their threads, with their sigev_value.
 *
 * glibc implements SIGEV_THREAD with a helper thread that waits for a
 * timer signal delivered to it alone (SIGEV_THREAD_ID, with a pointer to
 * glibc's own record of the timer as si_value) and starts a thread for
 * each expiry: the helper thread, the kernel timers and their
 * notification must all come back.  The timers fire a few times before
 * the checkpoint, are then set to expire only in a long while (threads
 * started and ending all the time would make the test's threads change
 * under the runner's eyes), and are set to fire again after the restore.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "zdtmtst.h"
#include "tasks.h"

#define MS 1000000LL
#define FAR (1000000 * MS)

struct ttimer {
	const char *name;
	clockid_t clock;
	long long value, interval;
	int fires;
	timer_t id;
	volatile int hits;
};

static struct ttimer timers[] = {
	{ "realtime", CLOCK_REALTIME, 10 * MS, 20 * MS, 1 },
	{ "monotonic", CLOCK_MONOTONIC, 15 * MS, 30 * MS, 1 },
	{ "far", CLOCK_MONOTONIC, FAR, 5 * MS, 0 },
};

#define NTIMERS (sizeof(timers) / sizeof(timers[0]))

static volatile int total_hits;
static volatile int bad_value;

static void notify(union sigval sv)
{
	int i = sv.sival_int - 0x3300;

	if (i < 0 || i >= (int)NTIMERS) {
		__atomic_add_fetch(&bad_value, 1, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_add_fetch(&timers[i].hits, 1, __ATOMIC_SEQ_CST);
	task_count_up(&total_hits);
}

static struct timespec ns_ts(long long ns);

/* value 0: the timer's own value and interval; else a far expiry. */
static int arm(struct ttimer *t, long long value)
{
	struct itimerspec its = {
		ns_ts(t->interval), ns_ts(value ? value : t->value)
	};

	return timer_settime(t->id, 0, &its, NULL);
}

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static struct timespec ns_ts(long long ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };

	return ts;
}

/* Sleep until each firing timer has fired n times more; 0 or -1. */
static int wait_hits(int n)
{
	int want[NTIMERS];
	unsigned int i;

	for (i = 0; i < NTIMERS; i++)
		want[i] = timers[i].hits + n;
	for (i = 0; i < NTIMERS; i++) {
		if (!timers[i].fires)
			continue;
		while (timers[i].hits < want[i])
			if (task_wait_at_least_ms(&total_hits, total_hits + 1,
						  5000)) {
				fail("%s: fired %d times, expected %d",
				     timers[i].name, timers[i].hits, want[i]);
				return -1;
			}
	}
	return 0;
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	unsigned int i;
	sigset_t term;

	test_init(argc, argv);

	/*
	 * glibc runs the notification threads with the signal mask of the
	 * timer_create() caller: SIGTERM blocked there keeps it for the main
	 * thread, asleep in test_waitsig().
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	for (i = 0; i < NTIMERS; i++) {
		struct ttimer *t = &timers[i];
		struct sigevent sev = {};

		sev.sigev_notify = SIGEV_THREAD;
		sev.sigev_notify_function = notify;
		sev.sigev_value.sival_int = 0x3300 + i;
		if (timer_create(t->clock, &sev, &t->id) || arm(t, 0)) {
			pr_perror("can't set up timer %s", t->name);
			return 1;
		}
	}
	sigprocmask(SIG_UNBLOCK, &term, NULL);
	if (wait_hits(3))
		return 1;
	for (i = 0; i < NTIMERS; i++)
		if (timers[i].fires && arm(&timers[i], FAR)) {
			pr_perror("timer_settime");
			return 1;
		}
	/* Notification threads may still be finishing: main and helper. */
	for (i = 0; count_threads() != 2; i++) {
		if (i > 2000) {
			pr_err("%d threads, expected 2\n", count_threads());
			return 1;
		}
		usleep(1000);
	}

	test_daemon();
	test_waitsig();

	for (i = 0; i < NTIMERS; i++) {
		struct ttimer *t = &timers[i];
		struct itimerspec its;
		long long left, max;

		if (timer_gettime(t->id, &its)) {
			fail("%s: timer_gettime", t->name);
			return 1;
		}
		if (ts_ns(&its.it_interval) != t->interval) {
			fail("%s: interval %lld ns, expected %lld ns", t->name,
			     ts_ns(&its.it_interval), t->interval);
			return 1;
		}
		left = ts_ns(&its.it_value);
		max = t->fires ? FAR : t->value;
		if (left <= 0 || left > max) {
			fail("%s: %lld ns left, expected (0, %lld]", t->name,
			     left, max);
			return 1;
		}
	}
	for (i = 0; i < NTIMERS; i++)
		if (timers[i].fires && arm(&timers[i], 0)) {
			fail("%s: timer_settime", timers[i].name);
			return 1;
		}
	if (wait_hits(3))
		return 1;
	if (bad_value) {
		fail("%d notifications with a wrong sigev_value", bad_value);
		return 1;
	}
	if (timers[2].hits) {
		fail("the far timer fired");
		return 1;
	}
	pass();
	return 0;
}
