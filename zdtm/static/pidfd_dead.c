// SPDX-License-Identifier: GPL-2.0
/*
 * pidfd_dead - pidfds of a child that exited and was reaped before the
 * checkpoint stay pidfds of a dead process.
 *
 * The test forks a child, opens two pidfds of it (two descriptions, the
 * first PIDFD_NONBLOCK) and a dup of the first, then kills the child and
 * reaps it.  After the
 * restore, for every fd:
 *  - fdinfo says "Pid: -1" and the flags are those it had;
 *  - poll() says readable at once (the process has exited);
 *  - pidfd_send_signal() fails with ESRCH;
 *  - waitid(P_PIDFD) finds no child to reap (ECHILD);
 * both descriptions still refer to one process (pidfs, Linux 6.9+: the
 * same inode, as before the checkpoint), and the dup still shares its
 * description with the first fd (O_NONBLOCK set through one shows
 * through the other), the second one does not.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

/* "Pid:" and "flags:" of a pidfd's fdinfo; -1 if unreadable. */
static int pidfd_info(int fd, long *pid, long *flags)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Pid: %ld", pid) == 1)
			got |= 1;
		else if (sscanf(line, "flags: %lo", flags) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

static int check_dead(int fd, long want_flags, const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	siginfo_t si = { 0 };
	long pid = 0, flags = 0;

	if (pidfd_info(fd, &pid, &flags)) {
		fail("%s: no Pid:/flags: in its fdinfo", what);
		return -1;
	}
	if (pid != -1 || flags != want_flags) {
		fail("%s: Pid: %ld flags %lo, it was Pid: -1 flags %lo", what,
		     pid, flags, want_flags);
		return -1;
	}
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN)) {
		fail("%s: poll does not say the process exited (revents %#x)",
		     what, pfd.revents);
		return -1;
	}
	errno = 0;
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0 ||
	    errno != ESRCH) {
		fail("%s: pidfd_send_signal did not fail with ESRCH", what);
		return -1;
	}
	errno = 0;
	if (waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 ||
	    errno != ECHILD) {
		fail("%s: waitid(P_PIDFD) found a child (pid %d)", what,
		     si.si_pid);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long pid, first_flags, second_flags, dup_flags;
	int first, second, dup_fd, fl, one_inode;
	struct stat st1, st2;
	pid_t child;

	test_init(argc, argv);
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		pause();
		exit(0);
	}
	first = pidfd_open(child, PIDFD_NONBLOCK);
	second = pidfd_open(child, 0);
	dup_fd = dup(first);
	if (first < 0 || second < 0 || dup_fd < 0) {
		pr_perror("pidfd_open");
		task_kill_child(child);
		return 1;
	}
	task_kill_child(child);
	if (pidfd_info(first, &pid, &first_flags) ||
	    pidfd_info(dup_fd, &pid, &dup_flags) ||
	    pidfd_info(second, &pid, &second_flags) || pid != -1) {
		pr_err("the child's pidfds do not say Pid: -1 (%ld)\n", pid);
		return 1;
	}

	if (fstat(first, &st1) || fstat(second, &st2)) {
		pr_perror("fstat");
		return 1;
	}
	one_inode = st1.st_ino == st2.st_ino;

	test_daemon();
	test_waitsig();

	if (check_dead(first, first_flags, "the first pidfd") ||
	    check_dead(dup_fd, dup_flags, "its dup") ||
	    check_dead(second, second_flags, "the second pidfd"))
		return 1;
	if (fstat(first, &st1) || fstat(second, &st2) ||
	    (one_inode && st1.st_ino != st2.st_ino)) {
		fail("the two pidfds refer to two processes now");
		return 1;
	}
	fl = fcntl(dup_fd, F_GETFL);
	if (fl < 0 || fcntl(dup_fd, F_SETFL, fl & ~O_NONBLOCK) ||
	    (fcntl(first, F_GETFL) & O_NONBLOCK)) {
		fail("the dup and the first pidfd are no longer one description");
		return 1;
	}
	fl = fcntl(second, F_GETFL);
	if (fcntl(second, F_SETFL, fl | O_NONBLOCK) ||
	    (fcntl(first, F_GETFL) & O_NONBLOCK)) {
		fail("the second pidfd shares its description with the first");
		return 1;
	}
	pass();
	return 0;
}
