// SPDX-License-Identifier: GPL-2.0
/*
 * posix_timers - POSIX timers of every clock and kind of notification
 * come back with the same ids, clocks, notifications, intervals and a
 * plausible time left, and armed ones keep firing with their si_value.
 *
 * Timers: CLOCK_REALTIME and CLOCK_MONOTONIC firing periodically
 * (SIGEV_SIGNAL with an si_value), CLOCK_BOOTTIME with SIGEV_NONE and a
 * far expiry, CLOCK_PROCESS_CPUTIME_ID (SIGEV_SIGNAL) and
 * CLOCK_THREAD_CPUTIME_ID (SIGEV_THREAD_ID, to the main thread) that fire
 * on CPU time, a timer never armed and one armed then disarmed.  Some
 * timers are deleted before the checkpoint, so that the ids left have
 * gaps.  /proc/self/timers (id, signal, si_value, notification, clock)
 * must read the same after the restore.
 *
 * The timers' signals are blocked until the restore: the periodic timers'
 * first signals stay pending across it (later expiries are overruns), so
 * that what /proc shows of the test does not change all the time, and a
 * pending timer signal must be restored too.  They come once unblocked.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MS 1000000LL

struct ptimer {
	const char *name;
	clockid_t clock;
	int notify;		/* SIGEV_* */
	int sig;		/* SIGRTMIN + sig, or 0 */
	long long value, interval;	/* ns; value 0: not armed */
	bool disarm;		/* armed, then disarmed */
	bool fires;		/* must fire after the restore */
	bool cpu;		/* fires on CPU time */
	timer_t id;
	volatile int hits;
	volatile int bad_value;
	volatile int bad_tid;
};

static struct ptimer timers[] = {
	{ "realtime", CLOCK_REALTIME, SIGEV_SIGNAL, 1, 10 * MS, 10 * MS,
	  false, true, false },
	{ "monotonic", CLOCK_MONOTONIC, SIGEV_SIGNAL, 2, 25 * MS, 25 * MS,
	  false, true, false },
	{ "boottime", CLOCK_BOOTTIME, SIGEV_NONE, 0, 1000000 * MS, 3 * MS,
	  false, false, false },
	{ "process-cpu", CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, 3,
	  100 * MS, 20 * MS, false, true, true },
	{ "thread-cpu", CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID, 4,
	  120 * MS, 30 * MS, false, true, true },
	{ "never-armed", CLOCK_MONOTONIC, SIGEV_SIGNAL, 5, 0, 0,
	  false, false, false },
	{ "disarmed", CLOCK_REALTIME, SIGEV_SIGNAL, 6, 50000 * MS, 0,
	  true, false, false },
};

#define NTIMERS (sizeof(timers) / sizeof(timers[0]))
#define CPU_SLACK (10 * MS)	/* a jiffy added to CPU-time expiries */

static pid_t main_tid;

static int value_of(int i)
{
	return 0x7100 + i;
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	unsigned int i;

	for (i = 0; i < NTIMERS; i++) {
		struct ptimer *t = &timers[i];

		if (!t->sig || SIGRTMIN + t->sig != sig)
			continue;
		t->hits++;
		if (si->si_code != SI_TIMER ||
		    si->si_value.sival_int != value_of(i) ||
		    si->si_timerid != (int)(long)t->id)
			t->bad_value++;
		if (gettid() != main_tid)
			t->bad_tid++;
	}
}

/* The signals of the timers, and of those that fire while the test sleeps. */
static void timer_signals(sigset_t *all, sigset_t *idle_firing)
{
	unsigned int i;

	sigemptyset(all);
	sigemptyset(idle_firing);
	for (i = 0; i < NTIMERS; i++) {
		if (!timers[i].sig)
			continue;
		sigaddset(all, SIGRTMIN + timers[i].sig);
		if (timers[i].fires && !timers[i].cpu)
			sigaddset(idle_firing, SIGRTMIN + timers[i].sig);
	}
}

/* Are exactly the signals of idle_firing pending (of all)? */
static int pending_as_expected(const sigset_t *all,
			       const sigset_t *idle_firing)
{
	sigset_t pend;
	int sig;

	sigpending(&pend);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		if (sigismember(all, sig) &&
		    sigismember(&pend, sig) != sigismember(idle_firing, sig))
			return 0;
	return 1;
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

static int read_timers(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/timers", "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

static int create_timer(int i)
{
	struct ptimer *t = &timers[i];
	struct sigevent sev = {};

	sev.sigev_notify = t->notify;
	if (t->sig) {
		sev.sigev_signo = SIGRTMIN + t->sig;
		sev.sigev_value.sival_int = value_of(i);
	}
	if (t->notify == SIGEV_THREAD_ID)
		sev._sigev_un._tid = main_tid;
	if (timer_create(t->clock, &sev, &t->id)) {
		pr_perror("timer_create(%s)", t->name);
		return -1;
	}
	if (t->value) {
		struct itimerspec its = { ns_ts(t->interval), ns_ts(t->value) };

		if (timer_settime(t->id, 0, &its, NULL)) {
			pr_perror("timer_settime(%s)", t->name);
			return -1;
		}
	}
	if (t->disarm) {
		struct itimerspec zero = {};

		if (timer_settime(t->id, 0, &zero, NULL)) {
			pr_perror("timer_settime(%s, 0)", t->name);
			return -1;
		}
	}
	return 0;
}

static int check_timer(int i)
{
	struct ptimer *t = &timers[i];
	struct itimerspec its;
	long long left, max;

	if (timer_gettime(t->id, &its)) {
		fail("%s: timer %ld is gone", t->name, (long)t->id);
		return -1;
	}
	if (!t->value || t->disarm) {
		if (ts_ns(&its.it_value) || ts_ns(&its.it_interval)) {
			fail("%s: armed (%lld ns, interval %lld ns), expected "
			     "disarmed", t->name, ts_ns(&its.it_value),
			     ts_ns(&its.it_interval));
			return -1;
		}
		return 0;
	}
	if (ts_ns(&its.it_interval) != t->interval) {
		fail("%s: interval %lld ns, expected %lld ns", t->name,
		     ts_ns(&its.it_interval), t->interval);
		return -1;
	}
	left = ts_ns(&its.it_value);
	max = t->value > t->interval ? t->value : t->interval;
	if (t->cpu)
		max += CPU_SLACK;
	if (left <= 0 || left > max) {
		fail("%s: %lld ns left, expected (0, %lld]", t->name, left,
		     max);
		return -1;
	}
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_ns(&ts);
}

/* Run (burning CPU) until each firing timer fires twice more; 5 s max. */
static int wait_firing(void)
{
	long long end = now_ns() + 5000 * MS;
	volatile unsigned long x = 0;
	int want[NTIMERS];
	unsigned int i, done;

	for (i = 0; i < NTIMERS; i++)
		want[i] = timers[i].hits + 2;
	do {
		for (i = 0; i < 100000; i++)
			x += i;
		done = 1;
		for (i = 0; i < NTIMERS; i++)
			if (timers[i].fires && timers[i].hits < want[i])
				done = 0;
	} while (!done && now_ns() < end);

	for (i = 0; i < NTIMERS; i++) {
		struct ptimer *t = &timers[i];

		if (t->fires && t->hits < want[i]) {
			fail("%s: fired %d times, expected %d", t->name,
			     t->hits, want[i]);
			return -1;
		}
		if (!t->fires && t->hits) {
			fail("%s: fired, but it is not armed", t->name);
			return -1;
		}
		if (t->bad_value) {
			fail("%s: %d signals with a wrong siginfo", t->name,
			     t->bad_value);
			return -1;
		}
		if (t->bad_tid) {
			fail("%s: %d signals to a wrong thread", t->name,
			     t->bad_tid);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = handler,
				.sa_flags = SA_SIGINFO | SA_RESTART };
	static char before[8192], after[8192];
	sigset_t all, idle_firing;
	timer_t gaps[4];
	unsigned int i;

	test_init(argc, argv);
	main_tid = gettid();
	timer_signals(&all, &idle_firing);
	sigprocmask(SIG_BLOCK, &all, NULL);

	sigfillset(&sa.sa_mask);
	for (i = 0; i < NTIMERS; i++)
		if (timers[i].sig &&
		    sigaction(SIGRTMIN + timers[i].sig, &sa, NULL)) {
			pr_perror("sigaction");
			return 1;
		}

	/* Timers deleted in between leave gaps among the ids. */
	for (i = 0; i < NTIMERS; i++) {
		if (i < 4) {
			struct sigevent none = { .sigev_notify = SIGEV_NONE };

			if (timer_create(CLOCK_MONOTONIC, &none, &gaps[i])) {
				pr_perror("timer_create");
				return 1;
			}
		}
		if (create_timer(i))
			return 1;
	}
	for (i = 0; i < 4; i++)
		if (timer_delete(gaps[i])) {
			pr_perror("timer_delete");
			return 1;
		}

	if (read_timers(before, sizeof(before))) {
		pr_perror("can't read /proc/self/timers");
		return 1;
	}

	/* The periodic timers' first signals are pending. */
	for (i = 0; !pending_as_expected(&all, &idle_firing); i++) {
		if (i > 1000) {
			pr_err("the timers' signals did not come\n");
			return 1;
		}
		usleep(1000);
	}

	test_daemon();
	test_waitsig();

	if (!pending_as_expected(&all, &idle_firing)) {
		fail("the pending timer signals are not those of the "
		     "periodic timers");
		return 1;
	}
	if (read_timers(after, sizeof(after))) {
		fail("can't read /proc/self/timers");
		return 1;
	}
	if (strcmp(before, after)) {
		fail("/proc/self/timers changed:\n%s---- to ----\n%s", before,
		     after);
		return 1;
	}
	for (i = 0; i < NTIMERS; i++)
		if (check_timer(i))
			return 1;
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (wait_firing())
		return 1;
	pass();
	return 0;
}
