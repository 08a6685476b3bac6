// SPDX-License-Identifier: GPL-2.0
/*
 * pipe02 - two open file descriptions of one end of a pipe stay two:
 * the read end is opened a second time through /proc/self/fd (a new
 * description, here non-blocking) and dup()ed.  After the restore the
 * flags of each description must be as before (O_NONBLOCK on one only,
 * shared by its dup), and data written to the pipe must be readable
 * through both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	int p[2], second, dup_of_second;
	char path[64], c;

	test_init(argc, argv);
	if (pipe(p)) {
		pr_perror("pipe");
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	second = open(path, O_RDONLY | O_NONBLOCK);
	dup_of_second = dup(second);
	if (second < 0 || dup_of_second < 0) {
		pr_perror("reopen");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fcntl(p[0], F_GETFL) & O_NONBLOCK) {
		fail("the first read end became non-blocking");
		return 1;
	}
	if (!(fcntl(second, F_GETFL) & O_NONBLOCK) ||
	    !(fcntl(dup_of_second, F_GETFL) & O_NONBLOCK)) {
		fail("the second description lost O_NONBLOCK");
		return 1;
	}
	fcntl(dup_of_second, F_SETFL, 0);
	if (fcntl(second, F_GETFL) & O_NONBLOCK) {
		fail("the dup does not share its description any more");
		return 1;
	}
	if (fcntl(p[0], F_GETFL) & O_NONBLOCK) {
		fail("the first description follows the second");
		return 1;
	}
	fcntl(second, F_SETFL, O_NONBLOCK);
	if (write(p[1], "ab", 2) != 2) {
		pr_perror("write");
		return 1;
	}
	if (read(second, &c, 1) != 1 || c != 'a' ||
	    read(p[0], &c, 1) != 1 || c != 'b') {
		fail("the two descriptions do not read one pipe");
		return 1;
	}
	if (read(second, &c, 1) != -1 || errno != EAGAIN) {
		fail("the pipe is not empty");
		return 1;
	}
	pass();
	return 0;
}
