// SPDX-License-Identifier: GPL-2.0
/*
 * pthread01 - many threads, caught in different states, come back each
 * with its own TID, TLS, thread-specific data, signal mask, alternate
 * stack and name.
 *
 * Threads wait for the checkpoint in different ways: asleep on a futex,
 * in a nanosleep() loop, or running (spinning in user space); one thread
 * was started by another thread rather than by the main one.  Each keeps
 * a pthread key value and a heap block of its own that it checks too.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "thread_state.h"

#define NTHREADS 8
#define BLOCK_WORDS 1024

enum wait_kind { WAIT_FUTEX, WAIT_NANOSLEEP, WAIT_SPIN };

struct worker {
	pthread_t th;
	int idx;
	enum wait_kind kind;
	struct thread_state st;
	uint32_t *block;
	char why[256];
	int failed;
};

static pthread_key_t key;
static volatile int threads_ready;
static volatile int threads_stop;
static struct worker workers[NTHREADS];

static uint32_t block_word(int idx, int i)
{
	return (uint32_t)(idx * 0x01000193u) ^ (uint32_t)(i * 0x9e3779b1u);
}

static void *worker_fn(void *arg);

static int start_worker(struct worker *w)
{
	return pthread_create(&w->th, NULL, worker_fn, w);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int i;

	if (thread_state_setup(&w->st, w->idx)) {
		snprintf(w->why, sizeof(w->why), "thread %d: set-up", w->idx);
		w->failed = 1;
	}
	w->block = malloc(BLOCK_WORDS * sizeof(uint32_t));
	if (!w->block) {
		snprintf(w->why, sizeof(w->why), "thread %d: malloc", w->idx);
		w->failed = 1;
	} else {
		for (i = 0; i < BLOCK_WORDS; i++)
			w->block[i] = block_word(w->idx, i);
	}
	pthread_setspecific(key, w);

	/* The last thread is started by the one before it. */
	if (w->idx == NTHREADS - 1 && start_worker(&workers[NTHREADS - 1])) {
		snprintf(w->why, sizeof(w->why), "thread %d: can't start "
			 "its own thread", w->idx);
		w->failed = 1;
	}

	task_count_up(&threads_ready);

	switch (w->kind) {
	case WAIT_FUTEX:
		task_wait_at_least(&threads_stop, 1);
		break;
	case WAIT_NANOSLEEP:
		while (!__atomic_load_n(&threads_stop, __ATOMIC_SEQ_CST)) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		break;
	case WAIT_SPIN:
		while (!__atomic_load_n(&threads_stop, __ATOMIC_SEQ_CST))
			asm volatile("pause" ::: "memory");
		break;
	}

	if (w->failed)
		return NULL;
	if (thread_state_check(&w->st, w->idx, w->why, sizeof(w->why))) {
		w->failed = 1;
		return NULL;
	}
	if (pthread_getspecific(key) != w) {
		snprintf(w->why, sizeof(w->why), "thread %d: pthread key "
			 "value %p, expected %p", w->idx,
			 pthread_getspecific(key), (void *)w);
		w->failed = 1;
		return NULL;
	}
	for (i = 0; i < BLOCK_WORDS; i++)
		if (w->block[i] != block_word(w->idx, i)) {
			snprintf(w->why, sizeof(w->why), "thread %d: heap "
				 "word %d is %#x, expected %#x", w->idx, i,
				 w->block[i], block_word(w->idx, i));
			w->failed = 1;
			return NULL;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	struct thread_state main_st;
	char why[256];
	int i, ret = 0;

	test_init(argc, argv);
	if (thread_state_init() || pthread_key_create(&key, NULL)) {
		pr_perror("can't set up");
		return 1;
	}
	if (thread_state_setup(&main_st, 0))
		return 1;
	pthread_setspecific(key, &main_st);

	/* workers[NTHREADS - 2] starts workers[NTHREADS - 1] itself. */
	for (i = 0; i < NTHREADS; i++) {
		workers[i].idx = i + 1;
		workers[i].kind = i % 2 ? WAIT_NANOSLEEP : WAIT_FUTEX;
	}
	/* One thread is running at the checkpoint, not asleep. */
	workers[2].kind = WAIT_SPIN;
	for (i = 0; i < NTHREADS - 1; i++)
		if (start_worker(&workers[i])) {
			pr_err("can't create thread %d\n", i + 1);
			return 1;
		}
	task_wait_at_least(&threads_ready, NTHREADS);

	test_daemon();
	test_waitsig();

	if (thread_state_check(&main_st, 0, why, sizeof(why))) {
		fail("%s", why);
		ret = 1;
	}
	if (pthread_getspecific(key) != &main_st) {
		fail("main thread: pthread key value changed");
		ret = 1;
	}
	task_set_word(&threads_stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].th, NULL);
		if (workers[i].failed) {
			fail("%s", workers[i].why);
			ret = 1;
		}
	}
	if (ret)
		return 1;
	pass();
	return 0;
}
