// SPDX-License-Identifier: GPL-2.0
/*
 * file_shared - open file descriptions shared between processes stay
 * shared after a checkpoint, and separate ones stay separate.
 *
 * The test opens a file twice ("shared" and "own"), then forks: the child
 * inherits both fds.  Before the checkpoint the test moves the shared
 * offset to 100 and the child moves its "own" copy... which is the same
 * description as the test's, so the child opens the file a third time
 * ("mine") and moves that one to 300.  After the restore the child moves
 * the shared offset to 1000 through its fd: the test must see 1000
 * through its own fd; "mine" must still be at 300 in the child and the
 * test's "own" description at 200.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static char *filename = "file_shared.test";
TEST_OPTION(filename, string, "file to share", 0);

struct shared {
	int ready;
	int go;
	int moved;
	long mine_pos;
};

int main(int argc, char **argv)
{
	int shared_fd, own_fd, mine_fd;
	struct shared *sh;
	char zero[4096] = { 0 };
	off_t pos;
	pid_t child;
	int status;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	shared_fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	own_fd = open(filename, O_RDONLY);
	if (!sh || shared_fd < 0 || own_fd < 0) {
		pr_perror("open %s", filename);
		return 1;
	}
	if (write(shared_fd, zero, sizeof(zero)) != sizeof(zero)) {
		pr_perror("write");
		return 1;
	}
	lseek(shared_fd, 100, SEEK_SET);
	lseek(own_fd, 200, SEEK_SET);

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		mine_fd = open(filename, O_RDONLY);
		if (mine_fd < 0 || lseek(mine_fd, 300, SEEK_SET) != 300)
			exit(2);
		task_set_word(&sh->ready, 1);
		task_wait_at_least(&sh->go, 1);
		sh->mine_pos = lseek(mine_fd, 0, SEEK_CUR);
		if (lseek(shared_fd, 1000, SEEK_SET) != 1000)
			exit(3);
		task_set_word(&sh->moved, 1);
		exit(0);
	}
	task_wait_at_least(&sh->ready, 1);

	test_daemon();
	test_waitsig();

	pos = lseek(shared_fd, 0, SEEK_CUR);
	if (pos != 100) {
		fail("shared offset is %ld, it was 100", (long)pos);
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	if (!sh->moved) {
		fail("the child did not move the shared offset");
		return 1;
	}
	if (sh->mine_pos != 300) {
		fail("the child's own description is at %ld, it was 300",
		     sh->mine_pos);
		return 1;
	}
	pos = lseek(shared_fd, 0, SEEK_CUR);
	if (pos != 1000) {
		fail("the child moved the shared offset to 1000, here it is %ld: "
		     "the description is not shared any more", (long)pos);
		return 1;
	}
	pos = lseek(own_fd, 0, SEEK_CUR);
	if (pos != 200) {
		fail("the separate description is at %ld, it was 200",
		     (long)pos);
		return 1;
	}
	pass();
	return 0;
}
