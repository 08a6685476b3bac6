// SPDX-License-Identifier: GPL-2.0
/*
 * cow00 - private memory written before a fork, and so shared
 * copy-on-write by the parent and the child, comes back right in both,
 * and stays private to each after the restore.
 *
 * The test fills 16 private anonymous pages and forks; then the parent
 * rewrites the even pages and the child the pages 1, 5, 9 and 13, so some
 * pages are still shared, some are each task's own.  After the restore
 * each task checks every page; then the parent rewrites them all and the
 * child checks again that it sees none of that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "cow.h"

#define NPAGES 16

struct shared {
	int ready;
	int rewritten;
};

/* Generation of each page: 1 from before the fork, 2 parent, 3 child. */
static unsigned int parent_gen(unsigned long page)
{
	return page % 2 == 0 ? 2 : 1;
}

static unsigned int child_gen(unsigned long page)
{
	return page % 4 == 1 ? 3 : 1;
}

static int check_all(const uint8_t *mem, unsigned int (*gen)(unsigned long),
		     const char *who)
{
	return cow_check_pages(mem, NPAGES, gen, who);
}

int main(int argc, char **argv)
{
	struct shared *sh;
	unsigned long i;
	uint8_t *mem;
	pid_t child;
	bool ok;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	mem = mmap(NULL, NPAGES * getpagesize(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!sh || mem == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	for (i = 0; i < NPAGES; i++)
		cow_fill(mem, i, 1);

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		for (i = 0; i < NPAGES; i++)
			if (child_gen(i) != 1)
				cow_fill(mem, i, child_gen(i));
		task_set_word(&sh->ready, 1);
		test_waitsig();
		if (check_all(mem, child_gen, "child"))
			exit(1);
		/* The parent rewrites its copy meanwhile: not ours. */
		task_wait_at_least(&sh->rewritten, 1);
		if (check_all(mem, child_gen, "child, after the parent wrote"))
			exit(1);
		exit(0);
	}

	for (i = 0; i < NPAGES; i++)
		if (parent_gen(i) != 1)
			cow_fill(mem, i, parent_gen(i));
	if (task_wait_at_least_ms(&sh->ready, 1, 10000)) {
		pr_err("the child did not get ready\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	ok = !check_all(mem, parent_gen, "parent");
	if (ok)
		for (i = 0; i < NPAGES; i++)
			cow_fill(mem, i, 4);
	task_set_word(&sh->rewritten, 1);
	return task_end_with_child(child, "child", ok);
}
