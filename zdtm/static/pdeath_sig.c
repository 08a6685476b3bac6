// SPDX-License-Identifier: GPL-2.0
/*
 * pdeath_sig - the parent-death signal (PR_SET_PDEATHSIG) survives a
 * checkpoint and still fires.  The test (T, a child subreaper) has a child
 * P (parent-death signal SIGUSR2) with a child C (SIGUSR1):
 *
 *	T -> P (pdeath SIGUSR2) -> C (pdeath SIGUSR1)
 *
 * After the restore both check their setting; then P exits, and C must get
 * SIGUSR1, exactly once (not also from the restore), and become T's child.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

static pid_t test_pid, p_pid, c_pid;
static volatile sig_atomic_t usr1;

static void count_usr1(int signo)
{
	usr1++;
}

static int check_pdeath(const char *who, int want)
{
	int sig = -1;

	if (prctl(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0) ||
	    sig != want) {
		pr_err("%s: PR_GET_PDEATHSIG is %d, expected %d\n", who, sig,
		       want);
		return 1;
	}
	return 0;
}

static int task_c(void)
{
	int errs;

	test_waitsig();
	/* SIGUSR1 (10) is delivered before the SIGTERM (15) that follows. */
	errs = check_pdeath("C", SIGUSR1);
	if (usr1 != 1) {
		pr_err("C: the parent-death signal came %d times, expected once\n",
		       usr1);
		errs++;
	}
	if (getppid() != test_pid) {
		pr_err("C: parent %d, expected the test (%d)\n", getppid(),
		       test_pid);
		errs++;
	}
	return errs ? 1 : 0;
}

static int reap(pid_t pid, const char *who)
{
	int status;
	pid_t got;

	do {
		got = waitpid(pid, &status, 0);
	} while (got < 0 && errno == EINTR);
	if (got != pid || status) {
		pr_err("%s (%d): status %#x\n", who, pid, got == pid ? status : -1);
		return 1;
	}
	return 0;
}

static int check_tree(const char *when)
{
	struct tt_stat st;
	int errs = 0;

	if (tt_stat(p_pid, &st) || !tt_alive_state(st.state) ||
	    st.ppid != test_pid) {
		pr_err("%s: P (%d) is in state %c under %d\n", when, p_pid,
		       st.state, st.ppid);
		errs++;
	}
	if (tt_stat(c_pid, &st) || !tt_alive_state(st.state) ||
	    st.ppid != p_pid) {
		pr_err("%s: C (%d) is in state %c under %d\n", when, c_pid,
		       st.state, st.ppid);
		errs++;
	}
	return errs;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = count_usr1 };
	int p[2], errs;
	char c;

	test_init(argc, argv);
	test_pid = getpid();
	sigemptyset(&sa.sa_mask);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ||
	    sigaction(SIGUSR1, &sa, NULL) || pipe(p)) {
		pr_perror("set-up");
		return 1;
	}

	p_pid = fork();
	if (p_pid < 0) {
		pr_perror("fork");
		return 1;
	}
	if (p_pid == 0) {
		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0))
			_exit(1);
		c_pid = fork();
		if (c_pid == 0) {
			c_pid = getpid();
			if (prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0))
				_exit(1);
			if (write(p[1], &c_pid, sizeof(c_pid)) < 0)
				_exit(1);
			close(p[1]);
			_exit(task_c());
		}
		close(p[1]);
		test_waitsig();
		/* P exits now: C's parent-death signal fires. */
		_exit(check_pdeath("P", SIGUSR2));
	}
	close(p[1]);
	/* C tells its pid; the end of the pipe: P and C have closed it. */
	if (read(p[0], &c_pid, sizeof(c_pid)) != sizeof(c_pid) ||
	    read(p[0], &c, 1) != 0) {
		pr_err("the tree was not built\n");
		goto err;
	}
	close(p[0]);
	if (check_tree("set-up"))
		goto err;

	test_daemon();
	test_waitsig();

	errs = check_tree("restored");
	if (kill(p_pid, SIGTERM)) {
		pr_perror("can't terminate P");
		goto err;
	}
	errs += reap(p_pid, "P");
	/* P is gone: C had its SIGUSR1 then and is ours now. */
	if (kill(c_pid, SIGTERM)) {
		pr_perror("can't terminate C");
		goto err;
	}
	errs += reap(c_pid, "C");
	if (errs) {
		fail("%d differences (see above)", errs);
		return 1;
	}
	pass();
	return 0;
err:
	if (c_pid > 0)
		kill(c_pid, SIGKILL);
	kill(p_pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	return 1;
}
