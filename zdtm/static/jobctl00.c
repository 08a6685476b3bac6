// SPDX-License-Identifier: GPL-2.0
/*
 * jobctl00 - job control: the test is a "shell" with jobs, each a process
 * group of several tasks (a leader with children, or a pipeline of
 * siblings).  Jobs stopped with SIGTSTP, SIGSTOP, SIGTTIN or SIGTTOU sent
 * to the whole group are checkpointed in group stop, one job runs in the
 * background.  After the restore every task of a stopped job must still be
 * stopped (state T); continued with SIGCONT to the group, each must run
 * again, and the shell must be told (waitid(WCONTINUED)) of its children
 * that did.
 */
#include <signal.h>
#include <sys/wait.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },				/* 0: the shell */
	{ .parent = 0, .flags = TT_SETPGID },		/* 1: job A */
	{ .parent = 1 },				/* 2 */
	{ .parent = 1 },				/* 3 */
	{ .parent = 3 },				/* 4 */
	{ .parent = 0, .flags = TT_SETPGID },		/* 5: job B */
	{ .parent = 5 },				/* 6 */
	{ .parent = 0, .flags = TT_SETPGID },		/* 7: job C, runs */
	{ .parent = 7 },				/* 8 */
	{ .parent = 0, .flags = TT_SETPGID },		/* 9: job D, a */
	{ .parent = 0, .flags = TT_JOIN, .join = 9 },	/* 10: pipeline */
	{ .parent = 0, .flags = TT_JOIN, .join = 9 },	/* 11 */
	{ .parent = 0, .flags = TT_SETPGID },		/* 12: job E */
};

#define NTASKS ((int)(sizeof(tab) / sizeof(tab[0])))

static const struct job {
	int leader;
	int sig;		/* 0: runs in the background */
} jobs[] = {
	{ 1, SIGTSTP },
	{ 5, SIGSTOP },
	{ 7, 0 },
	{ 9, SIGTTOU },
	{ 12, SIGTTIN },
};

#define NJOBS ((int)(sizeof(jobs) / sizeof(jobs[0])))

static bool in_job(int i, const struct job *j)
{
	return i && tab[i].pgid == tab[j->leader].pgid;
}

/* Mark the tasks of the stopped jobs: they must be in state T. */
static void mark_stopped(bool stopped)
{
	int i, j;

	for (j = 0; j < NJOBS; j++)
		for (i = 1; i < NTASKS; i++) {
			if (!jobs[j].sig || !in_job(i, &jobs[j]))
				continue;
			if (stopped)
				tab[i].flags |= TT_STOP;
			else
				tab[i].flags &= ~TT_STOP;
		}
}

static int continue_jobs(void)
{
	siginfo_t info;
	int i, j, errs = 0;

	for (j = 0; j < NJOBS; j++) {
		if (!jobs[j].sig)
			continue;
		if (kill(-tab[jobs[j].leader].pgid, SIGCONT)) {
			pr_perror("can't continue job %d", jobs[j].leader);
			return 1;
		}
	}
	for (i = 1; i < NTASKS; i++) {
		if (!(tab[i].flags & TT_STOP))
			continue;
		if (tt_wait_state(tab[i].pid, "RSD", 5000)) {
			pr_err("task %d (pid %d) did not run again after SIGCONT\n",
			       i, tab[i].pid);
			errs++;
			continue;
		}
		if (tab[i].parent)
			continue;
		/* The shell hears of its children that were continued. */
		info.si_pid = 0;
		if (waitid(P_PID, tab[i].pid, &info, WCONTINUED | WNOHANG) ||
		    info.si_pid != tab[i].pid || info.si_code != CLD_CONTINUED) {
			pr_err("no CLD_CONTINUED for task %d (pid %d): si_pid %d si_code %d\n",
			       i, tab[i].pid, info.si_pid, info.si_code);
			errs++;
		}
	}
	return errs;
}

int main(int argc, char **argv)
{
	int j, errs;

	test_init(argc, argv);
	if (tt_create(tab, NTASKS))
		return 1;

	for (j = 0; j < NJOBS; j++) {
		if (!jobs[j].sig)
			continue;
		if (kill(-tab[jobs[j].leader].pgid, jobs[j].sig)) {
			pr_perror("can't stop job %d", jobs[j].leader);
			tt_kill(tab, NTASKS);
			return 1;
		}
	}
	mark_stopped(true);
	if (tt_settle(tab, NTASKS) || tt_verify(tab, NTASKS, "set-up")) {
		tt_kill(tab, NTASKS);
		return 1;
	}

	test_daemon();
	test_waitsig();

	errs = tt_verify(tab, NTASKS, "restored");
	errs += continue_jobs();
	mark_stopped(false);
	errs += tt_verify(tab, NTASKS, "continued");
	errs += tt_finish(tab, NTASKS);
	if (errs) {
		fail("%d differences in the jobs (see above)", errs);
		return 1;
	}
	pass();
	return 0;
}
