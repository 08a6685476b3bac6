// SPDX-License-Identifier: GPL-2.0
/*
 * file_fown - the SIGIO owner and signal of open files survive a
 * checkpoint.
 *
 * Pipe A (O_ASYNC) is owned by the test's process with F_SETSIG SIGUSR2;
 * pipe B's read end is owned by the test's process group (F_SETOWN_EX
 * F_OWNER_PGRP) with the default signal; a regular file is owned by the
 * test's thread (F_OWNER_TID) with SIGRTMIN+1.  After the restore the
 * owners and signals must read back as set, and a write into pipe A must
 * bring SIGUSR2 with si_fd naming A's read end.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

static volatile sig_atomic_t got_sig, got_fd;

static void on_sigusr2(int sig, siginfo_t *si, void *uc)
{
	got_sig = sig;
	got_fd = si->si_fd;
}

static int check_owner(int fd, int type, pid_t pid, int sig, const char *what)
{
	struct f_owner_ex owner;
	int s;

	if (fcntl(fd, F_GETOWN_EX, &owner)) {
		pr_perror("F_GETOWN_EX %s", what);
		return -1;
	}
	s = fcntl(fd, F_GETSIG);
	if (owner.type != type || owner.pid != pid || s != sig) {
		fail("%s: owner %d:%d signal %d, expected %d:%d signal %d", what,
		     owner.type, owner.pid, s, type, pid, sig);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct f_owner_ex pgrp, tid;
	struct sigaction sa;
	int a[2], b[2], f;
	sigset_t mask;
	int i;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigusr2;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGUSR2, &sa, NULL) || pipe(a) || pipe(b)) {
		pr_perror("setup");
		return 1;
	}
	f = open("file_fown.test", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f < 0) {
		pr_perror("open");
		return 1;
	}
	pgrp.type = F_OWNER_PGRP;
	pgrp.pid = getpgrp();
	tid.type = F_OWNER_TID;
	tid.pid = gettid();
	if (fcntl(a[0], F_SETOWN, getpid()) ||
	    fcntl(a[0], F_SETSIG, SIGUSR2) ||
	    fcntl(a[0], F_SETFL, O_ASYNC | O_NONBLOCK) ||
	    fcntl(b[0], F_SETOWN_EX, &pgrp) ||
	    fcntl(f, F_SETOWN_EX, &tid) ||
	    fcntl(f, F_SETSIG, SIGRTMIN + 1)) {
		pr_perror("fcntl");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_owner(a[0], F_OWNER_PID, getpid(), SIGUSR2, "pipe A") ||
	    check_owner(b[0], F_OWNER_PGRP, getpgrp(), 0, "pipe B") ||
	    check_owner(f, F_OWNER_TID, gettid(), SIGRTMIN + 1, "file"))
		return 1;
	if (!(fcntl(a[0], F_GETFL) & O_ASYNC)) {
		fail("pipe A lost O_ASYNC");
		return 1;
	}
	sigemptyset(&mask);
	if (write(a[1], "x", 1) != 1) {
		pr_perror("write");
		return 1;
	}
	for (i = 0; i < 1000 && !got_sig; i++)
		usleep(1000);
	if (got_sig != SIGUSR2 || got_fd != a[0]) {
		fail("no SIGUSR2 for pipe A's read end (got signal %d, fd %d)",
		     (int)got_sig, (int)got_fd);
		return 1;
	}
	pass();
	return 0;
}
