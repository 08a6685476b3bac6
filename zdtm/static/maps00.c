// SPDX-License-Identifier: GPL-2.0
/*
 * maps00 - private mappings of each kind keep their place, protections,
 * backing file and contents across a checkpoint:
 *   anonymous read-write, partly written and partly never touched;
 *   anonymous read-only (all zeroes);
 *   a file mapped privately read-write with some pages written (copy on
 *   write: those pages differ from the file, the others show the file);
 *   the same file mapped read-only at an offset, and read-exec.
 * The file itself must not change: private writes never reach it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES 8

static char *filename = "maps00.test";
TEST_OPTION(filename, string, "file to map", 0);

struct area {
	const char *what;
	char *addr;
	size_t len;
	unsigned long long sum;
	struct test_vma vma;
};

static long page;

static void fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i * 7 + (i >> 12));
}

static int record(struct area *a)
{
	a->sum = test_checksum(a->addr, a->len);
	if (test_find_vma((unsigned long)a->addr, &a->vma)) {
		fail("%s at %p is not in /proc/self/maps", a->what, a->addr);
		return -1;
	}
	return 0;
}

/* The file offset a page of a mapping shows, or 0 for anonymous memory. */
static unsigned long file_offset(const struct test_vma *vma, unsigned long addr)
{
	if (!vma->path[0] || vma->path[0] == '[')
		return 0;
	return vma->pgoff + (addr - vma->start);
}

/*
 * Every page of the area must still be mapped with the same protections,
 * the same file and the same file offset.  The VMA boundaries themselves
 * may differ: the kernel may merge the area with a neighbour of identical
 * properties (or keep it apart) for reasons the task cannot observe.
 */
static int check(struct area *a)
{
	unsigned long addr;
	struct test_vma now;

	for (addr = (unsigned long)a->addr;
	     addr < (unsigned long)a->addr + a->len; addr += page) {
		if (test_find_vma(addr, &now)) {
			fail("%s: page %#lx is no longer mapped", a->what, addr);
			return -1;
		}
		if (strcmp(now.perms, a->vma.perms) ||
		    strcmp(now.path, a->vma.path) ||
		    file_offset(&now, addr) != file_offset(&a->vma, addr)) {
			fail("%s: page %#lx was %s %s+%#lx, is %s %s+%#lx",
			     a->what, addr, a->vma.perms, a->vma.path,
			     file_offset(&a->vma, addr), now.perms, now.path,
			     file_offset(&now, addr));
			return -1;
		}
	}
	if (test_checksum(a->addr, a->len) != a->sum) {
		fail("contents of %s at %p changed", a->what, a->addr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct area areas[5];
	char *file_data, *buf, *expect;
	size_t flen;
	int fd, i, n = 0, ret = 1;

	test_init(argc, argv);
	page = sysconf(_SC_PAGESIZE);
	flen = NPAGES * page;

	file_data = malloc(flen);
	buf = malloc(flen);
	expect = malloc(flen);
	if (!file_data || !buf || !expect) {
		pr_perror("malloc");
		return 1;
	}
	fill(file_data, flen, 1);

	fd = open(filename, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, file_data, flen) != (ssize_t)flen) {
		pr_perror("can't create %s", filename);
		return 1;
	}

	/* Anonymous, read-write: even pages written, odd pages never touched. */
	areas[n] = (struct area){ .what = "anon rw", .len = flen };
	areas[n].addr = mmap(NULL, flen, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; areas[n].addr != MAP_FAILED && i < NPAGES; i += 2)
		fill(areas[n].addr + i * page, page, 100 + i);
	n++;

	/* Anonymous, read-only: zero pages. */
	areas[n] = (struct area){ .what = "anon ro", .len = 2 * page };
	areas[n].addr = mmap(NULL, 2 * page, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	n++;

	/* File, private read-write: pages 1 and 5 copied on write. */
	areas[n] = (struct area){ .what = "file private rw", .len = flen };
	areas[n].addr = mmap(NULL, flen, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			     fd, 0);
	if (areas[n].addr != MAP_FAILED) {
		fill(areas[n].addr + 1 * page, page, 200);
		fill(areas[n].addr + 5 * page + 100, 50, 201);
	}
	n++;

	/* File, private read-only, from the third page on. */
	areas[n] = (struct area){ .what = "file private ro", .len = 4 * page };
	areas[n].addr = mmap(NULL, 4 * page, PROT_READ, MAP_PRIVATE, fd,
			     2 * page);
	n++;

	/* File, private read-exec. */
	areas[n] = (struct area){ .what = "file private rx", .len = 2 * page };
	areas[n].addr = mmap(NULL, 2 * page, PROT_READ | PROT_EXEC,
			     MAP_PRIVATE, fd, 4 * page);
	n++;

	for (i = 0; i < n; i++) {
		if (areas[i].addr == MAP_FAILED) {
			pr_perror("can't map %s", areas[i].what);
			return 1;
		}
		if (record(&areas[i]))
			return 1;
	}
	close(fd);

	test_daemon();
	test_waitsig();

	for (i = 0; i < n; i++)
		if (check(&areas[i]))
			goto out;

	/* What each page must hold, not only that it is as before. */
	memcpy(expect, file_data, flen);
	fill(expect + 1 * page, page, 200);
	fill(expect + 5 * page + 100, 50, 201);
	if (memcmp(areas[2].addr, expect, flen)) {
		fail("private file mapping lost its copied-on-write pages");
		goto out;
	}
	if (memcmp(areas[3].addr, file_data + 2 * page, 4 * page) ||
	    memcmp(areas[4].addr, file_data + 4 * page, 2 * page)) {
		fail("read-only file mappings do not show the file");
		goto out;
	}
	for (i = 1; i < NPAGES; i += 2) {
		char *p = areas[0].addr + i * page;

		if (p[0] || memcmp(p, p + 1, page - 1)) {
			fail("untouched anonymous page %d is not zero", i);
			goto out;
		}
	}

	/* The file is as written: private writes never reached it. */
	fd = open(filename, O_RDONLY);
	if (fd < 0 || pread(fd, buf, flen, 0) != (ssize_t)flen) {
		fail("can't read %s back", filename);
		goto out;
	}
	close(fd);
	if (memcmp(buf, file_data, flen)) {
		fail("%s changed: private writes reached the file", filename);
		goto out;
	}

	/* The mappings still work as mappings: write to the rw ones. */
	areas[0].addr[page] = 1;
	areas[2].addr[0] = 2;
	pass();
	ret = 0;
out:
	unlink(filename);
	return ret;
}
