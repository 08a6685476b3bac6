// SPDX-License-Identifier: GPL-2.0
/*
 * fifo - a FIFO opened read-write with bytes buffered in it, and the same
 * FIFO opened read-only (non-blocking) through a second description.
 * After the restore both fds must name the FIFO's path, keep their access
 * modes and flags, and the buffered bytes must be read back exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "fifo.test";
TEST_OPTION(filename, string, "FIFO name", 0);

static const char msg[] = "bytes buffered in the FIFO";

int main(int argc, char **argv)
{
	int rw, ro, fl;
	char buf[64];
	struct stat st;

	test_init(argc, argv);
	unlink(filename);
	if (mkfifo(filename, 0640)) {
		pr_perror("mkfifo");
		return 1;
	}
	rw = open(filename, O_RDWR);
	ro = open(filename, O_RDONLY | O_NONBLOCK);
	if (rw < 0 || ro < 0) {
		pr_perror("open");
		return 1;
	}
	if (write(rw, msg, sizeof(msg)) != sizeof(msg)) {
		pr_perror("write");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fstat(rw, &st) || !S_ISFIFO(st.st_mode)) {
		fail("fd %d is not a FIFO any more", rw);
		return 1;
	}
	fl = fcntl(rw, F_GETFL);
	if ((fl & O_ACCMODE) != O_RDWR || (fl & O_NONBLOCK)) {
		fail("the read-write fd has flags %#x", fl);
		return 1;
	}
	fl = fcntl(ro, F_GETFL);
	if ((fl & O_ACCMODE) != O_RDONLY || !(fl & O_NONBLOCK)) {
		fail("the read-only fd has flags %#x", fl);
		return 1;
	}
	if (read(ro, buf, sizeof(buf)) != sizeof(msg) ||
	    memcmp(buf, msg, sizeof(msg))) {
		fail("the buffered bytes differ");
		return 1;
	}
	if (read(ro, buf, sizeof(buf)) != -1 || errno != EAGAIN) {
		fail("the FIFO holds more than was written");
		return 1;
	}
	unlink(filename);
	pass();
	return 0;
}
