// SPDX-License-Identifier: GPL-2.0
/*
 * futex-rl - the robust futex list of each thread (set_robust_list) comes
 * back as it was, and still works.
 *
 * glibc registers a robust list head for every thread; one thread of the
 * test replaces its own with one of the test's.  After the restore
 * get_robust_list() must give each thread (read by itself and by the main
 * thread) the same head and length.  A child process holds a robust,
 * process-shared mutex when the checkpoint comes; after the restore it
 * exits still holding it, and the kernel, walking its robust list, must
 * hand the mutex over as EOWNERDEAD: without the list the test's lock
 * would wait forever.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "zdtmtst.h"
#include "tasks.h"

struct rl {
	pid_t tid;
	void *head;
	size_t len;
};

struct shared {
	pthread_mutex_t mutex;
	int ready;
};

static struct robust_list_head own_head = {
	.list = { .next = &own_head.list },
	.futex_offset = -16,
};

#define NTHREADS 2

static struct rl rls[NTHREADS + 1];	/* 0: the main thread */
static volatile int ready, stop;
static char why[NTHREADS + 1][256];

static int get_rl(pid_t tid, struct rl *r)
{
	r->tid = tid;
	return syscall(SYS_get_robust_list, tid, &r->head, &r->len);
}

static int same_rl(pid_t tid, const struct rl *want, char *buf, size_t len)
{
	struct rl now;

	if (get_rl(tid, &now)) {
		snprintf(buf, len, "get_robust_list(%d) failed: %d", tid,
			 errno);
		return 0;
	}
	if (now.head != want->head || now.len != want->len) {
		snprintf(buf, len, "thread %d: robust list %p/%zu, expected "
			 "%p/%zu", want->tid, now.head, now.len, want->head,
			 want->len);
		return 0;
	}
	return 1;
}

static void *thread_fn(void *arg)
{
	long i = (long)arg;

	task_block_sigterm();
	if (i == 2 && syscall(SYS_set_robust_list, &own_head,
			      sizeof(own_head)))
		snprintf(why[i], sizeof(why[i]), "set_robust_list failed");
	get_rl(0, &rls[i]);
	rls[i].tid = gettid();
	task_count_up(&ready);
	task_wait_at_least(&stop, 1);
	if (!why[i][0])
		same_rl(0, &rls[i], why[i], sizeof(why[i]));
	return NULL;
}

static void child_main(struct shared *sh)
{
	struct rl mine;
	char buf[256];

	get_rl(0, &mine);
	mine.tid = getpid();
	if (pthread_mutex_lock(&sh->mutex))
		exit(2);
	task_set_word(&sh->ready, 1);
	test_waitsig();
	if (!same_rl(0, &mine, buf, sizeof(buf))) {
		fail("child: %s", buf);
		exit(1);
	}
	/* Exit holding the mutex: the kernel must mark it owner-dead. */
	exit(0);
}

static int init_mutex(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	return pthread_mutexattr_init(&a) ||
	       pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
	       pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) ||
	       pthread_mutex_init(m, &a);
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS + 1];
	struct shared *sh;
	struct timespec ts;
	char buf[256];
	int ret = 0, r;
	pid_t child;
	long i;

	test_init(argc, argv);
	sh = task_shared_alloc(sizeof(*sh));
	if (!sh || init_mutex(&sh->mutex)) {
		pr_perror("can't set up the shared mutex");
		return 1;
	}
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0)
		child_main(sh);

	get_rl(0, &rls[0]);
	rls[0].tid = gettid();
	for (i = 1; i <= NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_fn, (void *)i)) {
			pr_err("can't create a thread\n");
			task_kill_child(child);
			return 1;
		}
	task_wait_at_least(&ready, NTHREADS);
	if (task_wait_at_least_ms(&sh->ready, 1, 10000) ||
	    rls[2].head != &own_head || rls[1].head == rls[0].head) {
		pr_err("set-up failed\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	for (i = 0; i <= NTHREADS; i++)
		if (!same_rl(rls[i].tid, &rls[i], buf, sizeof(buf))) {
			fail("seen from the main thread: %s", buf);
			ret = 1;
		}
	task_set_word(&stop, 1);
	for (i = 1; i <= NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (why[i][0]) {
			fail("%s", why[i]);
			ret = 1;
		}
	}
	if (task_stop_child(child, "child"))
		return 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	r = pthread_mutex_timedlock(&sh->mutex, &ts);
	if (r != EOWNERDEAD) {
		fail("locking the dead child's mutex gave %d, expected "
		     "EOWNERDEAD", r);
		return 1;
	}
	pthread_mutex_consistent(&sh->mutex);
	pthread_mutex_unlock(&sh->mutex);
	if (ret)
		return 1;
	pass();
	return 0;
}
