// SPDX-License-Identifier: GPL-2.0
/*
 * fifo_wronly - a FIFO opened write-only by the test while its child
 * reads it, with bytes written before the checkpoint not read yet.  After
 * the restore the fd must still be write-only, and the child must read
 * the old bytes followed by new ones written then, in order.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static char *filename = "fifo_wronly.test";
TEST_OPTION(filename, string, "FIFO name", 0);

int main(int argc, char **argv)
{
	volatile int *words;
	pid_t child;
	int wr, status;

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
		char buf[16];
		int rd = open(filename, O_RDONLY);	/* waits for the writer */

		if (rd < 0)
			exit(2);
		task_set_word(&words[0], 1);
		task_wait_at_least(&words[1], 1);
		if (read(rd, buf, 12) != 12 || memcmp(buf, "beforeafter!", 12))
			exit(3);
		exit(0);
	}
	wr = open(filename, O_WRONLY);
	if (wr < 0 || write(wr, "before", 6) != 6) {
		pr_perror("open/write");
		return 1;
	}
	task_wait_at_least(&words[0], 1);

	test_daemon();
	test_waitsig();

	if ((fcntl(wr, F_GETFL) & O_ACCMODE) != O_WRONLY) {
		fail("the fd is not write-only any more");
		task_kill_child(child);
		return 1;
	}
	if (write(wr, "after!", 6) != 6) {
		fail("cannot write to the FIFO");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&words[1], 1);
	if (task_reap_ms(child, &status, 10000) || status) {
		fail("the child read something else (status %#x)", status);
		return 1;
	}
	unlink(filename);
	pass();
	return 0;
}
