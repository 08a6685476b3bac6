// SPDX-License-Identifier: GPL-2.0
/*
 * stopped - a child in group stop (SIGSTOP) is still stopped after the
 * restore, seen from the test (state T in /proc), and runs again, for good,
 * once the test sends it SIGCONT.
 *
 * The same source makes stopped01, stopped02 and stopped12, where more stop
 * signals are pending in the stopped child when it is checkpointed: one sent
 * with kill() (shared pending, ZDTM_STOPPED_KILL), one with tgkill()
 * (the thread's own pending, ZDTM_STOPPED_TKILL), and where the child is
 * stopped by SIGTSTP in a job of its own (ZDTM_STOPPED_TSTP).  These must
 * be pending still after the restore and, as SIGCONT discards pending stop
 * signals, must not stop the child again once it is continued.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

#ifdef ZDTM_STOPPED_TSTP
#define STOP_FLAGS	(TT_STOP | TT_SETPGID)
#define STOP_SIG	SIGTSTP
#else
#define STOP_FLAGS	TT_STOP
#define STOP_SIG	SIGSTOP
#endif

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0: the test */
	{ .parent = 0, .flags = STOP_FLAGS, .stopsig = STOP_SIG }, /* 1 */
	{ .parent = 1 },					/* 2: its child */
};

#define NTASKS ((int)(sizeof(tab) / sizeof(tab[0])))
#define STOPPED (tab[1].pid)

static int read_pending(unsigned long long *shared, unsigned long long *own)
{
	if (tt_status_mask(STOPPED, "ShdPnd", shared) ||
	    tt_status_mask(STOPPED, "SigPnd", own)) {
		pr_perror("can't read the pending signals of %d", STOPPED);
		return -1;
	}
	return 0;
}

static int check_pending(const char *when, unsigned long long shared,
			 unsigned long long own)
{
	unsigned long long now_shared, now_own;

	if (read_pending(&now_shared, &now_own))
		return 1;
	if (now_shared != shared || now_own != own) {
		pr_err("%s: pending signals shared %#llx own %#llx, expected %#llx %#llx\n",
		       when, now_shared, now_own, shared, own);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long shared = 0, own = 0;
	int errs;

	test_init(argc, argv);
	if (tt_create(tab, NTASKS))
		return 1;

#ifdef ZDTM_STOPPED_KILL
	if (kill(STOPPED, SIGSTOP)) {
		pr_perror("kill");
		goto err;
	}
	shared |= 1ULL << (SIGSTOP - 1);
#endif
#ifdef ZDTM_STOPPED_TKILL
	if (syscall(SYS_tgkill, STOPPED, STOPPED, SIGSTOP)) {
		pr_perror("tgkill");
		goto err;
	}
	own |= 1ULL << (SIGSTOP - 1);
#endif
	if (check_pending("set-up", shared, own) ||
	    tt_verify(tab, NTASKS, "set-up"))
		goto err;

	test_daemon();
	test_waitsig();

	errs = tt_verify(tab, NTASKS, "restored");
	errs += check_pending("restored", shared, own);

	if (kill(STOPPED, SIGCONT)) {
		pr_perror("can't continue %d", STOPPED);
		errs++;
	}
	if (tt_wait_state(STOPPED, "RSD", 5000)) {
		pr_err("%d did not run again after SIGCONT\n", STOPPED);
		errs++;
	}
	/* A stop signal left pending would stop it again: it must not. */
	usleep(100000);
	tab[1].flags &= ~TT_STOP;
	errs += tt_verify(tab, NTASKS, "continued");
	errs += check_pending("continued", 0, 0);

	errs += tt_finish(tab, NTASKS);
	if (errs) {
		fail("%d differences (see above)", errs);
		return 1;
	}
	pass();
	return 0;
err:
	tt_kill(tab, NTASKS);
	return 1;
}
