// SPDX-License-Identifier: GPL-2.0
/*
 * pthread00 - two processes with three threads each come back with every
 * thread alive and itself: the same TID and pthread_self(), its own TLS
 * values, signal mask, alternate stack and name.
 *
 * The test forks a child first; each process then starts its threads, and
 * each thread records its state and sleeps on a futex word until its main
 * thread, after the checkpoint, asks it to check itself.
 */
#include <pthread.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "thread_state.h"

#define NTHREADS 3

struct worker {
	pthread_t th;
	int idx;
	struct thread_state st;
	char why[256];
	int failed;
};

static volatile int threads_ready;
static volatile int threads_stop;
static struct worker workers[NTHREADS];

/* Shared by the two processes: the child says it is ready here. */
static volatile int *child_ready;

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	if (thread_state_setup(&w->st, w->idx)) {
		snprintf(w->why, sizeof(w->why), "thread %d: set-up", w->idx);
		w->failed = 1;
	}
	task_count_up(&threads_ready);
	task_wait_at_least(&threads_stop, 1);
	if (!w->failed && thread_state_check(&w->st, w->idx, w->why,
					     sizeof(w->why)))
		w->failed = 1;
	return NULL;
}

/* Start the threads of this process; base is the index of its main one. */
static int start_threads(struct thread_state *main_st, int base)
{
	int i;

	if (thread_state_setup(main_st, base))
		return -1;
	for (i = 0; i < NTHREADS; i++) {
		workers[i].idx = base + 1 + i;
		if (pthread_create(&workers[i].th, NULL, worker_fn,
				   &workers[i])) {
			pr_err("can't create thread %d\n", i);
			return -1;
		}
	}
	task_wait_at_least(&threads_ready, NTHREADS);
	return 0;
}

/* After the checkpoint: the threads and this main thread check themselves. */
static int check_threads(const struct thread_state *main_st, int base,
			 const char *who)
{
	char why[256];
	int i, ret = 0;

	if (thread_state_check(main_st, base, why, sizeof(why))) {
		fail("%s: %s", who, why);
		ret = -1;
	}
	task_set_word(&threads_stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].th, NULL);
		if (workers[i].failed) {
			fail("%s: %s", who, workers[i].why);
			ret = -1;
		}
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct thread_state main_st;
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
		if (start_threads(&main_st, 10))
			exit(1);
		task_set_word(child_ready, 1);
		test_waitsig();
		exit(check_threads(&main_st, 10, "child") ? 1 : 0);
	}

	if (start_threads(&main_st, 0)) {
		task_kill_child(child);
		return 1;
	}
	task_wait_at_least(child_ready, 1);

	test_daemon();
	test_waitsig();

	return task_end_with_child(child, "child",
				   !check_threads(&main_st, 0, "parent"));
}
