// SPDX-License-Identifier: GPL-2.0
/*
 * link10 - a file opened by one name and unlinked there while another
 * hard link keeps it (needs --link-remap).  After the restore the fd
 * must still be that file (same inode as the other link), at its offset,
 * its old name must not have come back and no link_remap file may be
 * left in the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat st, other;
	struct dirent *de;
	char buf[6];
	DIR *d;
	int fd;

	test_init(argc, argv);
	unlink("link10.test");
	unlink("link10.other");
	fd = open("link10.test", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || write(fd, "hello!", 6) != 6 ||
	    link("link10.test", "link10.other") || unlink("link10.test")) {
		pr_perror("setup");
		return 1;
	}
	lseek(fd, 2, SEEK_SET);

	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || stat("link10.other", &other) ||
	    st.st_ino != other.st_ino || st.st_nlink != 1) {
		fail("the fd is not the file of link10.other any more");
		return 1;
	}
	if (lseek(fd, 0, SEEK_CUR) != 2 || pread(fd, buf, 6, 0) != 6 ||
	    memcmp(buf, "hello!", 6)) {
		fail("offset or contents differ");
		return 1;
	}
	if (access("link10.test", F_OK) == 0 || errno != ENOENT) {
		fail("the unlinked name came back");
		return 1;
	}
	d = opendir(".");
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "link_remap.", 11)) {
			fail("%s was left behind", de->d_name);
			return 1;
		}
	pass();
	return 0;
}
