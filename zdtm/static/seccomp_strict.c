// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp_strict - a task in strict seccomp mode (SECCOMP_MODE_STRICT)
 * stays in it: after a checkpoint it may still read() and write(), and
 * any other system call kills it.
 *
 * In strict mode the task can make no call to wait with, so the test's
 * child, once strict, spins on a word of shared memory.  After the
 * restore the parent checks the child's /proc status (Seccomp: 1), then
 * asks it to read() from /dev/null (its fd 0), report through the shared
 * memory and call getpid(), which must kill it with SIGKILL.
 */
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "seccomp.h"

struct shared {
	int ready;
	int go;
	int read_ret;
	int after_getpid;
};

static void __attribute__((noreturn)) strict_child(struct shared *sh)
{
	char c;

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
		syscall(SYS_exit, 1);
	__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
	/* No futex, no sleep in strict mode: spin. */
	while (!__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST))
		asm volatile("pause" ::: "memory");
	sh->read_ret = syscall(SYS_read, 0, &c, 1);
	__atomic_store_n(&sh->read_ret, sh->read_ret + 1, __ATOMIC_SEQ_CST);
	syscall(SYS_getpid);
	sh->after_getpid = 1;
	syscall(SYS_exit, 0);
	for (;;)
		;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	char mode[32] = "";
	int status, i;
	pid_t child;

	test_init(argc, argv);
	sh = task_fork_shared(&child);
	if (!sh)
		return 1;
	if (child == 0)
		strict_child(sh);

	for (i = 0; !__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST); i++) {
		if (i > 10000 || waitpid(child, &status, WNOHANG) == child) {
			pr_err("the child did not enter strict mode\n");
			task_kill_child(child);
			return 1;
		}
		usleep(1000);
	}

	test_daemon();
	test_waitsig();

	if (task_status_field(child, "Seccomp", mode, sizeof(mode)) ||
	    strcmp(mode, "1")) {
		fail("the child's Seccomp mode is \"%s\", not 1", mode);
		task_kill_child(child);
		return 1;
	}

	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000)) {
		fail("the child did not die");
		return 1;
	}
	if (__atomic_load_n(&sh->read_ret, __ATOMIC_SEQ_CST) != 1) {
		fail("read() in strict mode returned %d, expected 0",
		     sh->read_ret - 1);
		return 1;
	}
	if (sh->after_getpid) {
		fail("getpid() did not kill the child in strict mode");
		return 1;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		fail("the child ended with status %#x, not SIGKILL", status);
		return 1;
	}
	pass();
	return 0;
}
