// SPDX-License-Identifier: GPL-2.0
/*
 * child_subreaper_and_reparent - orphans keep the parent they were given,
 * whoever is a child subreaper now.  The test (T) is a child subreaper; its
 * child S is not when the helper H under it exits, so H's child O1 goes to
 * T.  Then S becomes a subreaper and a second helper H2 exits: its child O2
 * goes to S:
 *
 *	T (subreaper) -> S (subreaper, later) -> H (exited) -> O1 (now T's)
 *	                                       -> H2 (exited) -> O2 (now S's)
 *
 * After the restore O1 must still be T's child and O2 S's, though O1 was
 * made under S, which is a subreaper: each checks its parent, and each
 * parent reaps its own.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

static pid_t test_pid, s_pid, o1_pid, o2_pid;
static int report = -1;

struct rec {
	int who;		/* 0: S, 1: O1, 2: O2 */
	pid_t pid;
};

static int send_rec(int who)
{
	struct rec r = { .who = who, .pid = getpid() };

	if (write(report, &r, sizeof(r)) != sizeof(r))
		return -1;
	close(report);
	return 0;
}

static int orphan(int who, pid_t parent)
{
	if (send_rec(who))
		return 1;
	test_waitsig();
	if (getppid() != parent) {
		pr_err("O%d: parent %d, expected %d\n", who, getppid(), parent);
		return 1;
	}
	return 0;
}

/* A helper that forks an orphan-to-be and exits; 0 when reaped fine. */
static int helper(int who, pid_t parent)
{
	pid_t h = fork();

	if (h == 0) {
		pid_t o = fork();

		if (o == 0)
			_exit(orphan(who, parent));
		_exit(o < 0 ? 1 : 0);
	}
	return h < 0 ? 1 : tt_reap_child("S", h);
}

/* Our only child, from /proc: the orphan given to us; 0 if not just one. */
static pid_t only_child(void)
{
	char path[64];
	pid_t child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &child) != 1 || fscanf(f, "%*d") != EOF)
		child = 0;
	fclose(f);
	return child;
}

static int task_s(void)
{
	int on = -1, errs;

	s_pid = getpid();
	/* Not a subreaper yet: the orphan goes up to the test. */
	if (helper(1, test_pid))
		return 1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		pr_perror("S: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	/* A subreaper now: this orphan is ours. */
	if (helper(2, s_pid))
		return 1;
	o2_pid = only_child();
	if (o2_pid <= 0) {
		pr_err("S: the second orphan is not S's only child\n");
		return 1;
	}
	if (send_rec(0))
		return 1;

	test_waitsig();
	errs = 0;
	if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&on, 0, 0, 0) ||
	    on != 1) {
		pr_err("S: PR_GET_CHILD_SUBREAPER is %d, expected 1\n", on);
		errs++;
	}
	if (kill(o2_pid, SIGTERM)) {
		pr_perror("S: can't terminate O2");
		return 1;
	}
	errs += tt_reap_child("S", o2_pid);
	return errs ? 1 : 0;
}

static int check_tree(const char *when)
{
	const struct tt_expect t[] = {
		{ "S", s_pid, test_pid },
		{ "O1", o1_pid, test_pid },
		{ "O2", o2_pid, s_pid },
	};

	return tt_check_parents(t, 3, when);
}

int main(int argc, char **argv)
{
	pid_t pids[3] = {}, stray;
	int p[2], errs, status, i;
	struct rec r;
	char c;

	test_init(argc, argv);
	test_pid = getpid();

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(p)) {
		pr_perror("set-up");
		return 1;
	}
	s_pid = fork();
	if (s_pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (s_pid == 0) {
		close(p[0]);
		report = p[1];
		_exit(task_s());
	}
	close(p[1]);
	/* Three reports (O1, O2, then S), then the end of the pipe. */
	for (i = 0; i < 3; i++) {
		if (read(p[0], &r, sizeof(r)) != sizeof(r) || r.who < 0 ||
		    r.who > 2)
			break;
		pids[r.who] = r.pid;
	}
	if (i < 3 || read(p[0], &c, 1) != 0) {
		pr_err("the tree was not built\n");
		goto err;
	}
	close(p[0]);
	o1_pid = pids[1];
	o2_pid = pids[2];
	/* S told its own pid to the pipe too: the one we forked. */
	if (pids[0] != s_pid || check_tree("set-up"))
		goto err;

	test_daemon();
	test_waitsig();

	errs = check_tree("restored");
	if (kill(o1_pid, SIGTERM) || kill(s_pid, SIGTERM)) {
		pr_perror("can't terminate O1 and S");
		goto err;
	}
	errs += tt_reap_child("test", o1_pid);
	errs += tt_reap_child("test", s_pid);
	while ((stray = waitpid(-1, &status, WNOHANG)) > 0) {
		pr_err("a stray orphan %d reaped by the test\n", stray);
		errs++;
	}
	if (errs) {
		fail("%d differences (see above)", errs);
		return 1;
	}
	pass();
	return 0;
err:
	for (i = 0; i < 3; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	kill(s_pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	return 1;
}
