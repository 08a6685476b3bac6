// SPDX-License-Identifier: GPL-2.0
/*
 * sigpending - blocked signals queued before a checkpoint are all still
 * pending after it, each exactly once, in the right queue and order, with
 * their siginfo.
 *
 * Two threads block every signal (the main one all but the runner's
 * SIGTERM).  Queued to each thread privately and to the process (shared):
 * real-time signals several times each, with distinct si_value, and
 * standard signals, some twice (the second is dropped by the kernel, so
 * they must come once, with the first one's siginfo), from tgkill(),
 * kill() and rt_[tg]sigqueueinfo().  After the restore /proc's SigPnd and
 * ShdPnd of each thread are as before, and each thread takes its private
 * signals with sigtimedwait(): they must come lowest number first and, for
 * one number, in the order they were sent.  Then the main thread takes
 * the shared ones the same way, and nothing else may be left.
 *
 * Signals are taken with the raw rt_sigtimedwait: glibc's sigtimedwait()
 * reports SI_TKILL as SI_USER.  The signals have SA_SIGINFO handlers, as
 * in a program that queues them; they never run: the signals stay blocked.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define MAX_EXPECT 16

struct expect {
	int sig;
	int code;
	int value;	/* si_value.sival_int, for SI_QUEUE */
};

struct queue {
	const char *name;
	struct expect e[MAX_EXPECT];
	int n;
};

static struct queue worker_q = { .name = "worker's private queue" };
static struct queue main_q = { .name = "main thread's private queue" };
static struct queue shared_q = { .name = "shared queue" };

static pid_t worker_tid;
static volatile int worker_ready, worker_go;
static char worker_why[256];
static int worker_failed;

/* rt_tgsigqueueinfo (tid) or rt_sigqueueinfo (tid 0): SI_QUEUE, a value. */
static int queue_one(pid_t tid, int sig, int value)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	info.si_signo = sig;
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	info.si_value.sival_int = value;
	if (tid)
		return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &info);
	return syscall(SYS_rt_sigqueueinfo, getpid(), sig, &info);
}

static void expect(struct queue *q, int sig, int code, int value)
{
	q->e[q->n].sig = sig;
	q->e[q->n].code = code;
	q->e[q->n].value = value;
	q->n++;
}

/* Order of dequeueing: lowest signal first, FIFO for one signal. */
static void sort_queue(struct queue *q)
{
	int i, j;

	for (i = 1; i < q->n; i++)
		for (j = i; j > 0 && q->e[j - 1].sig > q->e[j].sig; j--) {
			struct expect t = q->e[j];

			q->e[j] = q->e[j - 1];
			q->e[j - 1] = t;
		}
}

/* Dequeue one signal of any number without waiting, siginfo untouched. */
static int take_one(siginfo_t *si)
{
	struct timespec zero = { 0, 0 };
	sigset_t all;

	sigfillset(&all);
	return syscall(SYS_rt_sigtimedwait, &all, si, &zero, _NSIG / 8);
}

/* Take q->n signals and compare them with q; 0 or -1 and why. */
static int take_queue(const struct queue *q, char *why, size_t len)
{
	siginfo_t si;
	int i, sig;

	for (i = 0; i < q->n; i++) {
		const struct expect *e = &q->e[i];

		memset(&si, 0, sizeof(si));
		sig = take_one(&si);
		if (sig < 0) {
			snprintf(why, len, "%s: signal %d of %d (%d) is "
				 "missing (errno %d)", q->name, i + 1, q->n,
				 e->sig, errno);
			return -1;
		}
		if (sig != e->sig || si.si_signo != e->sig) {
			snprintf(why, len, "%s: got signal %d as number %d, "
				 "expected %d", q->name, sig, i + 1, e->sig);
			return -1;
		}
		if (si.si_code != e->code) {
			snprintf(why, len, "%s: signal %d has si_code %d, "
				 "expected %d", q->name, sig, si.si_code,
				 e->code);
			return -1;
		}
		if (si.si_pid != getpid() || si.si_uid != getuid()) {
			snprintf(why, len, "%s: signal %d from pid %d uid %d, "
				 "expected %d/%d", q->name, sig, si.si_pid,
				 si.si_uid, getpid(), getuid());
			return -1;
		}
		if (e->code == SI_QUEUE && si.si_value.sival_int != e->value) {
			snprintf(why, len, "%s: signal %d (number %d) has "
				 "value %#x, expected %#x", q->name, sig,
				 i + 1, si.si_value.sival_int, e->value);
			return -1;
		}
	}
	return 0;
}

/* No signal may be left pending at all. */
static int nothing_left(char *why, size_t len)
{
	siginfo_t si;
	int sig;

	sig = take_one(&si);
	if (sig > 0) {
		snprintf(why, len, "an extra signal %d (si_code %d, value "
			 "%#x) is pending", sig, si.si_code,
			 si.si_value.sival_int);
		return -1;
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	worker_tid = gettid();
	task_count_up(&worker_ready);
	task_wait_at_least(&worker_go, 1);

	/* Only private signals: they are dequeued before shared ones. */
	if (take_queue(&worker_q, worker_why, sizeof(worker_why)))
		worker_failed = 1;
	return NULL;
}

static void unexpected_handler(int sig, siginfo_t *si, void *uc)
{
}

static int set_handlers(void)
{
	struct sigaction sa = { .sa_sigaction = unexpected_handler,
				.sa_flags = SA_SIGINFO };
	int sigs[] = { SIGHUP, SIGINT, SIGUSR2, SIGWINCH, SIGRTMIN + 1,
		       SIGRTMIN + 2, SIGRTMIN + 4, SIGRTMIN + 5 };
	int i;

	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return -1;
	return 0;
}

static int queue_all(void)
{
	int i, rt1 = SIGRTMIN + 1, rt2 = SIGRTMIN + 2;
	int rt4 = SIGRTMIN + 4, rt5 = SIGRTMIN + 5;

	/* To the worker thread. */
	for (i = 0; i < 4; i++) {
		if (queue_one(worker_tid, rt2, 0x2200 + i))
			return -1;
		expect(&worker_q, rt2, SI_QUEUE, 0x2200 + i);
	}
	for (i = 0; i < 2; i++) {
		if (queue_one(worker_tid, rt1, 0x2100 + i))
			return -1;
		expect(&worker_q, rt1, SI_QUEUE, 0x2100 + i);
	}
	if (queue_one(worker_tid, SIGUSR2, 0x2012) ||
	    queue_one(worker_tid, SIGUSR2, 0x2013))	/* dropped */
		return -1;
	expect(&worker_q, SIGUSR2, SI_QUEUE, 0x2012);
	if (syscall(SYS_tgkill, getpid(), worker_tid, SIGHUP))
		return -1;
	expect(&worker_q, SIGHUP, SI_TKILL, 0);

	/* To the main thread. */
	if (queue_one(gettid(), rt5, 0x1500))
		return -1;
	expect(&main_q, rt5, SI_QUEUE, 0x1500);
	for (i = 0; i < 2; i++) {
		if (queue_one(gettid(), rt2, 0x1200 + i))
			return -1;
		expect(&main_q, rt2, SI_QUEUE, 0x1200 + i);
	}
	if (queue_one(gettid(), SIGUSR2, 0x1012))
		return -1;
	expect(&main_q, SIGUSR2, SI_QUEUE, 0x1012);
	if (syscall(SYS_tgkill, getpid(), gettid(), SIGWINCH) ||
	    syscall(SYS_tgkill, getpid(), gettid(), SIGWINCH))	/* dropped */
		return -1;
	expect(&main_q, SIGWINCH, SI_TKILL, 0);

	/* To the process. */
	for (i = 0; i < 3; i++) {
		if (queue_one(0, rt1, 0x0100 + i))
			return -1;
		expect(&shared_q, rt1, SI_QUEUE, 0x0100 + i);
	}
	if (queue_one(0, rt4, 0x0400) || queue_one(0, rt4, 0x0401))
		return -1;
	expect(&shared_q, rt4, SI_QUEUE, 0x0400);
	expect(&shared_q, rt4, SI_QUEUE, 0x0401);
	if (queue_one(0, SIGUSR2, 0x0012))
		return -1;
	expect(&shared_q, SIGUSR2, SI_QUEUE, 0x0012);
	if (kill(getpid(), SIGINT) || kill(getpid(), SIGINT))	/* dropped */
		return -1;
	expect(&shared_q, SIGINT, SI_USER, 0);

	sort_queue(&worker_q);
	sort_queue(&main_q);
	sort_queue(&shared_q);
	return 0;
}

int main(int argc, char **argv)
{
	char pnd_main[64], pnd_worker[64], shd[64], now[64], why[256];
	pthread_t worker;
	sigset_t blocked;

	test_init(argc, argv);

	sigfillset(&blocked);
	sigdelset(&blocked, SIGTERM);
	if (sigprocmask(SIG_SETMASK, &blocked, NULL) || set_handlers()) {
		pr_perror("can't set signal actions");
		return 1;
	}
	if (pthread_create(&worker, NULL, worker_fn, NULL)) {
		pr_err("can't create a thread\n");
		return 1;
	}
	task_wait_at_least(&worker_ready, 1);
	if (queue_all()) {
		pr_perror("can't queue the signals");
		return 1;
	}
	if (task_status_field(0, "SigPnd", pnd_main, sizeof(pnd_main)) ||
	    task_status_field(worker_tid, "SigPnd", pnd_worker,
			      sizeof(pnd_worker)) ||
	    task_status_field(0, "ShdPnd", shd, sizeof(shd))) {
		pr_perror("can't read /proc/self/task/*/status");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (task_status_field(0, "SigPnd", now, sizeof(now)) ||
	    strcmp(now, pnd_main)) {
		fail("main thread's SigPnd is %s, expected %s", now, pnd_main);
		goto out_fail;
	}
	if (task_status_field(worker_tid, "SigPnd", now, sizeof(now)) ||
	    strcmp(now, pnd_worker)) {
		fail("worker's SigPnd is %s, expected %s", now, pnd_worker);
		goto out_fail;
	}
	if (task_status_field(0, "ShdPnd", now, sizeof(now)) ||
	    strcmp(now, shd)) {
		fail("ShdPnd is %s, expected %s", now, shd);
		goto out_fail;
	}

	task_set_word(&worker_go, 1);
	pthread_join(worker, NULL);
	if (worker_failed) {
		fail("%s", worker_why);
		return 1;
	}
	if (take_queue(&main_q, why, sizeof(why)) ||
	    take_queue(&shared_q, why, sizeof(why)) ||
	    nothing_left(why, sizeof(why))) {
		fail("%s", why);
		return 1;
	}
	pass();
	return 0;

out_fail:
	task_set_word(&worker_go, 1);
	pthread_join(worker, NULL);
	return 1;
}
