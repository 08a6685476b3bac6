// SPDX-License-Identifier: GPL-2.0
/*
 * sleeping00 - a task asleep in a system call survives a checkpoint and
 * wakes up when signalled, with its pid unchanged.
 */
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	pid_t pid, sid;

	test_init(argc, argv);
	pid = getpid();
	sid = getsid(0);

	test_daemon();
	test_waitsig();

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
