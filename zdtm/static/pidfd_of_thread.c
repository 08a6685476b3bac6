// SPDX-License-Identifier: GPL-2.0
/*
 * pidfd_of_thread - a pidfd of a thread other than the leader
 * (PIDFD_THREAD, Linux 6.9+).
 *
 * criu refuses to dump it (crfail): threads are made after the fds on
 * restore, so no pidfd of one could be opened then.  The refused dump
 * must leave the test running with its pidfd intact: afterwards a signal
 * sent through it with PIDFD_SIGNAL_THREAD reaches that thread, which
 * waits for it with sigwait() (every thread blocks it), and the pidfd's
 * fdinfo still names the thread.  Without PIDFD_THREAD the test skips.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PIDFD_SIGNAL_THREAD
#define PIDFD_SIGNAL_THREAD 1
#endif

static volatile int tid, got;

static void *thread_main(void *arg)
{
	sigset_t set;
	int sig;

	task_block_sigterm();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	task_set_word(&tid, syscall(SYS_gettid));
	if (sigwait(&set, &sig) == 0 && sig == SIGUSR1)
		task_set_word(&got, 1);
	return NULL;
}

/* "Pid:" of a pidfd's fdinfo; 0 if unreadable. */
static long pidfd_target(int fd)
{
	char path[64], line[256];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

int main(int argc, char **argv)
{
	pthread_t th;
	sigset_t set;
	int pidfd;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&th, NULL, thread_main, NULL)) {
		pr_perror("pthread_create");
		return 1;
	}
	task_wait_at_least(&tid, 1);
	pidfd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (pidfd < 0) {
		test_daemon();
		test_waitsig();
		skip("no PIDFD_THREAD (errno %d)", errno);
		return 0;
	}

	test_daemon();
	test_waitsig();

	if (pidfd_target(pidfd) != tid) {
		fail("the pidfd names %ld, not thread %d", pidfd_target(pidfd),
		     tid);
		return 1;
	}
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL,
		    PIDFD_SIGNAL_THREAD)) {
		fail("pidfd_send_signal(PIDFD_SIGNAL_THREAD)");
		return 1;
	}
	if (task_wait_at_least_ms(&got, 1, 5000)) {
		fail("thread %d did not get the signal sent through its pidfd",
		     tid);
		return 1;
	}
	pthread_join(th, NULL);
	pass();
	return 0;
}
