// SPDX-License-Identifier: GPL-2.0
/*
 * sigaltstack - the alternate signal stack stays set up: same address,
 * size and flags, and a handler installed with SA_ONSTACK runs on it.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"

static stack_t alt;
static volatile uintptr_t handler_sp;
static volatile int handler_flags;

static void usr1_handler(int signo)
{
	stack_t cur;
	int local;

	handler_sp = (uintptr_t)&local;
	handler_flags = sigaltstack(NULL, &cur) ? -1 : cur.ss_flags;
}

/* Raise SIGUSR1 and check the handler ran on the alternate stack. */
static int handler_on_altstack(const char *when)
{
	uintptr_t lo = (uintptr_t)alt.ss_sp, hi = lo + alt.ss_size;

	handler_sp = 0;
	handler_flags = 0;
	raise(SIGUSR1);
	if (handler_sp < lo || handler_sp >= hi) {
		fail("%s: the handler ran with sp %#lx, outside %#lx-%#lx",
		     when, (unsigned long)handler_sp, (unsigned long)lo,
		     (unsigned long)hi);
		return -1;
	}
	if (!(handler_flags & SS_ONSTACK)) {
		fail("%s: sigaltstack in the handler says flags %#x", when,
		     handler_flags);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = usr1_handler,
				.sa_flags = SA_ONSTACK };
	stack_t now;

	test_init(argc, argv);

	alt.ss_size = 64 * 1024;
	alt.ss_sp = mmap(NULL, alt.ss_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	alt.ss_flags = 0;
	if (alt.ss_sp == MAP_FAILED || sigaltstack(&alt, NULL)) {
		pr_perror("can't set up the alternate stack");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		pr_perror("sigaction");
		return 1;
	}
	if (handler_on_altstack("before"))
		return 1;

	test_daemon();
	test_waitsig();

	if (sigaltstack(NULL, &now)) {
		fail("sigaltstack");
		return 1;
	}
	if (now.ss_sp != alt.ss_sp || now.ss_size != alt.ss_size ||
	    now.ss_flags != 0) {
		fail("alternate stack is %p/%zu/%#x, expected %p/%zu/0",
		     now.ss_sp, now.ss_size, now.ss_flags, alt.ss_sp,
		     alt.ss_size);
		return 1;
	}
	if (handler_on_altstack("after"))
		return 1;
	pass();
	return 0;
}
