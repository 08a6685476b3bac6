// SPDX-License-Identifier: GPL-2.0
/*
 * A victim for compel's tests: sets up known state, says "ready ...", blocks
 * in (or spins instead of) one syscall, then checks itself and reports.
 *
 *   victim MODE      MODE: spin pipe nanosleep futex epoll threads pending
 *                          seccomp (pipe, under a filter that kills on getppid)
 *                          zleader (pipe, in a thread; the main thread exits)
 *
 * stdout lines:  "ready pid=.. buf=.. len=.. handler=.."  then
 *                "result MODE ret=.. errno=.."  then  "check ok" or
 *                "check FAIL <what>".
 * stdin: the pipe the victim reads from (pipe, epoll, threads, pending).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF_LEN (4 << 20)
#define NR_THREADS 3
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static unsigned char *buf;
static volatile sig_atomic_t stop_spin;
static volatile sig_atomic_t got_usr1, got_usr2;
static volatile unsigned long thread_count[NR_THREADS];
static volatile int threads_stop;

static void on_usr1(int sig) { got_usr1++; }
static void on_usr2(int sig) { got_usr2++; stop_spin = 1; }

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 12) * 13) & 0xff);
}

static uint64_t checksum(void)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < BUF_LEN; i += 8)
		sum = sum * 31 + *(uint64_t *)(buf + i);
	return sum;
}

static void *spinner(void *arg)
{
	long n = (long)arg;

	do
		thread_count[n]++;
	while (!threads_stop);
	return NULL;
}

/* Any getppid() kills the process: remote syscalls must bypass this. */
static int install_seccomp(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { ARRAY_LEN(filter), filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(const char *mode)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigset_t before, after, pend;
	pthread_t th[NR_THREADS];
	char line[64];
	long ret = 0;
	int err = 0, fail = 0, eintr = 0;
	uint64_t sum;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	buf = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 2;
	for (i = 0; i < BUF_LEN; i++)
		buf[i] = pattern(i);
	sum = checksum();

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* a distinctive mask: SIGHUP and SIGWINCH blocked */
	sigemptyset(&before);
	sigaddset(&before, SIGHUP);
	sigaddset(&before, SIGWINCH);
	if (!strcmp(mode, "pending")) {
		sigaddset(&before, SIGUSR1);
		sigaddset(&before, SIGUSR2);
	}
	sigprocmask(SIG_SETMASK, &before, NULL);
	if (!strcmp(mode, "pending")) {
		raise(SIGUSR1);			/* thread-private queue */
		kill(getpid(), SIGUSR2);	/* process-wide queue */
	}
	if (!strcmp(mode, "seccomp") && install_seccomp())
		return 3;
	if (!strcmp(mode, "threads"))
		for (i = 0; i < NR_THREADS; i++)
			pthread_create(&th[i], NULL, spinner, (void *)i);

	printf("ready pid=%d buf=%p len=%d handler=%p\n", getpid(), buf,
	       BUF_LEN, (void *)on_usr1);

	errno = 0;
	if (!strcmp(mode, "spin")) {
		while (!stop_spin)
			ret++;
		ret = 0;
	} else if (!strcmp(mode, "nanosleep")) {
		struct timespec ts = { .tv_sec = 1 };
		double t0 = now();

		ret = nanosleep(&ts, NULL);
		if (!ret && now() - t0 < 1.0)
			ret = -2;	/* woke up early */
	} else if (!strcmp(mode, "futex")) {
		static int word;
		struct timespec ts = { .tv_sec = 1 };

		ret = syscall(SYS_futex, &word, FUTEX_WAIT, 0, &ts, NULL, 0);
	} else if (!strcmp(mode, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = epoll_create1(0);

		epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
		/* epoll_wait fails with EINTR after any stop (signal(7)): a
		 * careful program retries, and so do we, counting */
		while ((ret = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
			eintr++;
		if (ret == 1 && read(0, line, sizeof(line)) <= 0)
			ret = -3;
	} else {	/* pipe, threads, pending: block reading stdin */
		ret = read(0, line, sizeof(line));
		if (ret > 0 && strncmp(line, "go", 2))
			ret = -4;
	}
	err = errno;
	printf("result %s ret=%ld errno=%d eintr=%d\n", mode, ret, err, eintr);

	if (checksum() != sum) {
		printf("check FAIL memory\n");
		fail = 1;
	}
	if (!strcmp(mode, "pending")) {
		sigpending(&pend);
		if (!sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGUSR2)) {
			printf("check FAIL pending\n");
			fail = 1;
		}
		sigprocmask(SIG_UNBLOCK, &before, NULL);
		if (got_usr1 != 1 || got_usr2 != 1) {
			printf("check FAIL delivered usr1=%d usr2=%d\n",
			       (int)got_usr1, (int)got_usr2);
			fail = 1;
		}
		sigprocmask(SIG_BLOCK, &before, NULL);
	}
	sigprocmask(SIG_SETMASK, NULL, &after);
	if (memcmp(&before, &after, sizeof(before))) {
		printf("check FAIL sigmask\n");
		fail = 1;
	}
	if (!strcmp(mode, "threads")) {
		threads_stop = 1;
		for (i = 0; i < NR_THREADS; i++) {
			pthread_join(th[i], NULL);
			if (!thread_count[i]) {
				printf("check FAIL thread %zu never ran\n", i);
				fail = 1;
			}
		}
	}
	if (!fail)
		printf("check ok\n");
	return fail;
}

/* zleader: the main thread exits, another one runs "pipe" (zombie leader). */
static void *zleader_thread(void *arg)
{
	exit(run("pipe"));
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "spin";
	pthread_t th;

	if (!strcmp(mode, "zleader")) {
		pthread_create(&th, NULL, zleader_thread, NULL);
		pthread_exit(NULL);
	}
	return run(mode);
}
