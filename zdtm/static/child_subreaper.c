// SPDX-License-Identifier: GPL-2.0
/*
 * child_subreaper - PR_SET_CHILD_SUBREAPER survives a checkpoint, and still
 * works.  The test (T) and its child A are child subreapers, A's child B
 * and B's child O are not:
 *
 *	T (subreaper) -> A (subreaper) -> B -> O
 *
 * After the restore each checks its own flag; then B exits, and its orphan
 * O must be given to A (the nearest subreaper), not to T: A reaps it.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

static pid_t test_pid, a_pid, b_pid, o_pid;

static int subreaper(void)
{
	int on = -1;

	if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&on, 0, 0, 0))
		return -1;
	return on;
}

static int check_flag(const char *who, int want)
{
	if (subreaper() != want) {
		pr_err("%s: PR_GET_CHILD_SUBREAPER is %d, expected %d\n", who,
		       subreaper(), want);
		return 1;
	}
	return 0;
}

static int task_o(void)
{
	test_waitsig();
	/* B is gone by now: we are A's. */
	if (getppid() != a_pid) {
		pr_err("O: parent %d, expected A (%d)\n", getppid(), a_pid);
		return 1;
	}
	return check_flag("O", 0);
}

static int task_b(void)
{
	test_waitsig();
	if (getppid() != a_pid) {
		pr_err("B: parent %d, expected A (%d)\n", getppid(), a_pid);
		return 1;
	}
	return check_flag("B", 0);
}

static int task_a(void)
{
	struct tt_stat st;
	int errs;

	test_waitsig();
	errs = check_flag("A", 1);
	if (kill(b_pid, SIGTERM)) {
		pr_perror("A: can't terminate B");
		return 1;
	}
	errs += tt_reap_child("A", b_pid);
	/* B's orphan is ours now. */
	if (tt_stat(o_pid, &st) || st.ppid != a_pid) {
		pr_err("A: B's orphan %d went to %d, not to A (%d)\n", o_pid,
		       st.ppid, a_pid);
		errs++;
	}
	if (kill(o_pid, SIGTERM)) {
		pr_perror("A: can't terminate O");
		return 1;
	}
	errs += tt_reap_child("A", o_pid);
	return errs ? 1 : 0;
}

static int check_tree(const char *when)
{
	const struct tt_expect t[] = {
		{ "A", a_pid, test_pid },
		{ "B", b_pid, a_pid },
		{ "O", o_pid, b_pid },
	};

	return tt_check_parents(t, 3, when);
}

int main(int argc, char **argv)
{
	pid_t pids[2];
	int p[2], errs, status;
	pid_t stray;

	test_init(argc, argv);
	test_pid = getpid();

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(p)) {
		pr_perror("set-up");
		return 1;
	}
	a_pid = fork();
	if (a_pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (a_pid == 0) {
		int q[2];

		a_pid = getpid();
		close(p[0]);
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(q)) {
			pr_perror("A: set-up");
			_exit(1);
		}
		b_pid = fork();
		if (b_pid == 0) {
			b_pid = getpid();
			close(q[0]);
			close(p[1]);
			o_pid = fork();
			if (o_pid == 0) {
				close(q[1]);
				_exit(task_o());
			}
			pids[0] = b_pid;
			pids[1] = o_pid;
			if (o_pid < 0 ||
			    write(q[1], pids, sizeof(pids)) != sizeof(pids))
				_exit(1);
			close(q[1]);
			_exit(task_b());
		}
		close(q[1]);
		/* B's report, then the end: B and O have closed the pipe. */
		if (b_pid < 0 ||
		    read(q[0], pids, sizeof(pids)) != sizeof(pids) ||
		    read(q[0], &status, 1) != 0)
			_exit(1);
		close(q[0]);
		b_pid = pids[0];
		o_pid = pids[1];
		if (write(p[1], pids, sizeof(pids)) != sizeof(pids))
			_exit(1);
		close(p[1]);
		_exit(task_a());
	}
	close(p[1]);
	/* B reports; the end of the pipe: all three have closed it. */
	if (read(p[0], pids, sizeof(pids)) != sizeof(pids) ||
	    read(p[0], &status, 1) != 0) {
		pr_err("the tree was not built\n");
		kill(a_pid, SIGKILL);
		waitpid(a_pid, NULL, 0);
		return 1;
	}
	close(p[0]);
	b_pid = pids[0];
	o_pid = pids[1];
	if (check_tree("set-up") || check_flag("test", 1))
		goto err;

	test_daemon();
	test_waitsig();

	errs = check_tree("restored") + check_flag("test", 1);
	if (kill(a_pid, SIGTERM)) {
		pr_perror("can't terminate A");
		goto err;
	}
	errs += tt_reap_child("test", a_pid);
	/* Orphans that went to the wrong subreaper. */
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
	if (o_pid > 0)
		kill(o_pid, SIGKILL);
	if (b_pid > 0)
		kill(b_pid, SIGKILL);
	kill(a_pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	return 1;
}
