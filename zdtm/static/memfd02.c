// SPDX-License-Identifier: GPL-2.0
/*
 * memfd02 - a memfd held by two processes stays one memfd, and each of
 * its open file descriptions stays what it was: shared or separate.
 *
 * The test makes a memfd and forks: the child inherits the fd (one
 * description in both processes).  Then each opens a description of its
 * own through /proc/self/fd.  The offsets are set apart: the shared
 * description at SHARED_POS, the test's own at TEST_POS, the child's own
 * at CHILD_POS.  After the restore:
 *  - every offset is what it was, in both processes;
 *  - the child writes MARK through its own description and moves the
 *    shared one to MOVED_POS;
 *  - the test reads MARK through its own description (one memfd, not a
 *    copy per process) and finds the shared offset at MOVED_POS (one
 *    description, not two).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define SIZE		(64 * 1024)
#define SHARED_POS	300
#define TEST_POS	200
#define CHILD_POS	100
#define MOVED_POS	500
#define MARK		"the child wrote this"
#define MARK_AT		40000

struct shared {
	int ready;
	int go;
};

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

int main(int argc, char **argv)
{
	char buf[sizeof(MARK)];
	int fd, own, status;
	struct shared *sh;
	pid_t child;

	test_init(argc, argv);
	fd = memfd_create("memfd02", 0);
	if (fd < 0 || ftruncate(fd, SIZE) || pwrite(fd, "abc", 3, 0) != 3) {
		pr_perror("memfd");
		return 1;
	}
	sh = task_fork_shared(&child);
	if (!sh)
		return 1;
	if (child == 0) {
		own = reopen(fd, O_RDWR);
		if (own < 0 || lseek(own, CHILD_POS, SEEK_SET) != CHILD_POS)
			exit(2);
		task_set_word(&sh->ready, 1);
		task_wait_at_least(&sh->go, 1);
		if (lseek(own, 0, SEEK_CUR) != CHILD_POS ||
		    lseek(fd, 0, SEEK_CUR) != SHARED_POS)
			exit(3);
		if (pwrite(own, MARK, sizeof(MARK), MARK_AT) != sizeof(MARK) ||
		    lseek(fd, MOVED_POS, SEEK_SET) != MOVED_POS)
			exit(4);
		exit(0);
	}
	own = reopen(fd, O_RDONLY);
	if (own < 0 || lseek(own, TEST_POS, SEEK_SET) != TEST_POS ||
	    lseek(fd, SHARED_POS, SEEK_SET) != SHARED_POS) {
		pr_perror("reopen");
		task_kill_child(child);
		return 1;
	}
	task_wait_at_least(&sh->ready, 1);

	test_daemon();
	test_waitsig();

	if (lseek(own, 0, SEEK_CUR) != TEST_POS ||
	    lseek(fd, 0, SEEK_CUR) != SHARED_POS) {
		fail("offsets are %ld and %ld, they were %d and %d",
		     (long)lseek(own, 0, SEEK_CUR), (long)lseek(fd, 0, SEEK_CUR),
		     TEST_POS, SHARED_POS);
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x: 3: offsets, 4: write)",
		     status);
		return 1;
	}
	if (pread(own, buf, sizeof(buf), MARK_AT) != sizeof(buf) ||
	    memcmp(buf, MARK, sizeof(buf))) {
		fail("the child's write is not in the test's memfd: two memfds");
		return 1;
	}
	if (lseek(fd, 0, SEEK_CUR) != MOVED_POS) {
		fail("the shared offset is %ld, the child moved it to %d: two "
		     "descriptions", (long)lseek(fd, 0, SEEK_CUR), MOVED_POS);
		return 1;
	}
	if (pread(own, buf, 3, 0) != 3 || memcmp(buf, "abc", 3)) {
		fail("contents changed");
		return 1;
	}
	pass();
	return 0;
}
