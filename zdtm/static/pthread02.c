// SPDX-License-Identifier: GPL-2.0
/*
 * pthread02 - a process whose main thread has exited (pthread_exit) while
 * its other threads live on: the leader stays a zombie thread, the others
 * come back with their TIDs, TLS, signal masks, alternate stacks and
 * names, and the process still gets a SIGTERM sent to its pid.
 *
 * The process with the dead leader is the test's child: the runner wants
 * the test's own main thread alive.  The thread of the child that takes
 * over says it is ready once the leader is gone, so that the checkpoint
 * sees the child as it will stay.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "thread_state.h"

static pid_t leader;
/* Shared with the child: it is set up and its leader is gone. */
static volatile int *child_ready;
static volatile int sleeper_ready;
static volatile int sleeper_stop;
static struct thread_state sleeper_st;
static char sleeper_why[256];
static int sleeper_failed;

/* The state letter of the leader thread in /proc/self/task/PID/stat. */
static char leader_state(void)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", leader);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Blocks SIGTERM, sleeps on a futex until asked to check itself. */
static void *sleeper_fn(void *arg)
{
	if (thread_state_setup(&sleeper_st, 2)) {
		snprintf(sleeper_why, sizeof(sleeper_why), "sleeper: set-up");
		sleeper_failed = 1;
	}
	task_count_up(&sleeper_ready);
	task_wait_at_least(&sleeper_stop, 1);
	if (!sleeper_failed &&
	    thread_state_check(&sleeper_st, 2, sleeper_why,
			       sizeof(sleeper_why)))
		sleeper_failed = 1;
	return NULL;
}

/* Takes the runner's SIGTERM once the leader is gone. */
static void *heir_fn(void *arg)
{
	struct thread_state st;
	pthread_t sleeper;
	sigset_t term;
	char why[256];
	int i;

	if (thread_state_setup(&st, 1))
		exit(1);
	/* The heir, unlike other threads, is the one that takes SIGTERM. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &st.mask);

	if (pthread_create(&sleeper, NULL, sleeper_fn, NULL)) {
		pr_err("can't create the sleeper thread\n");
		exit(1);
	}
	task_wait_at_least(&sleeper_ready, 1);

	for (i = 0; leader_state() != 'Z'; i++) {
		if (i > 5000) {
			pr_err("the leader thread did not exit (state %c)\n",
			       leader_state());
			exit(1);
		}
		usleep(1000);
	}

	task_set_word(child_ready, 1);
	test_waitsig();

	if (thread_state_check(&st, 1, why, sizeof(why))) {
		fail("%s", why);
		exit(1);
	}
	if (leader_state() != 'Z') {
		fail("the leader thread %d is in state %c, not a zombie",
		     leader, leader_state());
		exit(1);
	}
	if (getpid() != leader) {
		fail("pid changed from %d to %d", leader, getpid());
		exit(1);
	}
	task_set_word(&sleeper_stop, 1);
	pthread_join(sleeper, NULL);
	if (sleeper_failed) {
		fail("%s", sleeper_why);
		exit(1);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	pthread_t heir;
	pid_t child;

	test_init(argc, argv);
	if (thread_state_init()) {
		pr_perror("can't set the SIGUSR1 handler");
		return 1;
	}
	child_ready = task_fork_shared(&child);
	if (!child_ready)
		return 1;
	if (child == 0) {
		leader = getpid();
		/*
		 * Die with the test: a process with a zombie leader is not
		 * found among the live tasks of its session by the runner,
		 * which could not clean it up after a failure.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) {
			pr_perror("PR_SET_PDEATHSIG");
			exit(1);
		}
		if (pthread_create(&heir, NULL, heir_fn, NULL)) {
			pr_err("can't create a thread\n");
			exit(1);
		}
		pthread_exit(NULL);
	}

	if (task_wait_at_least_ms(child_ready, 1, 10000)) {
		pr_err("the child did not get ready\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	return task_end_with_child(child, "child with a dead leader", true);
}
