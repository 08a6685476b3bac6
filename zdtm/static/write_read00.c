// SPDX-License-Identifier: GPL-2.0
/*
 * write_read00 - a file open for writing keeps its flags and its position:
 * what is written after the checkpoint lands right after what was written
 * before it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PART1 3000
#define PART2 5000

static char *filename = "write_read00.test";
TEST_OPTION(filename, string, "file to write", 0);

static void fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)('A' + (i * 7 + seed) % 26);
}

int main(int argc, char **argv)
{
	char data[PART1 + PART2], back[PART1 + PART2 + 1];
	struct stat st_before, st_after;
	int fd, flags, ret = 1;
	off_t pos;
	ssize_t n;

	test_init(argc, argv);
	fill(data, sizeof(data), 3);

	fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0) {
		pr_perror("can't create %s", filename);
		return 1;
	}
	if (write(fd, data, PART1) != PART1) {
		pr_perror("can't write %s", filename);
		goto out;
	}
	flags = fcntl(fd, F_GETFL);
	if (fstat(fd, &st_before)) {
		pr_perror("fstat");
		goto out;
	}

	test_daemon();
	test_waitsig();

	if (fcntl(fd, F_GETFL) != flags) {
		fail("file flags are %#x, expected %#x", fcntl(fd, F_GETFL),
		     flags);
		goto out;
	}
	pos = lseek(fd, 0, SEEK_CUR);
	if (pos != PART1) {
		fail("position is %lld, expected %d", (long long)pos, PART1);
		goto out;
	}
	if (fstat(fd, &st_after) || st_after.st_ino != st_before.st_ino ||
	    st_after.st_dev != st_before.st_dev ||
	    st_after.st_mode != st_before.st_mode) {
		fail("the fd no longer refers to the same file");
		goto out;
	}
	if (write(fd, data + PART1, PART2) != PART2) {
		fail("can't write after restore");
		goto out;
	}
	close(fd);

	fd = open(filename, O_RDONLY);
	if (fd < 0) {
		fail("can't reopen %s", filename);
		goto out;
	}
	n = read(fd, back, sizeof(back));
	if (n != PART1 + PART2 || memcmp(back, data, n)) {
		fail("%s holds %zd bytes, not the %d written", filename, n,
		     PART1 + PART2);
		goto out;
	}
	pass();
	ret = 0;
out:
	close(fd);
	unlink(filename);
	return ret;
}
