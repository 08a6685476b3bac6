// SPDX-License-Identifier: GPL-2.0
/*
 * unlink_fifo - a FIFO kept open after its name was unlinked, with bytes
 * in it.  After the restore the fd must still be a FIFO with the same
 * mode, its name must not have come back, and the bytes must be there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "unlink_fifo.test";
TEST_OPTION(filename, string, "FIFO name", 0);

static const char msg[] = "in an unlinked FIFO";

int main(int argc, char **argv)
{
	struct stat st;
	char buf[64];
	int fd;

	test_init(argc, argv);
	unlink(filename);
	if (mkfifo(filename, 0604)) {
		pr_perror("mkfifo");
		return 1;
	}
	fd = open(filename, O_RDWR);
	if (fd < 0 || unlink(filename) ||
	    write(fd, msg, sizeof(msg)) != sizeof(msg)) {
		pr_perror("setup");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode) ||
	    (st.st_mode & 07777) != 0604 || st.st_nlink != 0) {
		fail("the fd is not the unlinked FIFO (mode %o, links %lu)",
		     st.st_mode, (unsigned long)st.st_nlink);
		return 1;
	}
	if (access(filename, F_OK) == 0 || errno != ENOENT) {
		fail("%s exists again", filename);
		return 1;
	}
	if (read(fd, buf, sizeof(buf)) != sizeof(msg) ||
	    memcmp(buf, msg, sizeof(msg))) {
		fail("the buffered bytes differ");
		return 1;
	}
	pass();
	return 0;
}
