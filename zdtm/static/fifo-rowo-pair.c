// SPDX-License-Identifier: GPL-2.0
/*
 * fifo-rowo-pair - a FIFO read by the test and written by its child, each
 * having opened it by name (two descriptions, one FIFO).  The child
 * writes a message before the checkpoint; after the restore the test
 * reads it, the child writes a second one and exits, and the test must
 * read it and then end-of-file: no writer is left behind by the restore.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static char *filename = "fifo-rowo-pair.test";
TEST_OPTION(filename, string, "FIFO name", 0);

static const char first[] = "before";
static const char second[] = "after";

int main(int argc, char **argv)
{
	volatile int *words;
	char buf[32];
	pid_t child;
	int rd, status;
	ssize_t n;

	test_init(argc, argv);
	unlink(filename);
	words = task_shared_alloc(4096);
	if (!words || mkfifo(filename, 0640)) {
		pr_perror("setup");
		return 1;
	}
	rd = open(filename, O_RDONLY | O_NONBLOCK);
	if (rd < 0) {
		pr_perror("open");
		return 1;
	}
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		int wr = open(filename, O_WRONLY);

		close(rd);
		if (wr < 0 || write(wr, first, sizeof(first)) != sizeof(first))
			exit(2);
		task_set_word(&words[0], 1);
		task_wait_at_least(&words[1], 1);
		if (write(wr, second, sizeof(second)) != sizeof(second))
			exit(3);
		exit(0);
	}
	task_wait_at_least(&words[0], 1);

	test_daemon();
	test_waitsig();

	n = read(rd, buf, sizeof(buf));
	if (n != sizeof(first) || memcmp(buf, first, n)) {
		fail("read %zd bytes, not the child's first message", n);
		task_kill_child(child);
		return 1;
	}
	fcntl(rd, F_SETFL, 0);
	task_set_word(&words[1], 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	n = read(rd, buf, sizeof(buf));
	if (n != sizeof(second) || memcmp(buf, second, n)) {
		fail("read %zd bytes, not the child's second message", n);
		return 1;
	}
	n = read(rd, buf, sizeof(buf));
	if (n != 0) {
		fail("expected end-of-file, read returned %zd", n);
		return 1;
	}
	unlink(filename);
	pass();
	return 0;
}
