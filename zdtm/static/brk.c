// SPDX-License-Identifier: GPL-2.0
/*
 * brk - the heap grown with sbrk keeps its end and its contents, and can
 * grow further after a checkpoint (the kernel's brk start and end must be
 * restored, not only the pages: glibc caches the break, so the kernel's
 * own value is read with the raw system call).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define GROW (256 * 1024)

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 13 + seed + (i >> 12));
}

static int check(const unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)(i * 13 + seed + (i >> 12)))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char *start, *end, *more, *heap;
	void *big;

	test_init(argc, argv);

	start = sbrk(0);
	if (sbrk(GROW) == (void *)-1) {
		pr_perror("sbrk(%d)", GROW);
		return 1;
	}
	end = sbrk(0);
	if (end != start + GROW) {
		pr_err("sbrk moved the break to %p, expected %p\n", end,
		       start + GROW);
		return 1;
	}
	fill(start, GROW, 7);

	test_daemon();
	test_waitsig();

	/* sbrk(0) is glibc's cached value: ask the kernel itself too. */
	if (sbrk(0) != end || (void *)syscall(SYS_brk, 0) != end) {
		fail("the break is %p (kernel: %p), expected %p", sbrk(0),
		     (void *)syscall(SYS_brk, 0), end);
		return 1;
	}
	if (check(start, GROW, 7)) {
		fail("heap contents changed");
		return 1;
	}

	/* Grow again: the kernel must know where the heap ends. */
	more = sbrk(GROW);
	if (more == (void *)-1 || more != end) {
		fail("sbrk after restore gave %p, expected %p", more, end);
		return 1;
	}
	fill(more, GROW, 9);
	if (check(more, GROW, 9) || check(start, GROW, 7)) {
		fail("heap grown after restore does not hold data");
		return 1;
	}

	/* And the allocator keeps working on top of it. */
	heap = malloc(100000);
	big = malloc(8 << 20);
	if (!heap || !big) {
		fail("malloc after restore");
		return 1;
	}
	fill(heap, 100000, 3);
	memset(big, 0x5a, 8 << 20);
	if (check(heap, 100000, 3)) {
		fail("malloc'ed memory after restore does not hold data");
		return 1;
	}
	free(heap);
	free(big);
	pass();
	return 0;
}
