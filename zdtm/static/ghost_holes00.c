// SPDX-License-Identifier: GPL-2.0
/*
 * ghost_holes00 - an unlinked sparse file keeps its holes: data at the
 * start, in the middle and at the end of a 64 MiB file, holes between.
 * After the restore the data must read back and SEEK_DATA/SEEK_HOLE must
 * find the same regions (the image held the data only).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "ghost_holes00.test";
TEST_OPTION(filename, string, "file name", 0);

#define MIB (1L << 20)
static const off_t at[] = { 0, 32 * MIB, 64 * MIB - 4096 };

int main(int argc, char **argv)
{
	char page[4096], back[4096];
	struct stat st;
	int fd, i;

	test_init(argc, argv);
	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || unlink(filename)) {
		pr_perror("setup");
		return 1;
	}
	for (i = 0; i < 3; i++) {
		memset(page, 'a' + i, sizeof(page));
		if (pwrite(fd, page, sizeof(page), at[i]) != sizeof(page)) {
			pr_perror("pwrite");
			return 1;
		}
	}
	if (lseek(fd, 4096, SEEK_DATA) != 32 * MIB) {
		pr_err("the work directory's file system does not keep holes\n");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (fstat(fd, &st) || st.st_size != 64 * MIB) {
		fail("the size changed");
		return 1;
	}
	for (i = 0; i < 3; i++) {
		memset(page, 'a' + i, sizeof(page));
		if (pread(fd, back, sizeof(back), at[i]) != sizeof(back) ||
		    memcmp(page, back, sizeof(page))) {
			fail("data region %d differs", i);
			return 1;
		}
	}
	if (lseek(fd, 0, SEEK_HOLE) != 4096 ||
	    lseek(fd, 4096, SEEK_DATA) != 32 * MIB ||
	    lseek(fd, 32 * MIB, SEEK_HOLE) != 32 * MIB + 4096 ||
	    lseek(fd, 32 * MIB + 4096, SEEK_DATA) != 64 * MIB - 4096) {
		fail("the holes are not where they were");
		return 1;
	}
	pass();
	return 0;
}
