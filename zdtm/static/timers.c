// SPDX-License-Identifier: GPL-2.0
/*
 * timers - the three interval timers (ITIMER_REAL, ITIMER_VIRTUAL,
 * ITIMER_PROF) stay armed across a checkpoint with their intervals and a
 * plausible time left, and keep firing.
 *
 * ITIMER_REAL fires every 100 ms all along, its SIGALRM blocked until
 * the restore: the first one stays pending across it (and what /proc shows
 * of the test does not change all the time).  The CPU-time timers have a
 * first expiry far enough not to come while the test sleeps.  After the
 * restore the test unblocks SIGALRM and burns CPU until each timer has
 * fired twice more.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

struct itimer {
	int which;
	int sig;
	const char *name;
	struct itimerval set;
};

static struct itimer timers[] = {
	{ ITIMER_REAL, SIGALRM, "ITIMER_REAL",
	  { { 0, 100000 }, { 0, 100000 } } },
	{ ITIMER_VIRTUAL, SIGVTALRM, "ITIMER_VIRTUAL",
	  { { 0, 30000 }, { 0, 200000 } } },
	{ ITIMER_PROF, SIGPROF, "ITIMER_PROF",
	  { { 0, 20000 }, { 0, 150000 } } },
};

#define NTIMERS (sizeof(timers) / sizeof(timers[0]))
#define TICK_SLACK_US 10000	/* one jiffy, HZ >= 100 */

static volatile int hits[NSIG];

static void handler(int sig)
{
	hits[sig]++;
}

static long long tv_us(const struct timeval *tv)
{
	return tv->tv_sec * 1000000LL + tv->tv_usec;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Burn CPU until every signal has come at least want[] times (5 s max). */
static int burn_until(const int *want)
{
	long long end = now_us() + 5000000LL;
	volatile unsigned long x = 0;
	unsigned int i, done;

	do {
		for (i = 0; i < 100000; i++)
			x += i;
		done = 1;
		for (i = 0; i < NTIMERS; i++)
			if (hits[timers[i].sig] < want[i])
				done = 0;
	} while (!done && now_us() < end);
	return done ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = handler,
				.sa_flags = SA_RESTART };
	sigset_t alrm, pend;
	int want[NTIMERS];
	unsigned int i;

	test_init(argc, argv);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NTIMERS; i++) {
		if (sigaction(timers[i].sig, &sa, NULL)) {
			pr_perror("sigaction(%d)", timers[i].sig);
			return 1;
		}
		if (setitimer(timers[i].which, &timers[i].set, NULL)) {
			pr_perror("setitimer(%s)", timers[i].name);
			return 1;
		}
	}

	for (i = 0; sigpending(&pend) || !sigismember(&pend, SIGALRM); i++) {
		if (i > 1000) {
			pr_err("SIGALRM did not come\n");
			return 1;
		}
		usleep(1000);
	}

	test_daemon();
	test_waitsig();

	sigpending(&pend);
	if (!sigismember(&pend, SIGALRM)) {
		fail("the pending SIGALRM is lost");
		return 1;
	}

	for (i = 0; i < NTIMERS; i++) {
		const struct itimer *t = &timers[i];
		struct itimerval now;
		long long left, max;

		if (getitimer(t->which, &now)) {
			fail("getitimer(%s)", t->name);
			return 1;
		}
		if (tv_us(&now.it_interval) != tv_us(&t->set.it_interval)) {
			fail("%s: interval %lld us, expected %lld us", t->name,
			     tv_us(&now.it_interval),
			     tv_us(&t->set.it_interval));
			return 1;
		}
		left = tv_us(&now.it_value);
		max = tv_us(&t->set.it_value);
		if (tv_us(&t->set.it_interval) > max)
			max = tv_us(&t->set.it_interval);
		/* The kernel adds a tick to the first CPU-time expiry. */
		if (t->which != ITIMER_REAL)
			max += TICK_SLACK_US;
		/*
		 * An expired ITIMER_REAL is re-armed only when its SIGALRM
		 * is taken: with the signal pending, 0 is left.
		 */
		if (left < 0 || left > max ||
		    (left == 0 && t->which != ITIMER_REAL)) {
			fail("%s: %lld us left, expected at most %lld us",
			     t->name, left, max);
			return 1;
		}
		want[i] = hits[t->sig] + 2;
	}

	/* The CPU timers run on the CPU time used; the real one meanwhile. */
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	if (burn_until(want)) {
		for (i = 0; i < NTIMERS; i++)
			if (hits[timers[i].sig] < want[i])
				fail("%s: fired %d times, expected %d",
				     timers[i].name, hits[timers[i].sig],
				     want[i]);
		return 1;
	}
	pass();
	return 0;
}
