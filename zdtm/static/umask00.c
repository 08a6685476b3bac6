// SPDX-License-Identifier: GPL-2.0
/* umask00 - the file mode creation mask is kept, and still applies. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static unsigned int mask = 0345;
TEST_OPTION(mask, uint, "umask to set (octal with a leading 0)", 0);

static char *filename = "umask00.test";
TEST_OPTION(filename, string, "file created to see the mask applied", 0);

int main(int argc, char **argv)
{
	mode_t got;
	struct stat st;
	int fd;

	test_init(argc, argv);
	mask &= 0777;
	umask(mask);

	test_daemon();
	test_waitsig();

	got = umask(mask);
	if (got != mask) {
		fail("umask is %#o, expected %#o", got, mask);
		return 1;
	}
	fd = open(filename, O_CREAT | O_EXCL | O_WRONLY, 0777);
	if (fd < 0 || fstat(fd, &st)) {
		fail("can't create %s", filename);
		return 1;
	}
	close(fd);
	unlink(filename);
	if ((st.st_mode & 0777) != (0777 & ~mask)) {
		fail("a file created with 0777 has mode %#o, expected %#o",
		     st.st_mode & 0777, 0777 & ~mask);
		return 1;
	}
	pass();
	return 0;
}
