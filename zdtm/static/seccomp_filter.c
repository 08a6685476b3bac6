// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_filter - seccomp filters of a task still filter after a
 * checkpoint: mode 2, the number of filters and no_new_privs are kept, and
 * every filter still acts on its system call.
 *
 * Four stacked filters, installed by an unprivileged task (so with
 * no_new_privs), make times() fail with errno 131, sysinfo() trap (SIGSYS
 * with si_syscall and SECCOMP_RET_DATA as si_errno), getcpu() kill the
 * process and syslog() fail with errno 132.  After the
 * restore the test makes each call itself, and has a child it forks make
 * the killing one.
 */
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "seccomp.h"

#define ERRNO_TIMES	131
#define ERRNO_SYSLOG	132
#define TRAP_DATA	77

static volatile int trap_hits, trap_nr, trap_data, trap_code;

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	trap_hits++;
	trap_nr = si->si_syscall;
	trap_data = si->si_errno;
	trap_code = si->si_code;
}

static int install(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	if (seccomp_filter_one(SYS_times, SECCOMP_RET_ERRNO | ERRNO_TIMES, 0) ||
	    seccomp_filter_one(SYS_sysinfo, SECCOMP_RET_TRAP | TRAP_DATA, 0) ||
	    seccomp_filter_one(SYS_getcpu, SECCOMP_RET_KILL_PROCESS, 0) ||
	    seccomp_filter_one(SYS_syslog, SECCOMP_RET_ERRNO | ERRNO_SYSLOG,
			       0))
		return -1;
	return 0;
}

static int check(int mode0, int filters0)
{
	int mode, filters, e, status;
	pid_t child;

	if (seccomp_status(0, &mode, &filters)) {
		fail("can't read the seccomp status");
		return -1;
	}
	if (mode != mode0 || filters != filters0) {
		fail("Seccomp %d with %d filters, expected %d with %d", mode,
		     filters, mode0, filters0);
		return -1;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		fail("no_new_privs is lost");
		return -1;
	}
	e = seccomp_errno_of(SYS_times);
	if (e != ERRNO_TIMES) {
		fail("times() gave errno %d, expected %d", e, ERRNO_TIMES);
		return -1;
	}
	e = seccomp_errno_of(SYS_syslog);
	if (e != ERRNO_SYSLOG) {
		fail("syslog() gave errno %d, expected %d", e, ERRNO_SYSLOG);
		return -1;
	}
	if (syscall(SYS_getppid) <= 0) {
		fail("getppid(), not filtered, failed");
		return -1;
	}
	trap_hits = 0;
	seccomp_errno_of(SYS_sysinfo);
	if (trap_hits != 1 || trap_nr != SYS_sysinfo ||
	    trap_data != TRAP_DATA || trap_code != SYS_SECCOMP) {
		fail("sysinfo() trapped %d times, syscall %d, data %d, code %d",
		     trap_hits, trap_nr, trap_data, trap_code);
		return -1;
	}

	child = fork();
	if (child < 0) {
		fail("fork");
		return -1;
	}
	if (child == 0) {
		syscall(SYS_getcpu, NULL, NULL, NULL);
		_exit(0);
	}
	if (task_reap_ms(child, &status, 10000)) {
		fail("the child did not exit");
		return -1;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS) {
		fail("the child calling getcpu() ended with status %#x, "
		     "not killed by SIGSYS", status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler,
				.sa_flags = SA_SIGINFO };
	int mode, filters;

	test_init(argc, argv);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		pr_perror("sigaction");
		return 1;
	}
	if (install()) {
		pr_perror("can't install the filters");
		return 1;
	}
	if (seccomp_status(0, &mode, &filters) || mode != 2) {
		pr_err("seccomp mode is not 2\n");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check(mode, filters))
		return 1;
	pass();
	return 0;
}
