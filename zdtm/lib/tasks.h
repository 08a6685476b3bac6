/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tasks.h - helpers for tests made of several threads or processes.
 *
 * Tasks of a test must not talk through pipes across a checkpoint, so they
 * synchronise through futex words (private ones between threads, words in a
 * MAP_SHARED mapping between processes), signals and waitpid().
 *
 * The runner's SIGTERM goes to the test's process: threads other than the
 * main one must keep it blocked (task_block_sigterm()), or it may be taken
 * by a thread while the main thread sleeps on in test_waitsig().
 */
#ifndef ZDTM_TASKS_H
#define ZDTM_TASKS_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

/* FUTEX_WAIT on a word shared with other processes (not private). */
static inline void task_futex_wait(volatile int *word, int val)
{
	syscall(SYS_futex, word, FUTEX_WAIT, val, NULL, NULL, 0);
}

static inline void task_futex_wake(volatile int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Set a word and wake everybody waiting on it. */
static inline void task_set_word(volatile int *word, int val)
{
	__atomic_store_n(word, val, __ATOMIC_SEQ_CST);
	task_futex_wake(word);
}

/* Add one to a counter word and wake its waiters. */
static inline void task_count_up(volatile int *word)
{
	__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	task_futex_wake(word);
}

/* Sleep until *word is at least val. */
static inline void task_wait_at_least(volatile int *word, int val)
{
	int cur;

	while ((cur = __atomic_load_n(word, __ATOMIC_SEQ_CST)) < val)
		task_futex_wait(word, cur);
}

/*
 * Sleep until *word is at least val, for at most timeout_ms; returns 0 when
 * it is, -1 on timeout.
 */
static inline int task_wait_at_least_ms(volatile int *word, int val,
					int timeout_ms)
{
	struct timespec end, now, left;
	long long ns;
	int cur;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while ((cur = __atomic_load_n(word, __ATOMIC_SEQ_CST)) < val) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (end.tv_sec - now.tv_sec) * 1000000000LL +
		     (end.tv_nsec - now.tv_nsec);
		if (ns <= 0)
			return -1;
		left.tv_sec = ns / 1000000000LL;
		left.tv_nsec = ns % 1000000000LL;
		syscall(SYS_futex, word, FUTEX_WAIT, cur, &left, NULL, 0);
	}
	return 0;
}

/* Anonymous memory shared with the children forked after this call. */
static inline void *task_shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A shared page (task_shared_alloc()), or NULL with the failure reported. */
static inline void *task_shared_page(void)
{
	void *p = task_shared_alloc(4096);

	if (!p)
		pr_perror("can't map shared memory");
	return p;
}

/* fork(), with a failure reported. */
static inline pid_t task_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		pr_perror("fork");
	return pid;
}

/*
 * A shared page, then one child that shares it: returns the page, with the
 * child's pid (0 in the child) in *child, or NULL with the failure reported.
 */
static inline void *task_fork_shared(pid_t *child)
{
	void *p = task_shared_page();

	if (!p)
		return NULL;
	*child = task_fork();
	return *child < 0 ? NULL : p;
}

/*
 * Fork n children, their pids in pids[]: returns the child's index in each
 * child, n in the parent, or -1 (reported) if a fork failed.
 */
static inline int task_fork_children(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pids[i] = task_fork();
		if (pids[i] <= 0)
			return pids[i] < 0 ? -1 : i;
	}
	return n;
}

/* Kill a child whose set-up failed and reap it. */
static inline void task_kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* For threads: leave the runner's SIGTERM to the main thread. */
static inline void task_block_sigterm(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Wait for a child for at most timeout_ms; returns 0 and its status, or -1
 * if it did not exit in time (it is then killed and reaped).
 */
static inline int task_reap_ms(pid_t pid, int *status, int timeout_ms)
{
	int waited;
	pid_t got;

	for (waited = 0;; waited += 10) {
		got = waitpid(pid, status, WNOHANG);
		if (got == pid)
			return 0;
		if (got < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms)
			break;
		usleep(10000);
	}
	/* A child we may not kill (another uid) is left to the runner. */
	if (!kill(pid, SIGKILL))
		waitpid(pid, status, 0);
	return -1;
}

/*
 * Send the child SIGTERM (it runs test_waitsig() and its own checks) and
 * reap it: 0 if it exited with 0, else -1 with the reason reported.
 */
static inline int task_stop_child(pid_t pid, const char *what)
{
	int status;

	if (kill(pid, SIGTERM)) {
		fail("can't signal %s %d", what, pid);
		if (!kill(pid, SIGKILL))
			waitpid(pid, NULL, 0);
		return -1;
	}
	if (task_reap_ms(pid, &status, 30000)) {
		fail("%s %d did not exit after SIGTERM", what, pid);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		fail("%s %d killed by signal %d", what, pid, WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status)) {
		fail("%s %d exited with %d", what, pid, WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

/*
 * End a test with one child: stop it (task_stop_child()) and pass() if ok
 * and the child passed too; returns the test's exit code.
 */
static inline int task_end_with_child(pid_t pid, const char *what, bool ok)
{
	if (task_stop_child(pid, what) || !ok)
		return 1;
	pass();
	return 0;
}

/*
 * The value of "Key:" in /proc/TID/status (tid 0: the calling thread; any
 * thread or process), blanks folded to single spaces; -1 if there is no
 * such line.
 */
static inline int task_status_field(pid_t tid, const char *key, char *buf,
				    size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	int ret = -1;
	FILE *f;

	if (!tid)
		tid = syscall(SYS_gettid);
	/* /proc/TID: a thread of ours or a task of another process alike. */
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *v, *o;

		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		v = line + klen + 1;
		o = buf;
		while (*v && o < buf + len - 1) {
			if (*v == ' ' || *v == '\t' || *v == '\n') {
				if (o != buf && o[-1] != ' ')
					*o++ = ' ';
			} else {
				*o++ = *v;
			}
			v++;
		}
		if (o != buf && o[-1] == ' ')
			o--;
		*o = 0;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

#endif /* ZDTM_TASKS_H */
