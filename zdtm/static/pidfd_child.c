// SPDX-License-Identifier: GPL-2.0
/*
 * pidfd_child - a pidfd of a child still refers to that child after a
 * checkpoint, and waitid(P_PIDFD) reaps it with its exit status.
 *
 * The test forks a worker and opens a pidfd of it (PIDFD_NONBLOCK), then
 * forks a watcher, which inherits that pidfd: the description is held by
 * two processes.  The test also holds a second, separate pidfd of the
 * worker.  After the restore:
 *  - the watcher's pidfd names the worker (fdinfo), and a signal 0 sent
 *    through it succeeds; the watcher exits 0 when so;
 *  - the test's pidfds name the worker, with the same flags;
 *  - the worker is told to exit with WORKER_EXIT; the first pidfd turns
 *    readable (poll) and waitid(P_PIDFD) on it, non-blocking, reaps it: si_pid is the worker, si_status WORKER_EXIT;
 *  - the second pidfd then reports the worker gone (ESRCH to a signal);
 *  - a pidfd of a zombie (a child that exited with ZOMBIE_EXIT, not
 *    reaped before the checkpoint) is readable, and waitid(P_PIDFD) on it
 *    reaps that child with its status.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define WORKER_EXIT 17
#define ZOMBIE_EXIT 9

struct shared {
	int ready;
	int go;		/* 1: the watcher checks; 2: the worker exits */
};

static int pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
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

static int check_pidfd(int fd, pid_t worker, long want_flags,
		       const char *what)
{
	long pid = 0, flags = 0;

	if (pidfd_info(fd, &pid, &flags)) {
		fail("%s: no Pid:/flags: in its fdinfo", what);
		return -1;
	}
	if (pid != worker || flags != want_flags) {
		fail("%s refers to pid %ld flags %lo, it was %d flags %lo",
		     what, pid, flags, worker, want_flags);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long pid, shared_flags, own_flags;
	pid_t worker, watcher;
	struct shared *sh;
	struct pollfd pfd;
	int shared, own, status, zfd;
	siginfo_t si = { 0 };
	pid_t zombie;

	test_init(argc, argv);
	sh = task_shared_page();
	if (!sh)
		return 1;
	worker = task_fork();
	if (worker < 0)
		return 1;
	if (worker == 0) {
		task_wait_at_least(&sh->go, 2);
		exit(WORKER_EXIT);
	}
	shared = pidfd_open(worker, PIDFD_NONBLOCK);
	own = pidfd_open(worker, 0);
	if (shared < 0 || own < 0 || pidfd_info(shared, &pid, &shared_flags) ||
	    pidfd_info(own, &pid, &own_flags)) {
		pr_perror("pidfd_open");
		task_kill_child(worker);
		return 1;
	}
	watcher = task_fork();
	if (watcher < 0) {
		task_kill_child(worker);
		return 1;
	}
	if (watcher == 0) {
		close(own);
		task_set_word(&sh->ready, 1);
		task_wait_at_least(&sh->go, 1);
		if (check_pidfd(shared, worker, shared_flags,
				"the watcher's pidfd"))
			exit(2);
		if (pidfd_send_signal(shared, 0)) {
			fail("signal 0 through the watcher's pidfd");
			exit(3);
		}
		exit(0);
	}
	task_wait_at_least(&sh->ready, 1);
	zombie = task_fork();
	if (zombie == 0)
		exit(ZOMBIE_EXIT);
	zfd = zombie < 0 ? -1 : pidfd_open(zombie, 0);
	if (zfd < 0 || waitid(P_PID, zombie, &si, WEXITED | WNOWAIT)) {
		pr_perror("zombie");
		task_kill_child(worker);
		task_kill_child(watcher);
		return 1;
	}

	test_daemon();
	test_waitsig();

	task_set_word(&sh->go, 1);
	if (task_reap_ms(watcher, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the watcher failed (status %#x)", status);
		task_kill_child(worker);
		return 1;
	}
	if (check_pidfd(shared, worker, shared_flags, "the shared pidfd") ||
	    check_pidfd(own, worker, own_flags, "the own pidfd")) {
		task_kill_child(worker);
		return 1;
	}
	pfd.fd = own;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) != 0) {
		fail("the pidfd says the worker exited, it runs");
		task_kill_child(worker);
		return 1;
	}
	task_set_word(&sh->go, 2);
	/* The shared pidfd is PIDFD_NONBLOCK: wait until it is readable. */
	pfd.fd = shared;
	if (poll(&pfd, 1, 10000) != 1) {
		fail("the pidfd never said the worker exited");
		task_kill_child(worker);
		return 1;
	}
	if (waitid(P_PIDFD, shared, &si, WEXITED)) {
		fail("waitid(P_PIDFD)");
		task_kill_child(worker);
		return 1;
	}
	if (si.si_pid != worker || si.si_code != CLD_EXITED ||
	    si.si_status != WORKER_EXIT) {
		fail("waitid(P_PIDFD) reaped pid %d (code %d status %d), "
		     "expected %d exiting with %d", si.si_pid, si.si_code,
		     si.si_status, worker, WORKER_EXIT);
		return 1;
	}
	if (pidfd_send_signal(own, 0) == 0 || errno != ESRCH) {
		fail("the other pidfd still reaches a process");
		return 1;
	}
	pfd.fd = zfd;
	memset(&si, 0, sizeof(si));
	if (poll(&pfd, 1, 0) != 1 || waitid(P_PIDFD, zfd, &si, WEXITED) ||
	    si.si_pid != zombie || si.si_code != CLD_EXITED ||
	    si.si_status != ZOMBIE_EXIT) {
		fail("the zombie's pidfd reaped pid %d (code %d status %d), "
		     "expected %d with %d", si.si_pid, si.si_code, si.si_status,
		     zombie, ZOMBIE_EXIT);
		return 1;
	}
	pass();
	return 0;
}
