// SPDX-License-Identifier: GPL-2.0
/*
 * vfork00 - a vfork() in progress across the checkpoint: the child of the
 * test called vfork() and its vfork child waits for SIGTERM without
 * exec()ing, so the parent is blocked (state D) until it exits.  After the
 * restore the parent must still be blocked, the vfork child alive under
 * it; once the child exits, vfork() returns its pid in the parent, not
 * before.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

/* Exit codes of the vfork parent. */
#define VP_OK		0
#define VP_VFORK	2	/* vfork() failed */
#define VP_EARLY	3	/* vfork() returned before the child exited */
#define VP_WAIT		4	/* the child's wait status is wrong */

/* Set by the vfork child as it exits, in the memory it shares. */
static volatile int child_done;

/* The vfork parent: runs on the stack it shares with its vfork child. */
static int vfork_parent(void)
{
	int status;
	pid_t me = getpid(), pid;

	pid = vfork();
	if (pid < 0)
		return VP_VFORK;
	if (pid == 0) {
		/* Only what vfork() allows: no return, memory left alone. */
		test_waitsig();
		child_done = 1;
		_exit(getppid() == me ? 0 : 1);
	}
	/* Back only once the child is done with our memory. */
	if (!child_done)
		return VP_EARLY;
	if (waitpid(pid, &status, 0) != pid || status != 0)
		return VP_WAIT;
	test_waitsig();
	return VP_OK;
}

/* The only child of pid, from /proc; 0 if none, -1 if more. */
static pid_t only_child(pid_t pid)
{
	char path[64];
	int child = 0, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fscanf(f, "%d", &child);
	if (n == 1 && fscanf(f, "%*d") != EOF)
		child = -1;
	fclose(f);
	return n == 1 ? child : 0;
}

static int check(const char *when, pid_t parent, pid_t child)
{
	struct tt_stat st;
	int errs = 0;

	if (tt_stat(parent, &st) || st.state != 'D') {
		pr_err("%s: the vfork parent %d is in state %c, not blocked (D)\n",
		       when, parent, st.state);
		errs++;
	}
	if (only_child(parent) != child) {
		pr_err("%s: the vfork parent's children are not just %d\n",
		       when, child);
		errs++;
	}
	if (tt_stat(child, &st) || !tt_alive_state(st.state) ||
	    st.ppid != parent) {
		pr_err("%s: the vfork child %d is in state %c under %d\n",
		       when, child, st.state, st.ppid);
		errs++;
	}
	return errs;
}

int main(int argc, char **argv)
{
	pid_t parent, child = 0;
	int status, errs, waited;

	test_init(argc, argv);

	parent = fork();
	if (parent < 0) {
		pr_perror("fork");
		return 1;
	}
	if (parent == 0)
		_exit(vfork_parent());

	for (waited = 0; waited < 10000 && child <= 0; waited++) {
		child = only_child(parent);
		if (child <= 0)
			usleep(1000);
	}
	if (child <= 0 || tt_wait_state(parent, "D", 10000) ||
	    check("set-up", parent, child)) {
		pr_err("the vfork did not happen as expected\n");
		goto err;
	}

	test_daemon();
	test_waitsig();

	errs = check("restored", parent, child);
	/* The vfork child first; the parent's SIGTERM waits for vfork(). */
	if (kill(child, SIGTERM) || kill(parent, SIGTERM)) {
		pr_perror("can't terminate the vfork pair");
		goto err;
	}
	if (waitpid(parent, &status, 0) != parent) {
		pr_perror("waitpid");
		goto err;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != VP_OK) {
		pr_err("the vfork parent: status %#x (exit 2: no vfork, 3: vfork returned early, 4: bad child status)\n",
		       status);
		kill(child, SIGKILL);
		errs++;
	}
	if (errs) {
		fail("%d differences in the vfork (see above)", errs);
		return 1;
	}
	pass();
	return 0;
err:
	if (child > 0)
		kill(child, SIGKILL);
	kill(parent, SIGKILL);
	waitpid(parent, NULL, 0);
	return 1;
}
