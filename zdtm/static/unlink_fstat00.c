// SPDX-License-Identifier: GPL-2.0
/*
 * unlink_fstat00 - a file unlinked while open keeps its contents, size,
 * mode and offset across a checkpoint: after the restore fstat() must
 * say no links, the same size and mode, the offset must be where it was,
 * the contents must read back, and the name must not have come back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "unlink_fstat00.test";
TEST_OPTION(filename, string, "file name", 0);

#define SIZE 10000

int main(int argc, char **argv)
{
	static unsigned char buf[SIZE], back[SIZE];
	struct stat st;
	int fd, i;

	test_init(argc, argv);
	for (i = 0; i < SIZE; i++)
		buf[i] = (unsigned char)(i * 13 + 5);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE || unlink(filename)) {
		pr_perror("setup");
		return 1;
	}
	lseek(fd, 1234, SEEK_SET);

	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != SIZE ||
	    (st.st_mode & 07777) != 0640) {
		fail("fstat: links %lu size %ld mode %o", (unsigned long)st.st_nlink,
		     (long)st.st_size, st.st_mode & 07777);
		return 1;
	}
	if (lseek(fd, 0, SEEK_CUR) != 1234) {
		fail("the offset moved");
		return 1;
	}
	if (pread(fd, back, SIZE, 0) != SIZE || memcmp(buf, back, SIZE)) {
		fail("the contents differ");
		return 1;
	}
	if (access(filename, F_OK) == 0 || errno != ENOENT) {
		fail("%s exists again", filename);
		return 1;
	}
	pass();
	return 0;
}
