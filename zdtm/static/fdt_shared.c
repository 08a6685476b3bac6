// SPDX-License-Identifier: GPL-2.0
/*
 * fdt_shared - an fd table shared between processes (clone with
 * CLONE_FILES, no CLONE_VM) stays shared after a checkpoint.
 *
 * Before the checkpoint the child opens a file: the test sees the fd.
 * After the restore the child opens another file and the test must see
 * that fd, then the test closes the child's first fd and the child must
 * see it gone; and the fds of the table must be the ones there were.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

struct shared {
	int ready;
	int go;
	int opened;		/* the fd the child opened after restore */
	int closed_seen;
	int first;
};

int main(int argc, char **argv)
{
	struct shared *sh;
	int first, status;
	pid_t child;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	if (!sh)
		return 1;
	child = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0) {
		pr_perror("clone");
		return 1;
	}
	if (child == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0)
			_exit(2);
		sh->opened = fd;
		sh->first = fd;
		task_set_word(&sh->ready, 1);
		task_wait_at_least(&sh->go, 1);
		fd = open("/dev/zero", O_RDONLY);
		if (fd < 0)
			_exit(3);
		sh->opened = fd;
		task_set_word(&sh->go, 2);
		task_wait_at_least(&sh->go, 3);
		/* The test closed our first fd in the table we share. */
		sh->closed_seen = fcntl(sh->first, F_GETFD) < 0;
		_exit(0);
	}
	task_wait_at_least(&sh->ready, 1);
	first = sh->opened;
	if (fcntl(first, F_GETFD) < 0) {
		pr_err("the child's fd is not in the test's table\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fcntl(first, F_GETFD) < 0) {
		fail("fd %d opened by the child is gone", first);
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	task_wait_at_least(&sh->go, 2);
	if (fcntl(sh->opened, F_GETFD) < 0) {
		fail("fd %d the child opened after the restore is not in the "
		     "test's table: the table is not shared", sh->opened);
		task_kill_child(child);
		return 1;
	}
	close(first);
	task_set_word(&sh->go, 3);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	if (!sh->closed_seen) {
		fail("the child still has the fd the test closed");
		return 1;
	}
	pass();
	return 0;
}
