/* SPDX-License-Identifier: GPL-2.0 */
/*
 * thread_state.h - what makes a thread itself, recorded before a checkpoint
 * and checked after it: its TID, pthread_self(), its TLS (address and
 * values), its signal mask, its alternate signal stack (and that handlers
 * still run on it) and its name.  For the pthread tests; link with
 * -lpthread.
 *
 * Each thread calls thread_state_setup(st, idx) itself with its own index
 * (the main thread keeps SIGTERM unblocked for the runner, all others block
 * it), and later thread_state_check(st, idx, why).
 */
#ifndef ZDTM_THREAD_STATE_H
#define ZDTM_THREAD_STATE_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zdtmtst.h"

#define TS_NTLS		16
#define TS_ALTSTACK	(64 * 1024)
#define TS_NSIG		64

struct thread_state {
	pid_t tid;
	pthread_t self;
	sigset_t mask;
	stack_t alt;
	void *tls_addr;
	char comm[16];
};

static __thread uint64_t ts_tls[TS_NTLS];
static __thread volatile uintptr_t ts_handler_sp;
static __thread volatile int ts_handler_hits;

static void ts_onstack_handler(int signo)
{
	volatile int here;

	ts_handler_sp = (uintptr_t)&here;
	ts_handler_hits++;
}

/* Signals a test thread may block: not the runner's, libc's or SIGUSR1. */
static inline int ts_maskable(int sig)
{
	return sig != SIGKILL && sig != SIGSTOP && sig != SIGTERM &&
	       sig != SIGUSR1 && (sig < 32 || sig >= SIGRTMIN);
}

static inline uint64_t ts_tls_value(int idx, int i)
{
	return 0x5a5a000000000000ULL ^ ((uint64_t)idx << 32) ^
	       (uint64_t)(i * 2654435761U);
}

/* Install the SA_ONSTACK handler (process-wide: once, by the main thread). */
static inline int thread_state_init(void)
{
	struct sigaction sa = { .sa_handler = ts_onstack_handler,
				.sa_flags = SA_ONSTACK };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL);
}

static inline int thread_state_setup(struct thread_state *st, int idx)
{
	sigset_t mask;
	stack_t ss;
	void *stk;
	int i;

	for (i = 0; i < TS_NTLS; i++)
		ts_tls[i] = ts_tls_value(idx, i);

	sigemptyset(&mask);
	for (i = 1; i <= TS_NSIG; i++)
		if (ts_maskable(i) && (i + idx) % 3 == 0)
			sigaddset(&mask, i);
	if (gettid() != getpid())
		sigaddset(&mask, SIGTERM);
	if (pthread_sigmask(SIG_SETMASK, &mask, NULL)) {
		pr_err("thread %d: can't set the signal mask\n", idx);
		return -1;
	}

	stk = mmap(NULL, TS_ALTSTACK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stk == MAP_FAILED) {
		pr_perror("thread %d: can't map an alternate stack", idx);
		return -1;
	}
	ss.ss_sp = stk;
	ss.ss_size = TS_ALTSTACK - 4096 * (idx % 4);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL)) {
		pr_perror("thread %d: sigaltstack", idx);
		return -1;
	}
	snprintf(st->comm, sizeof(st->comm), "zt-%d-%d", getpid() % 1000, idx);
	if (prctl(PR_SET_NAME, st->comm, 0, 0, 0)) {
		pr_perror("thread %d: PR_SET_NAME", idx);
		return -1;
	}

	st->tid = gettid();
	st->self = pthread_self();
	pthread_sigmask(SIG_SETMASK, NULL, &st->mask);
	sigaltstack(NULL, &st->alt);
	st->tls_addr = ts_tls;
	return 0;
}

/* 0 if the calling thread is still the one st describes, else -1 and why. */
static inline int thread_state_check(const struct thread_state *st, int idx,
				     char *why, size_t len)
{
	char comm[16] = "";
	sigset_t mask;
	stack_t ss;
	int i;

	if (gettid() != st->tid) {
		snprintf(why, len, "thread %d: tid %d, expected %d", idx,
			 gettid(), st->tid);
		return -1;
	}
	if (!pthread_equal(pthread_self(), st->self)) {
		snprintf(why, len, "thread %d: pthread_self changed", idx);
		return -1;
	}
	if ((void *)ts_tls != st->tls_addr) {
		snprintf(why, len, "thread %d: TLS moved from %p to %p", idx,
			 st->tls_addr, (void *)ts_tls);
		return -1;
	}
	for (i = 0; i < TS_NTLS; i++)
		if (ts_tls[i] != ts_tls_value(idx, i)) {
			snprintf(why, len, "thread %d: TLS[%d] is %#llx, "
				 "expected %#llx", idx, i,
				 (unsigned long long)ts_tls[i],
				 (unsigned long long)ts_tls_value(idx, i));
			return -1;
		}
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	for (i = 1; i <= TS_NSIG; i++) {
		if (i >= 32 && i < SIGRTMIN)
			continue;
		if (sigismember(&mask, i) != sigismember(&st->mask, i)) {
			snprintf(why, len, "thread %d: signal %d is %sblocked",
				 idx, i, sigismember(&mask, i) ? "" : "not ");
			return -1;
		}
	}
	sigaltstack(NULL, &ss);
	if (ss.ss_sp != st->alt.ss_sp || ss.ss_size != st->alt.ss_size ||
	    ss.ss_flags != st->alt.ss_flags) {
		snprintf(why, len, "thread %d: alternate stack %p/%zu/%d, "
			 "expected %p/%zu/%d", idx, ss.ss_sp, ss.ss_size,
			 ss.ss_flags, st->alt.ss_sp, st->alt.ss_size,
			 st->alt.ss_flags);
		return -1;
	}
	if (prctl(PR_GET_NAME, comm, 0, 0, 0) || strcmp(comm, st->comm)) {
		snprintf(why, len, "thread %d: name \"%s\", expected \"%s\"",
			 idx, comm, st->comm);
		return -1;
	}
	/* The alternate stack is really used, by this thread's handler. */
	ts_handler_hits = 0;
	pthread_kill(pthread_self(), SIGUSR1);
	if (ts_handler_hits != 1) {
		snprintf(why, len, "thread %d: SIGUSR1 handler ran %d times",
			 idx, ts_handler_hits);
		return -1;
	}
	if (ts_handler_sp < (uintptr_t)ss.ss_sp ||
	    ts_handler_sp >= (uintptr_t)ss.ss_sp + ss.ss_size) {
		snprintf(why, len, "thread %d: handler ran at %#lx, outside "
			 "the alternate stack", idx,
			 (unsigned long)ts_handler_sp);
		return -1;
	}
	return 0;
}

#endif /* ZDTM_THREAD_STATE_H */
