// SPDX-License-Identifier: GPL-2.0
/*
 * pipe00 - pipes between two processes survive a checkpoint.
 *
 * Pipe "down": the test keeps the write end, its child the read end.
 * Before the checkpoint the test writes a message the child has not read
 * yet.  After the restore the child must read exactly that message, then
 * the test writes a second one and closes its end: the child must read
 * the second message and then end-of-file (no stray writer was left
 * holding the pipe open by the restore).
 *
 * Pipe "both": both tasks hold both ends (inherited at fork) with data
 * buffered.  After the restore the test reads the first half and the child
 * the second: one pipe, not two copies.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static const char before[] = "written before the checkpoint";
static const char after[] = "written after the restore";
static const char both[] = "0123456789abcdefghijklmnopqrstuv";	/* 32 */

struct shared {
	int ready;
	int go;
	int child_read_before;
	int both_read;
};

static int read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int child_main(struct shared *sh, int down_r, int both_r)
{
	char buf[128];
	ssize_t n;

	task_set_word(&sh->ready, 1);
	task_wait_at_least(&sh->go, 1);
	if (read_exact(down_r, buf, sizeof(before)) ||
	    memcmp(buf, before, sizeof(before))) {
		fail("child: the message written before the checkpoint is lost");
		return 1;
	}
	task_set_word(&sh->child_read_before, 1);
	task_wait_at_least(&sh->go, 2);
	if (read_exact(both_r, buf, 16) || memcmp(buf, both + 16, 16)) {
		fail("child: the second half of the shared pipe differs");
		return 1;
	}
	task_set_word(&sh->both_read, 1);
	if (read_exact(down_r, buf, sizeof(after)) ||
	    memcmp(buf, after, sizeof(after))) {
		fail("child: the message written after the restore is lost");
		return 1;
	}
	n = read(down_r, buf, sizeof(buf));
	if (n != 0) {
		fail("child: expected end-of-file, read returned %zd", n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int down[2], shared_pipe[2];
	struct shared *sh;
	char buf[32];
	pid_t child;
	int status;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	if (!sh || pipe(down) || pipe(shared_pipe)) {
		pr_perror("setup");
		return 1;
	}
	if (write(shared_pipe[1], both, 32) != 32) {
		pr_perror("write");
		return 1;
	}
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(down[1]);
		exit(child_main(sh, down[0], shared_pipe[0]));
	}
	close(down[0]);
	if (write(down[1], before, sizeof(before)) != sizeof(before)) {
		pr_perror("write");
		task_kill_child(child);
		return 1;
	}
	task_wait_at_least(&sh->ready, 1);

	test_daemon();
	test_waitsig();

	task_set_word(&sh->go, 1);
	if (task_wait_at_least_ms(&sh->child_read_before, 1, 10000)) {
		fail("the child did not read the first message");
		task_kill_child(child);
		return 1;
	}
	if (read_exact(shared_pipe[0], buf, 16) || memcmp(buf, both, 16)) {
		fail("the first half of the shared pipe differs");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 2);
	if (task_wait_at_least_ms(&sh->both_read, 1, 10000)) {
		fail("the child did not read its half of the shared pipe");
		task_kill_child(child);
		return 1;
	}
	if (write(down[1], after, sizeof(after)) != sizeof(after)) {
		pr_perror("write");
		task_kill_child(child);
		return 1;
	}
	close(down[1]);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	pass();
	return 0;
}
