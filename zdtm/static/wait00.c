// SPDX-License-Identifier: GPL-2.0
/*
 * wait00 - the test sleeps in wait4() for its children across the
 * checkpoint.  No child exits before the runner's SIGTERM (which the test
 * passes on to them), nothing interrupts the wait before it, and after it
 * the wait collects every child with its own exit status.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NCHILD 4

static pid_t kids[NCHILD];
static volatile sig_atomic_t terminated;

/* SIGTERM: tell the children, whose exits then end the wait. */
static void forward_sigterm(int signo)
{
	int i, saved = errno;

	terminated = 1;
	for (i = 0; i < NCHILD; i++)
		kill(kids[i], SIGTERM);
	errno = saved;
}

static int child(int i, pid_t parent)
{
	test_waitsig();
	if (getppid() != parent) {
		pr_err("child %d: parent %d, expected %d\n", i, getppid(),
		       parent);
		return 1;
	}
	return 10 + i;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward_sigterm };
	int i, status, errs = 0, reaped = 0;
	pid_t me, got;

	test_init(argc, argv);
	me = getpid();

	for (i = 0; i < NCHILD; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			pr_perror("fork");
			goto err;
		}
		if (kids[i] == 0)
			_exit(child(i, me));
	}
	/* Children keep the library's handler; the test passes SIGTERM on. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		pr_perror("sigaction");
		goto err;
	}

	test_daemon();

	while (reaped < NCHILD) {
		got = wait4(-1, &status, 0, NULL);
		if (got < 0) {
			if (errno == EINTR && terminated)
				continue;
			fail("wait4 failed before SIGTERM");
			goto err;
		}
		if (!terminated) {
			fail("child %d exited (status %#x) before SIGTERM", got,
			     status);
			goto err;
		}
		for (i = 0; i < NCHILD && kids[i] != got; i++)
			;
		if (i == NCHILD) {
			fail("wait4 returned %d, not a child of ours", got);
			goto err;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 10 + i) {
			pr_err("child %d (pid %d): status %#x, expected exit %d\n",
			       i, got, status, 10 + i);
			errs++;
		}
		kids[i] = 0;
		reaped++;
	}
	if (errs) {
		fail("%d children exited wrongly", errs);
		return 1;
	}
	pass();
	return 0;
err:
	for (i = 0; i < NCHILD; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	return 1;
}
