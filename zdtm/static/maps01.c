// SPDX-License-Identifier: GPL-2.0
/*
 * maps01 - a big anonymous mapping (1 GiB by default) filled with a
 * pattern comes back whole: same place, every word as it was.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "zdtmtst.h"

static long size_mb = 1024;
TEST_OPTION(size_mb, long, "size of the mapping in MiB", 0);

static inline uint64_t pattern(size_t i)
{
	return (i * 0x9e3779b97f4a7c15ULL) ^ 0x5a5a5a5a00000000ULL;
}

int main(int argc, char **argv)
{
	size_t len, nwords, i;
	struct test_vma before, after;
	uint64_t *p;

	test_init(argc, argv);
	len = (size_t)size_mb << 20;
	nwords = len / sizeof(*p);

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror("can't map %ld MiB", size_mb);
		return 1;
	}
	for (i = 0; i < nwords; i++)
		p[i] = pattern(i);
	if (test_find_vma((unsigned long)p, &before)) {
		pr_err("the mapping is not in /proc/self/maps\n");
		return 1;
	}

	test_daemon();
	test_waitsig();

	/* A neighbour with the same properties may have merged with it. */
	if (test_find_vma((unsigned long)p, &after) ||
	    after.start > before.start || after.end < before.end ||
	    strcmp(after.perms, before.perms) || strcmp(after.path, before.path)) {
		fail("the mapping %lx-%lx %s moved or changed", before.start,
		     before.end, before.perms);
		return 1;
	}
	for (i = 0; i < nwords; i++)
		if (p[i] != pattern(i)) {
			fail("word %zu (offset %#zx) is %#llx, expected %#llx",
			     i, i * sizeof(*p), (unsigned long long)p[i],
			     (unsigned long long)pattern(i));
			return 1;
		}
	pass();
	return 0;
}
