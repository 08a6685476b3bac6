// SPDX-License-Identifier: GPL-2.0
/*
 * futex - threads and a process asleep in futex waits of several kinds
 * stay asleep across a checkpoint and wake when woken, not before.
 *
 * Waiting at the checkpoint: three threads in FUTEX_WAIT_PRIVATE without
 * a timeout, one in FUTEX_WAIT with a one-hour relative timeout (restarted
 * through the kernel's restart block), one in FUTEX_WAIT_BITSET with an
 * absolute CLOCK_MONOTONIC timeout an hour away, one blocked on a pthread
 * mutex the main thread holds, and a child process in a FUTEX_WAIT on a
 * shared (not private) word.  After the restore nobody may have woken;
 * then each is woken and must return (not by timeout) within 5 s.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "zdtmtst.h"
#include "tasks.h"

enum kind { PLAIN, TIMEOUT, BITSET, MUTEX };

struct waiter {
	pthread_t th;
	pid_t tid;
	enum kind kind;
	int woken;
	int timed_out;
	int bad_errno;
};

#define NWAITERS 6

static struct waiter waiters[NWAITERS] = {
	{ .kind = PLAIN }, { .kind = PLAIN }, { .kind = PLAIN },
	{ .kind = TIMEOUT }, { .kind = BITSET }, { .kind = MUTEX },
};

static int plain_word, timeout_word, bitset_word;
static volatile int asleep, woken;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

struct shared {
	int word;
	int asleep;
	int woken;
};

static long futex(int *uaddr, int op, int val, const struct timespec *ts,
		  int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

/* Wait until *word is non-zero with the waiter's kind of futex call. */
static void wait_word(struct waiter *w, int *word)
{
	struct timespec ts;
	long ret;
	int op;

	while (!__atomic_load_n(word, __ATOMIC_SEQ_CST)) {
		switch (w->kind) {
		case TIMEOUT:
			ts.tv_sec = 3600;
			ts.tv_nsec = 0;
			ret = futex(word, FUTEX_WAIT_PRIVATE, 0, &ts, 0);
			break;
		case BITSET:
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 3600;
			op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
			ret = futex(word, op, 0, &ts, 0x2);
			break;
		default:
			ret = futex(word, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
		}
		if (ret && errno == ETIMEDOUT)
			w->timed_out++;
		else if (ret && errno != EINTR && errno != EAGAIN)
			w->bad_errno = errno;
	}
}

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	task_block_sigterm();
	w->tid = gettid();
	task_count_up(&asleep);
	switch (w->kind) {
	case PLAIN:
		wait_word(w, &plain_word);
		break;
	case TIMEOUT:
		wait_word(w, &timeout_word);
		break;
	case BITSET:
		wait_word(w, &bitset_word);
		break;
	case MUTEX:
		pthread_mutex_lock(&mutex);
		pthread_mutex_unlock(&mutex);
		break;
	}
	__atomic_store_n(&w->woken, 1, __ATOMIC_SEQ_CST);
	task_count_up(&woken);
	return NULL;
}

static void child_main(struct shared *sh)
{
	task_count_up(&sh->asleep);
	while (!__atomic_load_n(&sh->word, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &sh->word, FUTEX_WAIT, 0, NULL, NULL, 0);
	task_set_word(&sh->woken, 1);
	exit(0);
}

/* Is the thread asleep in the kernel (state S), not running? */
static int sleeping(pid_t tid)
{
	char state[32];

	if (task_status_field(tid, "State", state, sizeof(state)))
		return 0;
	return state[0] == 'S';
}

static int wake_all(void)
{
	int i;

	__atomic_store_n(&plain_word, 1, __ATOMIC_SEQ_CST);
	futex(&plain_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
	__atomic_store_n(&timeout_word, 1, __ATOMIC_SEQ_CST);
	futex(&timeout_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
	__atomic_store_n(&bitset_word, 1, __ATOMIC_SEQ_CST);
	futex(&bitset_word, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, INT_MAX,
	      NULL, 0x2);
	pthread_mutex_unlock(&mutex);

	if (task_wait_at_least_ms(&woken, NWAITERS, 5000)) {
		for (i = 0; i < NWAITERS; i++)
			if (!waiters[i].woken)
				fail("waiter %d (kind %d) did not wake", i,
				     waiters[i].kind);
		return -1;
	}
	for (i = 0; i < NWAITERS; i++) {
		pthread_join(waiters[i].th, NULL);
		if (waiters[i].timed_out) {
			fail("waiter %d (kind %d) timed out", i,
			     waiters[i].kind);
			return -1;
		}
		if (waiters[i].bad_errno) {
			fail("waiter %d (kind %d): futex failed with errno %d",
			     i, waiters[i].kind, waiters[i].bad_errno);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	int i, status;
	pid_t child;

	test_init(argc, argv);
	sh = task_fork_shared(&child);
	if (!sh)
		return 1;
	if (child == 0)
		child_main(sh);

	pthread_mutex_lock(&mutex);
	for (i = 0; i < NWAITERS; i++)
		if (pthread_create(&waiters[i].th, NULL, waiter_fn,
				   &waiters[i])) {
			pr_err("can't create a thread\n");
			task_kill_child(child);
			exit(1);
		}
	task_wait_at_least(&asleep, NWAITERS);
	task_wait_at_least(&sh->asleep, 1);
	/* Let them all get into the kernel. */
	for (i = 0; i < 1000; i++) {
		int n = 0, k;

		for (k = 0; k < NWAITERS; k++)
			n += sleeping(waiters[k].tid);
		if (n == NWAITERS && sleeping(child))
			break;
		usleep(1000);
	}

	test_daemon();
	test_waitsig();

	if (woken) {
		fail("%d waiters woke before they were woken", woken);
		wake_all();
		task_kill_child(child);
		return 1;
	}
	if (sh->woken) {
		fail("the child woke before it was woken");
		wake_all();
		waitpid(child, NULL, 0);
		return 1;
	}
	if (wake_all()) {
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->word, 1);
	if (task_reap_ms(child, &status, 5000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || !sh->woken) {
		fail("the child did not wake and exit (status %#x)", status);
		return 1;
	}
	pass();
	return 0;
}
