// SPDX-License-Identifier: GPL-2.0
/*
 * sigaltstack - the alternate signal stack stays set up: same address,
 * size and flags, and a handler installed with SA_ONSTACK runs on it.
 *
 * The checkpoint is taken while the task is inside such a handler, on the
 * alternate stack: after the restore the handler must still see itself on
 * it (SS_ONSTACK), and returning from the handler must bring back the
 * interrupted context from the signal frame kept on that stack.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"

static stack_t alt;
static volatile uintptr_t handler_sp;
static volatile int handler_flags;
static volatile int wait_in_handler;
static volatile uintptr_t restored_sp;
static volatile int restored_flags;

static void usr1_handler(int signo)
{
	stack_t cur;
	int local;

	handler_sp = (uintptr_t)&local;
	handler_flags = sigaltstack(NULL, &cur) ? -1 : cur.ss_flags;
	if (!wait_in_handler)
		return;

	/* Checkpointed here, on the alternate stack. */
	test_daemon();
	test_waitsig();

	restored_sp = (uintptr_t)&local;
	restored_flags = sigaltstack(NULL, &cur) ? -1 : cur.ss_flags;
}

static int on_altstack(uintptr_t sp)
{
	return sp >= (uintptr_t)alt.ss_sp &&
	       sp < (uintptr_t)alt.ss_sp + alt.ss_size;
}

/* Raise SIGUSR1 and check the handler ran on the alternate stack. */
static int handler_on_altstack(const char *when)
{
	handler_sp = 0;
	handler_flags = 0;
	raise(SIGUSR1);
	if (!on_altstack(handler_sp)) {
		fail("%s: the handler ran with sp %#lx, outside %p+%#zx", when,
		     (unsigned long)handler_sp, alt.ss_sp, alt.ss_size);
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
	volatile int live_marker;
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

	/* The handler waits for the checkpoint; it returns after SIGTERM. */
	live_marker = 0x5a17;
	wait_in_handler = 1;
	raise(SIGUSR1);
	wait_in_handler = 0;

	if (!on_altstack(restored_sp) || restored_sp != handler_sp) {
		fail("after restore the handler's frame is at %#lx, was %#lx",
		     (unsigned long)restored_sp, (unsigned long)handler_sp);
		return 1;
	}
	if (!(restored_flags & SS_ONSTACK)) {
		fail("after restore the handler is not on the alternate stack "
		     "(flags %#x)", restored_flags);
		return 1;
	}
	if (live_marker != 0x5a17) {
		fail("the context interrupted by the handler came back wrong");
		return 1;
	}

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
