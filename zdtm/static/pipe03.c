// SPDX-License-Identifier: GPL-2.0
/*
 * pipe03 - pipe sizes set with F_SETPIPE_SZ survive a checkpoint: one
 * pipe made larger than the default (with data in it), one made as small
 * as a page.  After the restore F_GETPIPE_SZ must return the sizes set,
 * and the large pipe must take that many bytes without blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

#define BIG (256 * 1024)

int main(int argc, char **argv)
{
	int big[2], small[2], size_big, size_small;
	static char buf[BIG];
	ssize_t n;

	test_init(argc, argv);
	if (pipe2(big, O_NONBLOCK) || pipe2(small, O_NONBLOCK)) {
		pr_perror("pipe2");
		return 1;
	}
	size_big = fcntl(big[1], F_SETPIPE_SZ, BIG);
	size_small = fcntl(small[1], F_SETPIPE_SZ, 4096);
	if (size_big < BIG || size_small < 0) {
		pr_perror("F_SETPIPE_SZ");
		return 1;
	}
	if (write(big[1], buf, 1000) != 1000) {
		pr_perror("write");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fcntl(big[0], F_GETPIPE_SZ) != size_big ||
	    fcntl(small[0], F_GETPIPE_SZ) != size_small) {
		fail("pipe sizes %d and %d, they were %d and %d",
		     fcntl(big[0], F_GETPIPE_SZ), fcntl(small[0], F_GETPIPE_SZ),
		     size_big, size_small);
		return 1;
	}
	n = write(big[1], buf, size_big - 1000);
	if (n != size_big - 1000) {
		fail("the large pipe took %zd bytes more, not %d", n,
		     size_big - 1000);
		return 1;
	}
	pass();
	return 0;
}
