// SPDX-License-Identifier: GPL-2.0
/*
 * pstree - a wide and deep process tree (a full tree of --width children
 * per task, --depth levels, and a chain of --chain generations below its
 * first leaf) comes back whole: every task with its pid and parent, and
 * every task alive and still itself.
 */
#include "zdtmtst.h"
#include "tree.h"

#define MAX_TASKS 128

static unsigned int width = 3;
TEST_OPTION(width, uint, "children of each task of the full tree", 0);
static unsigned int depth = 3;
TEST_OPTION(depth, uint, "levels of the full tree below the test", 0);
static unsigned int chain = 8;
TEST_OPTION(chain, uint, "generations of the chain below the first leaf", 0);

static struct tt_task tab[MAX_TASKS];
static int ntasks;

static int add_task(int parent)
{
	if (ntasks == MAX_TASKS)
		return -1;
	tab[ntasks].parent = parent;
	return ntasks++;
}

/* The full tree below task parent, level by level down to depth. */
static int add_subtree(int parent, unsigned int level)
{
	unsigned int i;
	int t;

	if (level > depth)
		return 0;
	for (i = 0; i < width; i++) {
		t = add_task(parent);
		if (t < 0 || add_subtree(t, level + 1))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int i;
	int errs, leaf;

	test_init(argc, argv);

	add_task(-1);
	if (add_subtree(0, 1)) {
		pr_err("more than %d tasks\n", MAX_TASKS);
		return 1;
	}
	/* The first leaf: the last task before the second child of 0. */
	for (leaf = 1; leaf + 1 < ntasks && tab[leaf + 1].parent == leaf;)
		leaf++;
	for (i = 0; i < chain; i++) {
		leaf = add_task(leaf);
		if (leaf < 0) {
			pr_err("more than %d tasks\n", MAX_TASKS);
			return 1;
		}
	}
	test_msg("a tree of %d tasks\n", ntasks);

	if (tt_create(tab, ntasks))
		return 1;

	test_daemon();
	test_waitsig();

	errs = tt_verify(tab, ntasks, "restored");
	errs += tt_finish(tab, ntasks);
	if (errs) {
		fail("%d differences in the process tree (see above)", errs);
		return 1;
	}
	pass();
	return 0;
}
