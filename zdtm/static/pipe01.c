// SPDX-License-Identifier: GPL-2.0
/*
 * pipe01 - a pipe filled to its capacity keeps every byte: the test fills
 * a pipe (a pattern that differs at every byte) until a non-blocking
 * write fails, and after the restore reads the same number of bytes with
 * the same contents, and then nothing more.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 8) * 13 + 1);
}

int main(int argc, char **argv)
{
	unsigned char buf[4096];
	size_t total = 0, got = 0, i;
	int p[2];
	ssize_t n;

	test_init(argc, argv);
	if (pipe2(p, O_NONBLOCK)) {
		pr_perror("pipe2");
		return 1;
	}
	for (;;) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(total + i);
		n = write(p[1], buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			pr_perror("write");
			return 1;
		}
		total += n;
	}
	test_msg("the pipe holds %zu bytes\n", total);

	test_daemon();
	test_waitsig();

	while (got < total) {
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0) {
			fail("read %zu of %zu bytes, then %zd", got, total, n);
			return 1;
		}
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(got + i)) {
				fail("byte %zu differs", got + i);
				return 1;
			}
		got += n;
	}
	n = read(p[0], buf, sizeof(buf));
	if (n != -1 || errno != EAGAIN) {
		fail("more than the %zu bytes written came back", total);
		return 1;
	}
	pass();
	return 0;
}
