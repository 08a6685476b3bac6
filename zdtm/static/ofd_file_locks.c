// SPDX-License-Identifier: GPL-2.0
/*
 * ofd_file_locks - open file description locks survive a checkpoint: a
 * write lock on [0, 10) and a read lock on [100, 200) held through one
 * description.  After the restore F_OFD_GETLK through another
 * description must report both locks, and the range between must be
 * free.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

static int ofd(int fd, int cmd, short type, off_t start, off_t len,
	       struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = len;
	return fcntl(fd, cmd, fl);
}

int main(int argc, char **argv)
{
	struct flock fl;
	int fd, other;

	test_init(argc, argv);
	fd = open("ofd_file_locks.test", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ofd(fd, F_OFD_SETLK, F_WRLCK, 0, 10, &fl) ||
	    ofd(fd, F_OFD_SETLK, F_RDLCK, 100, 100, &fl)) {
		pr_perror("setup");
		return 1;
	}

	test_daemon();
	test_waitsig();

	other = open("ofd_file_locks.test", O_RDWR);
	if (other < 0) {
		pr_perror("open");
		return 1;
	}
	if (ofd(other, F_OFD_GETLK, F_RDLCK, 5, 1, &fl) ||
	    fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 10) {
		fail("the write lock on [0, 10) is gone");
		return 1;
	}
	if (ofd(other, F_OFD_GETLK, F_WRLCK, 150, 1, &fl) ||
	    fl.l_type != F_RDLCK || fl.l_start != 100 || fl.l_len != 100) {
		fail("the read lock on [100, 200) is gone");
		return 1;
	}
	if (ofd(other, F_OFD_GETLK, F_WRLCK, 10, 90, &fl) ||
	    fl.l_type != F_UNLCK) {
		fail("[10, 100) is locked");
		return 1;
	}
	pass();
	return 0;
}
