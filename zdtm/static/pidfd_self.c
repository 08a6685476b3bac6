// SPDX-License-Identifier: GPL-2.0
/*
 * pidfd_self - pidfds a process holds of itself still refer to itself
 * after a checkpoint.
 *
 * The test opens two pidfds of its own pid: a plain one and one with
 * PIDFD_NONBLOCK | PIDFD_THREAD (the thread-group leader's thread, since
 * Linux 6.9; left out on older kernels).  After the restore:
 *  - each pidfd's fdinfo names the test's pid with the same flags;
 *  - a signal sent through the plain pidfd reaches the test, from the
 *    test (si_pid), pending on the process;
 *  - a signal sent with PIDFD_SIGNAL_THREAD through the thread pidfd is
 *    pending on the main thread itself (SigPnd, not ShdPnd).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_SIGNAL_THREAD
#define PIDFD_SIGNAL_THREAD 1
#endif

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

/* "Pid:" and "flags:" of a pidfd's fdinfo; -1 if unreadable. */
static int pidfd_info(int fd, long *pid, long *flags)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Pid: %ld", pid) == 1)
			got |= 1;
		else if (sscanf(line, "flags: %lo", flags) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

/* Whether sig is in the mask of "key:" in /proc/self/status. */
static int pending_in(const char *key, int sig)
{
	char buf[64];
	unsigned long long mask;

	if (task_status_field(0, key, buf, sizeof(buf)))
		return -1;
	mask = strtoull(buf, NULL, 16);
	return !!(mask & (1ULL << (sig - 1)));
}

static int check_pidfd(int fd, long want_flags, const char *what)
{
	long pid = 0, flags = 0;

	if (pidfd_info(fd, &pid, &flags)) {
		fail("%s pidfd: no Pid:/flags: in its fdinfo", what);
		return -1;
	}
	if (pid != getpid()) {
		fail("%s pidfd refers to pid %ld, not to %d", what, pid,
		     getpid());
		return -1;
	}
	if (flags != want_flags) {
		fail("%s pidfd has flags %lo, it had %lo", what, flags,
		     want_flags);
		return -1;
	}
	return 0;
}

/* The signal, pending as expected, taken with its sender checked. */
static int take(int sig, const char *what)
{
	struct timespec ts = { .tv_sec = 5 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &ts) != sig) {
		fail("%s: the signal sent through the pidfd did not come", what);
		return -1;
	}
	if (si.si_pid != getpid() || si.si_code != SI_USER) {
		fail("%s: signal from pid %d code %d", what, si.si_pid,
		     si.si_code);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long pid, plain_flags, thread_flags = 0;
	int plain, thread;
	sigset_t set;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	plain = pidfd_open(getpid(), 0);
	if (plain < 0 || pidfd_info(plain, &pid, &plain_flags)) {
		pr_perror("pidfd_open");
		return 1;
	}
	thread = pidfd_open(getpid(), PIDFD_THREAD | PIDFD_NONBLOCK);
	if (thread < 0)
		test_msg("no PIDFD_THREAD here: checking the plain pidfd only\n");
	else if (pidfd_info(thread, &pid, &thread_flags)) {
		pr_perror("fdinfo");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_pidfd(plain, plain_flags, "the plain"))
		return 1;
	if (thread >= 0 && check_pidfd(thread, thread_flags, "the thread"))
		return 1;

	if (pidfd_send_signal(plain, SIGUSR1, 0)) {
		fail("pidfd_send_signal through the plain pidfd");
		return 1;
	}
	if (pending_in("ShdPnd", SIGUSR1) != 1) {
		fail("SIGUSR1 is not pending on the process");
		return 1;
	}
	if (take(SIGUSR1, "plain pidfd"))
		return 1;

	if (thread >= 0) {
		if (pidfd_send_signal(thread, SIGUSR2, PIDFD_SIGNAL_THREAD)) {
			fail("pidfd_send_signal(PIDFD_SIGNAL_THREAD)");
			return 1;
		}
		if (pending_in("SigPnd", SIGUSR2) != 1 ||
		    pending_in("ShdPnd", SIGUSR2) != 0) {
			fail("SIGUSR2 is not pending on the main thread alone");
			return 1;
		}
		if (take(SIGUSR2, "thread pidfd"))
			return 1;
	}
	pass();
	return 0;
}
