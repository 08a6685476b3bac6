// SPDX-License-Identifier: GPL-2.0
/*
 * fifo_ro - a FIFO opened read-only by the test while its child holds
 * it write-only, bytes written by the child before the checkpoint still
 * unread.  After the restore the test's fd must still be read-only, read
 * exactly those bytes, and see end-of-file once the child is gone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static char *filename = "fifo_ro.test";
TEST_OPTION(filename, string, "FIFO name", 0);

static const char msg[] = "from the writer";

int main(int argc, char **argv)
{
	volatile int *words;
	char buf[64];
	pid_t child;
	int rd, status;

	test_init(argc, argv);
	unlink(filename);
	words = task_shared_alloc(4096);
	if (!words || mkfifo(filename, 0600)) {
		pr_perror("setup");
		return 1;
	}
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		int wr = open(filename, O_WRONLY);	/* waits for the reader */

		if (wr < 0 || write(wr, msg, sizeof(msg)) != sizeof(msg))
			exit(2);
		task_set_word(&words[0], 1);
		task_wait_at_least(&words[1], 1);
		exit(0);
	}
	rd = open(filename, O_RDONLY);
	if (rd < 0) {
		pr_perror("open");
		return 1;
	}
	task_wait_at_least(&words[0], 1);

	test_daemon();
	test_waitsig();

	if ((fcntl(rd, F_GETFL) & O_ACCMODE) != O_RDONLY) {
		fail("the fd is not read-only any more");
		task_kill_child(child);
		return 1;
	}
	if (read(rd, buf, sizeof(buf)) != sizeof(msg) ||
	    memcmp(buf, msg, sizeof(msg))) {
		fail("the buffered bytes differ");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&words[1], 1);
	if (task_reap_ms(child, &status, 10000) || status) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	if (read(rd, buf, sizeof(buf)) != 0) {
		fail("no end-of-file once the writer is gone");
		return 1;
	}
	unlink(filename);
	pass();
	return 0;
}
