// SPDX-License-Identifier: GPL-2.0
/*
 * timerfd - timerfds come back on their clocks with their settime flags,
 * periods, time left and the expirations not read yet.
 *
 * None is read before the checkpoint:
 *  - "periodic": CLOCK_REALTIME, TFD_TIMER_ABSTIME, period PERIOD, first
 *    expiry BACK seconds in the past: at least BACK / PERIOD periods have
 *    expired before the checkpoint (the kernel counts them when the timer
 *    is next read).  After the restore the first read() must return at
 *    least that many (lost ticks would give the few periods since the
 *    restore), and the timer must go on: another expiry within two
 *    periods;
 *  - "fired": CLOCK_MONOTONIC, one-shot, expired before the checkpoint:
 *    read() must return 1 (a lost tick: EAGAIN), then EAGAIN, and the
 *    timer must be disarmed;
 *  - "armed": CLOCK_MONOTONIC, one-shot ARMED ms ahead: after the restore
 *    it has time left, no more than it had, and fires within that time;
 *  - "idle": CLOCK_BOOTTIME, disarmed with a period set.
 * "clockid:", "settime flags:" and "it_interval:" of each fd's fdinfo must
 * read as before.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MS		1000000LL
#define NS		1000000000LL
#define PERIOD		(200 * MS)
#define BACK		100		/* s */
#define ARMED		(3000 * MS)

enum { PERIODIC, FIRED, ARMED_T, IDLE, NR };

static const char *names[NR] = { "periodic", "fired", "armed", "idle" };

static struct timespec ts(long long ns)
{
	struct timespec t = { ns / NS, ns % NS };

	return t;
}

static long long ns_of(const struct timespec *t)
{
	return t->tv_sec * NS + t->tv_nsec;
}

/* The fdinfo lines that must not change: clock, flags, period. */
static int fixed_lines(int fd, char *out, size_t len)
{
	static const char *keys[] = { "clockid:", "settime flags:",
				      "it_interval:" };
	char path[64], line[256];
	size_t used = 0;
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) && used < len)
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i]))) {
				line[strcspn(line, "\n")] = '\0';
				used += snprintf(out + used, len - used, "%s; ",
						 line);
			}
	fclose(f);
	return 0;
}

static int make(int clock, int flags, int sflags, long long value,
		long long interval)
{
	struct itimerspec its = { ts(interval), ts(value) };
	int fd = timerfd_create(clock, flags);

	if (fd < 0) {
		pr_perror("timerfd_create(%d)", clock);
		return -1;
	}
	if (timerfd_settime(fd, sflags, &its, NULL)) {
		pr_perror("timerfd_settime");
		close(fd);
		return -1;
	}
	return fd;
}

/* One read(), waiting at most wait_ms: the ticks, 0 if none came. */
static int64_t ticks(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, wait_ms) != 1)
		return 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n)) {
		if (errno == EAGAIN)
			return 0;
		pr_perror("read timerfd %d", fd);
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	char before[NR][256], after[NR][256];
	struct itimerspec cur;
	struct timespec now;
	long long left, expected;
	int fds[NR], i;
	int64_t n;

	test_init(argc, argv);

	clock_gettime(CLOCK_REALTIME, &now);
	fds[PERIODIC] = make(CLOCK_REALTIME, 0, TFD_TIMER_ABSTIME,
			     ns_of(&now) - BACK * NS, PERIOD);
	fds[FIRED] = make(CLOCK_MONOTONIC, TFD_NONBLOCK, 0, 1 * MS, 0);
	fds[ARMED_T] = make(CLOCK_MONOTONIC, 0, 0, ARMED, 0);
	fds[IDLE] = make(CLOCK_BOOTTIME, TFD_NONBLOCK, 0, 0, 7 * NS + 5);
	for (i = 0; i < NR; i++)
		if (fds[i] < 0)
			return 1;
	expected = BACK * NS / PERIOD;
	usleep(20000);		/* "fired" fires */
	for (i = 0; i < NR; i++)
		if (fixed_lines(fds[i], before[i], sizeof(before[i])))
			return 1;

	test_daemon();
	test_waitsig();

	for (i = 0; i < NR; i++) {
		if (fixed_lines(fds[i], after[i], sizeof(after[i])))
			return 1;
		if (strcmp(before[i], after[i])) {
			fail("%s timer was \"%s\", is \"%s\"", names[i],
			     before[i], after[i]);
			return 1;
		}
	}

	n = ticks(fds[PERIODIC], 0);
	if (n < expected) {
		fail("periodic timer: read %" PRId64 " ticks, at least %lld "
		     "had expired before the checkpoint", n, expected);
		return 1;
	}
	n = ticks(fds[PERIODIC], 2 * PERIOD / MS + 100);
	if (n < 1) {
		fail("periodic timer: no tick within two periods after the "
		     "first read");
		return 1;
	}

	n = ticks(fds[FIRED], 0);
	if (n != 1) {
		fail("fired timer: read %" PRId64 " ticks, expected 1", n);
		return 1;
	}
	if (ticks(fds[FIRED], 0) != 0) {
		fail("fired timer: ticks again after its one expiry");
		return 1;
	}
	if (timerfd_gettime(fds[FIRED], &cur) || ns_of(&cur.it_value)) {
		fail("fired timer: armed again (%lld ns left)",
		     ns_of(&cur.it_value));
		return 1;
	}

	if (timerfd_gettime(fds[ARMED_T], &cur)) {
		pr_perror("timerfd_gettime");
		return 1;
	}
	left = ns_of(&cur.it_value);
	/* It may have fired already if the test ran long (--nocr). */
	if (left > ARMED) {
		fail("armed timer: %lld ns left, was set for %lld", left,
		     ARMED);
		return 1;
	}
	n = ticks(fds[ARMED_T], left / MS + 1000);
	if (n != 1) {
		fail("armed timer: %" PRId64 " ticks within %lld ms, expected 1"
		     " (%lld ns were left)", n, left / MS + 1000, left);
		return 1;
	}

	if (timerfd_gettime(fds[IDLE], &cur) || ns_of(&cur.it_value) ||
	    ns_of(&cur.it_interval) != 7 * NS + 5) {
		fail("idle timer: %lld ns left, period %lld ns",
		     ns_of(&cur.it_value), ns_of(&cur.it_interval));
		return 1;
	}
	if (ticks(fds[IDLE], 0) != 0) {
		fail("idle timer: has ticks");
		return 1;
	}

	pass();
	return 0;
}
