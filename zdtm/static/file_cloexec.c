// SPDX-License-Identifier: GPL-2.0
/*
 * file_cloexec - FD_CLOEXEC belongs to each fd, not to the description:
 * a file opened with O_CLOEXEC, a dup of it without, a pipe end with the
 * flag set by F_SETFD and one without, and fds left with gaps between
 * them and one far above the others (fd 1000).  After the restore every
 * fd must carry the close-on-exec flag it had, and the gaps must still be
 * free.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "zdtmtst.h"

#define HIGH 1000

int main(int argc, char **argv)
{
	int f, d, p[2], hole, high;
	struct { int fd; int cloexec; const char *what; } fds[5];
	int i;

	test_init(argc, argv);
	f = open("/dev/null", O_RDONLY | O_CLOEXEC);
	d = dup(f);
	hole = dup(f);
	if (f < 0 || d < 0 || hole < 0 || pipe(p)) {
		pr_perror("setup");
		return 1;
	}
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	high = dup2(d, HIGH);
	if (high != HIGH || fcntl(high, F_SETFD, FD_CLOEXEC)) {
		pr_perror("dup2");
		return 1;
	}
	close(hole);
	fds[0].fd = f; fds[0].cloexec = 1; fds[0].what = "O_CLOEXEC file";
	fds[1].fd = d; fds[1].cloexec = 0; fds[1].what = "its dup";
	fds[2].fd = p[0]; fds[2].cloexec = 1; fds[2].what = "pipe read end";
	fds[3].fd = p[1]; fds[3].cloexec = 0; fds[3].what = "pipe write end";
	fds[4].fd = high; fds[4].cloexec = 1; fds[4].what = "fd 1000";

	test_daemon();
	test_waitsig();

	for (i = 0; i < 5; i++) {
		int fl = fcntl(fds[i].fd, F_GETFD);

		if (fl < 0) {
			fail("%s (fd %d) is gone", fds[i].what, fds[i].fd);
			return 1;
		}
		if (!!(fl & FD_CLOEXEC) != fds[i].cloexec) {
			fail("%s (fd %d): FD_CLOEXEC is %d, it was %d",
			     fds[i].what, fds[i].fd, !!(fl & FD_CLOEXEC),
			     fds[i].cloexec);
			return 1;
		}
	}
	if (fcntl(hole, F_GETFD) != -1) {
		fail("fd %d was closed, now it is open", hole);
		return 1;
	}
	pass();
	return 0;
}
