// SPDX-License-Identifier: GPL-2.0
/*
 * memfd00 - a memfd comes back with its name, contents, holes, size and
 * the offsets of its open file descriptions.
 *
 * The test makes a memfd named NAME (with blanks in it), fills the first
 * 3 MiB + 123 bytes with a pattern, leaves a hole of HOLE bytes and puts
 * a last run of bytes after it that ends mid-page.  Its fd is left at
 * offset POS1; a second, read-only description of the same memfd (opened
 * through /proc/self/fd) is left at POS2.  After the restore:
 *  - /proc/self/fd/N reads "/memfd:NAME (deleted)" for both fds;
 *  - size, contents (every byte) and the hole (SEEK_DATA skips it, it
 *    reads zeros) are as they were;
 *  - the offsets are POS1 and POS2, the second fd is read-only, and both
 *    fds are one file: a byte written through the first is read through
 *    the second.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NAME	"memfd00 test name"
#define FIRST	(3 * 1024 * 1024 + 123)
#define HOLE	(5 * 4096 + 1000)
#define LAST	10000
#define SIZE	(FIRST + HOLE + LAST)
#define POS1	12345
#define POS2	(FIRST + 7)

static unsigned char byte_at(long off)
{
	return (unsigned char)((off * 31 + (off >> 12) * 7) ^ 0x5a);
}

static int check_link(int fd)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		fail("readlink %s", path);
		return -1;
	}
	link[n] = '\0';
	if (strcmp(link, "/memfd:" NAME " (deleted)")) {
		fail("fd %d is \"%s\"", fd, link);
		return -1;
	}
	return 0;
}

static int check_contents(int fd)
{
	static unsigned char buf[1 << 16];
	long off = 0, i;
	ssize_t n;

	while (off < SIZE) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0) {
			fail("read at %ld", off);
			return -1;
		}
		for (i = 0; i < n; i++, off++) {
			int in_hole = off >= FIRST && off < FIRST + HOLE;
			unsigned char want = in_hole ? 0 : byte_at(off);

			if (buf[i] != want) {
				fail("byte %ld is %#x, it was %#x", off, buf[i],
				     want);
				return -1;
			}
		}
	}
	if (pread(fd, buf, 1, SIZE) != 0) {
		fail("data past the end");
		return -1;
	}
	return 0;
}

static int fill(int fd, long from, long len)
{
	static unsigned char buf[1 << 16];
	long i, n;

	while (len > 0) {
		n = len < (long)sizeof(buf) ? len : (long)sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = byte_at(from + i);
		if (pwrite(fd, buf, n, from) != n)
			return -1;
		from += n;
		len -= n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[64];
	struct stat st;
	int fd, ro, fl;
	off_t data;
	char c;

	test_init(argc, argv);
	fd = memfd_create(NAME, 0);
	if (fd < 0 || fill(fd, 0, FIRST) || fill(fd, FIRST + HOLE, LAST)) {
		pr_perror("memfd");
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY);
	if (ro < 0 || lseek(fd, POS1, SEEK_SET) != POS1 ||
	    lseek(ro, POS2, SEEK_SET) != POS2) {
		pr_perror("reopen");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_link(fd) || check_link(ro))
		return 1;
	if (fstat(fd, &st) || st.st_size != SIZE) {
		fail("size is %ld, it was %ld", (long)st.st_size, (long)SIZE);
		return 1;
	}
	if (check_contents(fd))
		return 1;
	if (lseek(fd, 0, SEEK_CUR) != POS1 || lseek(ro, 0, SEEK_CUR) != POS2) {
		fail("offsets are %ld and %ld, they were %d and %d",
		     (long)lseek(fd, 0, SEEK_CUR), (long)lseek(ro, 0, SEEK_CUR),
		     POS1, POS2);
		return 1;
	}
	data = lseek(fd, FIRST + 4096, SEEK_DATA);
	if (data < FIRST + HOLE - 4096 || data > FIRST + HOLE) {
		fail("the hole is gone: data at %ld", (long)data);
		return 1;
	}
	fl = fcntl(ro, F_GETFL);
	if ((fl & O_ACCMODE) != O_RDONLY ||
	    (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) {
		fail("access modes changed (%#x)", fl);
		return 1;
	}
	if (pwrite(fd, "Z", 1, 3) != 1 || pread(ro, &c, 1, 3) != 1 || c != 'Z') {
		fail("the two fds are not one memfd any more");
		return 1;
	}
	pass();
	return 0;
}
