// SPDX-License-Identifier: GPL-2.0
/*
 * rmdir_open - a directory kept open after it was removed (with a mode
 * the test chose).  After the restore the fd must still be a removed
 * directory (no links, same mode), its name must not have come back, and
 * creating a file in it must fail with ENOENT as it did.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *dirname = "rmdir_open.test";
TEST_OPTION(dirname, string, "directory name", 0);

int main(int argc, char **argv)
{
	struct stat st;
	int fd;

	test_init(argc, argv);
	rmdir(dirname);
	if (mkdir(dirname, 0751)) {
		pr_perror("mkdir");
		return 1;
	}
	fd = open(dirname, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || rmdir(dirname)) {
		pr_perror("open/rmdir");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || !S_ISDIR(st.st_mode) ||
	    (st.st_mode & 07777) != 0751 || st.st_nlink != 0) {
		fail("fd %d is not the removed directory (mode %o, links %lu)",
		     fd, st.st_mode, (unsigned long)st.st_nlink);
		return 1;
	}
	if (access(dirname, F_OK) == 0 || errno != ENOENT) {
		fail("%s exists again", dirname);
		return 1;
	}
	if (openat(fd, "new", O_CREAT | O_WRONLY, 0600) >= 0 ||
	    errno != ENOENT) {
		fail("a file could be created in the removed directory");
		return 1;
	}
	pass();
	return 0;
}
