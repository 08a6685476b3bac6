// SPDX-License-Identifier: GPL-2.0
/*
 * pid00 - children and grandchildren keep their pids, and each its parent,
 * across a checkpoint.
 */
#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },	/* 0: the test */
	{ .parent = 0 },	/* 1 */
	{ .parent = 0 },	/* 2 */
	{ .parent = 1 },	/* 3: a grandchild */
	{ .parent = 1 },	/* 4 */
	{ .parent = 3 },	/* 5: a great-grandchild */
	{ .parent = 0 },	/* 6 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
