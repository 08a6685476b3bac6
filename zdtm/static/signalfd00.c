// SPDX-License-Identifier: GPL-2.0
/*
 * signalfd00 - signalfds come back with their masks and flags, and the
 * blocked signals pending at the checkpoint are read from them after it.
 *
 * SIGUSR1, SIGUSR2 and SIGRTMIN+3 are blocked.  "a" (O_NONBLOCK) accepts
 * SIGUSR1 and SIGRTMIN+3, "b" (blocking) SIGUSR2 only.  Before the
 * checkpoint SIGUSR1 is sent once and SIGRTMIN+3 is queued twice with
 * values, so that they are pending when the tree is dumped.  After the
 * restore:
 *  - both fds' "sigmask:" in fdinfo read as before;
 *  - "a" gives SIGUSR1, then SIGRTMIN+3 twice with its values in order,
 *    then EAGAIN;
 *  - SIGUSR2 sent now is not given by "a" (its mask must not have grown)
 *    but by "b"; SIGUSR1 sent now is given by "a" with our pid as sender.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "zdtmtst.h"

#define VALUE1 0x5157
#define VALUE2 0x7eed

static int sigmask_line(int fd, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "sigmask:", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line);
		}
	fclose(f);
	if (!out[0]) {
		pr_err("no sigmask: in %s\n", path);
		return -1;
	}
	return 0;
}

/*
 * Read one signal from fd: 0 and its info, -1 with errno otherwise
 * (EAGAIN: none for a non-blocking fd).
 */
static int take(int fd, struct signalfd_siginfo *si)
{
	ssize_t n = read(fd, si, sizeof(*si));

	if (n == sizeof(*si))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

static int expect(int fd, int signo, int value, const char *what)
{
	struct signalfd_siginfo si;

	memset(&si, 0, sizeof(si));
	if (take(fd, &si)) {
		fail("%s: no signal %d to read", what, signo);
		return -1;
	}
	if ((int)si.ssi_signo != signo) {
		fail("%s: read signal %u, expected %d", what, si.ssi_signo,
		     signo);
		return -1;
	}
	if (value >= 0 && si.ssi_int != value) {
		fail("%s: signal %d came with value %#x, expected %#x", what,
		     signo, si.ssi_int, value);
		return -1;
	}
	if (value < 0 && (pid_t)si.ssi_pid != getpid()) {
		fail("%s: signal %d from pid %u, expected %d", what, signo,
		     si.ssi_pid, getpid());
		return -1;
	}
	return 0;
}

static int queue(int signo, int value)
{
	union sigval sv = { .sival_int = value };

	if (sigqueue(getpid(), signo, sv)) {
		pr_perror("sigqueue %d", signo);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char before[2][256], after[2][256];
	struct signalfd_siginfo si;
	sigset_t blocked, ma, mb;
	int a, b, i, rt;

	test_init(argc, argv);
	memset(&si, 0, sizeof(si));
	rt = SIGRTMIN + 3;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, rt);
	if (sigprocmask(SIG_BLOCK, &blocked, NULL)) {
		pr_perror("sigprocmask");
		return 1;
	}
	sigemptyset(&ma);
	sigaddset(&ma, SIGUSR1);
	sigaddset(&ma, rt);
	sigemptyset(&mb);
	sigaddset(&mb, SIGUSR2);
	a = signalfd(-1, &ma, SFD_NONBLOCK);
	b = signalfd(-1, &mb, 0);
	if (a < 0 || b < 0) {
		pr_perror("signalfd");
		return 1;
	}
	if (kill(getpid(), SIGUSR1) || queue(rt, VALUE1) || queue(rt, VALUE2))
		return 1;
	if (sigmask_line(a, before[0], sizeof(before[0])) ||
	    sigmask_line(b, before[1], sizeof(before[1])))
		return 1;

	test_daemon();
	test_waitsig();

	if (sigmask_line(a, after[0], sizeof(after[0])) ||
	    sigmask_line(b, after[1], sizeof(after[1])))
		return 1;
	for (i = 0; i < 2; i++) {
		if (strcmp(before[i], after[i])) {
			fail("signalfd %c was \"%s\", is \"%s\"", 'a' + i,
			     before[i], after[i]);
			return 1;
		}
	}

	/* Pending since before the checkpoint: lowest number first. */
	if (expect(a, SIGUSR1, -1, "pending") ||
	    expect(a, rt, VALUE1, "pending, first") ||
	    expect(a, rt, VALUE2, "pending, second"))
		return 1;
	if (!take(a, &si) || errno != EAGAIN) {
		fail("a further signal %u pending", si.ssi_signo);
		return 1;
	}

	/* Sent now. */
	if (kill(getpid(), SIGUSR2))
		return 1;
	if (!take(a, &si) || errno != EAGAIN) {
		fail("signalfd a gave signal %u: its mask grew", si.ssi_signo);
		return 1;
	}
	if (expect(b, SIGUSR2, -1, "sent after restore to b"))
		return 1;
	if (kill(getpid(), SIGUSR1) ||
	    expect(a, SIGUSR1, -1, "sent after restore to a"))
		return 1;

	pass();
	return 0;
}
