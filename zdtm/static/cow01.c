// SPDX-License-Identifier: GPL-2.0
/*
 * cow01 - many private pages shared copy-on-write by three generations of
 * tasks come back right in each, whoever rewrote which.
 *
 * The test fills 4096 private anonymous pages (16 MiB) and forks a child,
 * which rewrites every third page and forks a grandchild, which rewrites
 * every seventh; the test itself rewrites every fifth after the fork.
 * A second area of 256 pages is never written by the test: the child
 * writes its odd pages, and the rest must read as zeros everywhere.
 * After the restore each task checks every word of both areas.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "cow.h"

#define NPAGES	4096
#define ZERO_PAGES	256

struct shared {
	int ready;
};

/* Generation of a page in each task: 1 before the fork. */
static unsigned int parent_gen(unsigned long i)
{
	return i % 5 == 0 ? 2 : 1;
}

static unsigned int child_gen(unsigned long i)
{
	return i % 3 == 0 ? 3 : 1;
}

static unsigned int grandchild_gen(unsigned long i)
{
	return i % 7 == 0 ? 5 : child_gen(i);
}

static uint8_t *mem, *zero_area;

/* Zero area: odd pages written by the child (generation 9) or zeros. */
static int check_zero_area(int written, const char *who)
{
	size_t psz = getpagesize(), k;
	char why[256];
	unsigned long i;

	for (i = 0; i < ZERO_PAGES; i++) {
		const uint64_t *p = (const uint64_t *)(zero_area + i * psz);

		if (written && i % 2) {
			if (cow_check(zero_area, i, 9, why, sizeof(why))) {
				fail("%s: zero area: %s", who, why);
				return -1;
			}
			continue;
		}
		for (k = 0; k < COW_WORDS(psz); k++)
			if (p[k]) {
				fail("%s: zero area page %lu word %zu is "
				     "%#llx", who, i, k,
				     (unsigned long long)p[k]);
				return -1;
			}
	}
	return 0;
}

static int check_all(unsigned int (*gen)(unsigned long), int zero_written,
		     const char *who)
{
	if (cow_check_pages(mem, NPAGES, gen, who))
		return -1;
	return check_zero_area(zero_written, who);
}

static void rewrite(unsigned int (*gen)(unsigned long), unsigned int mine)
{
	unsigned long i;

	for (i = 0; i < NPAGES; i++)
		if (gen(i) == mine)
			cow_fill(mem, i, mine);
}

static void __attribute__((noreturn)) grandchild_main(struct shared *sh)
{
	rewrite(grandchild_gen, 5);
	task_count_up(&sh->ready);
	test_waitsig();
	exit(check_all(grandchild_gen, 1, "grandchild") ? 1 : 0);
}

static void __attribute__((noreturn)) child_main(struct shared *sh)
{
	unsigned long i;
	pid_t gc;
	int ret;

	rewrite(child_gen, 3);
	for (i = 1; i < ZERO_PAGES; i += 2)
		cow_fill(zero_area, i, 9);
	gc = fork();
	if (gc < 0)
		exit(1);
	if (gc == 0)
		grandchild_main(sh);
	task_count_up(&sh->ready);
	test_waitsig();
	ret = check_all(child_gen, 1, "child");
	if (task_stop_child(gc, "grandchild"))
		ret = -1;
	exit(ret ? 1 : 0);
}

int main(int argc, char **argv)
{
	struct shared *sh;
	unsigned long i;
	pid_t child;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	mem = mmap(NULL, NPAGES * getpagesize(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zero_area = mmap(NULL, ZERO_PAGES * getpagesize(), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!sh || mem == MAP_FAILED || zero_area == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	for (i = 0; i < NPAGES; i++)
		cow_fill(mem, i, 1);

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0)
		child_main(sh);

	rewrite(parent_gen, 2);
	if (task_wait_at_least_ms(&sh->ready, 2, 10000)) {
		pr_err("the children did not get ready\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	return task_end_with_child(child, "child",
				   !check_all(parent_gen, 0, "parent"));
}
