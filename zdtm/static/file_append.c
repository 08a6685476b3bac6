// SPDX-License-Identifier: GPL-2.0
/*
 * file_append - open flags that live in the open file description survive
 * a checkpoint: O_APPEND (writes go to the end, wherever the offset is),
 * O_PATH (a handle that cannot read), O_NOATIME, O_DIRECT where the file
 * system allows it, and a file opened through a symlink (the fd names the
 * target).  After the restore each flag must read back as set, an
 * O_APPEND write must land at the end of the file and the O_PATH fd must
 * still refuse to read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define CHECK_FL(fd, flag, what)					\
	do {								\
		if (!(fcntl(fd, F_GETFL) & (flag))) {			\
			fail("%s lost %s", what, #flag);		\
			return 1;					\
		}							\
	} while (0)

int main(int argc, char **argv)
{
	int app, path, noatime, direct, via_link;
	struct stat st, st_link;
	char c;

	test_init(argc, argv);
	app = open("file_append.test", O_RDWR | O_CREAT | O_TRUNC | O_APPEND,
		   0644);
	if (app < 0 || write(app, "0123456789", 10) != 10) {
		pr_perror("open");
		return 1;
	}
	lseek(app, 3, SEEK_SET);
	path = open("file_append.test", O_PATH);
	noatime = open("file_append.test", O_RDONLY | O_NOATIME);
	unlink("file_append.link");
	if (symlink("file_append.test", "file_append.link")) {
		pr_perror("symlink");
		return 1;
	}
	via_link = open("file_append.link", O_RDONLY);
	direct = open("file_append.test", O_RDONLY | O_DIRECT);
	if (direct < 0 && errno == EINVAL)
		test_msg("O_DIRECT is not supported here: not checked\n");
	if (path < 0 || noatime < 0 || via_link < 0) {
		pr_perror("open");
		return 1;
	}

	test_daemon();
	test_waitsig();

	CHECK_FL(app, O_APPEND, "the append fd");
	CHECK_FL(path, O_PATH, "the path fd");
	CHECK_FL(noatime, O_NOATIME, "the noatime fd");
	if (direct >= 0)
		CHECK_FL(direct, O_DIRECT, "the direct fd");
	if (lseek(app, 0, SEEK_CUR) != 3) {
		fail("the append fd's offset moved");
		return 1;
	}
	if (write(app, "x", 1) != 1 || fstat(app, &st) || st.st_size != 11 ||
	    pread(noatime, &c, 1, 10) != 1 || c != 'x') {
		fail("an O_APPEND write did not go to the end");
		return 1;
	}
	if (read(path, &c, 1) != -1 || errno != EBADF) {
		fail("the O_PATH fd can read");
		return 1;
	}
	if (fstat(via_link, &st_link) || st_link.st_ino != st.st_ino) {
		fail("the fd opened through the symlink is another file");
		return 1;
	}
	pass();
	return 0;
}
