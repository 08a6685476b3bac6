// SPDX-License-Identifier: GPL-2.0
/*
 * sleeping00 - a task asleep in a system call survives a checkpoint and
 * wakes up when signalled, with its pid unchanged.
 *
 * The task is checkpointed inside FUTEX_WAIT without a timeout, which the
 * kernel restarts after a stop (-ERESTARTSYS).  The restored task must
 * re-enter the call as the kernel would have: were the interrupted call's
 * kernel-internal return value handed back instead, the wait would fail
 * with an errno no system call may return to user space (512).
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	volatile int *stop;
	pid_t pid, sid;
	long ret;

	test_init(argc, argv);
	pid = getpid();
	sid = getsid(0);
	stop = test_stop_word();

	test_daemon();

	/*
	 * FUTEX_WAIT compares and sleeps atomically: a SIGTERM before the
	 * call makes it return EAGAIN, one during it EINTR.
	 */
	while (!*stop) {
		ret = syscall(SYS_futex, stop, FUTEX_WAIT_PRIVATE, 0, NULL,
			      NULL, 0);
		if (ret && errno != EINTR && errno != EAGAIN) {
			fail("the interrupted wait returned errno %d", errno);
			return 1;
		}
	}

	if (getpid() != pid) {
		fail("pid changed from %d to %d", pid, getpid());
		return 1;
	}
	if (getsid(0) != sid) {
		fail("session changed from %d to %d", sid, getsid(0));
		return 1;
	}
	pass();
	return 0;
}
