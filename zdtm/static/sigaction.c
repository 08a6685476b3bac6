// SPDX-License-Identifier: GPL-2.0
/*
 * sigaction - signal actions (handler, flags, mask) of every signal and
 * the blocked mask come back as they were, and handlers still run with
 * their flags in effect.
 */
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"

#define NSIG_KERNEL 64

static volatile int hits[NSIG_KERNEL + 1];
static volatile int info_code;

static void plain_handler(int signo)
{
	hits[signo]++;
}

static void info_handler(int signo, siginfo_t *info, void *uc)
{
	hits[signo]++;
	info_code = info->si_code;
}

/* Signals the test must leave alone: uncatchable, the runner's, libc's. */
static int untouchable(int sig)
{
	return sig == SIGKILL || sig == SIGSTOP || sig == SIGTERM ||
	       (sig >= 32 && sig < SIGRTMIN);
}

static void set_mask_for(int sig, sigset_t *mask)
{
	int k;

	sigemptyset(mask);
	for (k = 1; k <= NSIG_KERNEL; k++)
		if (!untouchable(k) && (k * 7 + sig) % 5 == 0)
			sigaddset(mask, k);
}

static int same_mask(const sigset_t *a, const sigset_t *b)
{
	int k;

	for (k = 1; k <= NSIG_KERNEL; k++)
		if (!untouchable(k) && sigismember(a, k) != sigismember(b, k))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction before[NSIG_KERNEL + 1], now;
	sigset_t blocked, blocked_now;
	int sig;

	test_init(argc, argv);

	for (sig = 1; sig <= NSIG_KERNEL; sig++) {
		struct sigaction sa = {};

		if (untouchable(sig))
			continue;
		switch (sig % 4) {
		case 0:
			sa.sa_handler = plain_handler;
			sa.sa_flags = SA_RESTART;
			break;
		case 1:
			sa.sa_sigaction = info_handler;
			sa.sa_flags = SA_SIGINFO | SA_NODEFER;
			break;
		case 2:
			sa.sa_handler = SIG_IGN;
			break;
		case 3:
			sa.sa_handler = plain_handler;
			sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
			break;
		}
		set_mask_for(sig, &sa.sa_mask);
		if (sigaction(sig, &sa, NULL)) {
			pr_perror("sigaction(%d)", sig);
			return 1;
		}
	}
	for (sig = 1; sig <= NSIG_KERNEL; sig++)
		if (!untouchable(sig) && sigaction(sig, NULL, &before[sig])) {
			pr_perror("sigaction(%d) read", sig);
			return 1;
		}

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGRTMIN + 3);
	sigaddset(&blocked, SIGRTMAX);
	if (sigprocmask(SIG_SETMASK, &blocked, NULL)) {
		pr_perror("sigprocmask");
		return 1;
	}
	sigprocmask(SIG_SETMASK, NULL, &blocked);

	test_daemon();
	test_waitsig();

	for (sig = 1; sig <= NSIG_KERNEL; sig++) {
		if (untouchable(sig))
			continue;
		if (sigaction(sig, NULL, &now)) {
			fail("sigaction(%d)", sig);
			return 1;
		}
		if (now.sa_handler != before[sig].sa_handler) {
			fail("signal %d: handler %p, expected %p", sig,
			     now.sa_handler, before[sig].sa_handler);
			return 1;
		}
		if (now.sa_flags != before[sig].sa_flags) {
			fail("signal %d: flags %#x, expected %#x", sig,
			     now.sa_flags, before[sig].sa_flags);
			return 1;
		}
		if (!same_mask(&now.sa_mask, &before[sig].sa_mask)) {
			fail("signal %d: the handler's mask changed", sig);
			return 1;
		}
	}
	sigprocmask(SIG_SETMASK, NULL, &blocked_now);
	if (!same_mask(&blocked, &blocked_now)) {
		fail("the blocked mask changed");
		return 1;
	}

	/* Handlers run, with their flags: the action of a signal is sig % 4. */
	raise(SIGURG);		/* 23: SA_RESETHAND, then default */
	raise(SIGPIPE);		/* 13: SA_SIGINFO */
	raise(SIGWINCH);	/* 28: plain, SA_RESTART */
	raise(SIGUSR1);		/* 10: ignored */
	if (hits[SIGURG] != 1 || hits[SIGPIPE] != 1 ||
	    hits[SIGWINCH] != 1 || hits[SIGUSR1] != 0) {
		fail("handlers ran %d/%d/%d/%d times, expected 1/1/1/0",
		     hits[SIGURG], hits[SIGPIPE], hits[SIGWINCH],
		     hits[SIGUSR1]);
		return 1;
	}
	if (info_code != SI_TKILL) {
		fail("SA_SIGINFO handler got si_code %d, expected SI_TKILL",
		     info_code);
		return 1;
	}
	if (sigaction(SIGURG, NULL, &now) || now.sa_handler != SIG_DFL) {
		fail("SA_RESETHAND did not reset the SIGURG action");
		return 1;
	}
	pass();
	return 0;
}
