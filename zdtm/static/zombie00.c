// SPDX-License-Identifier: GPL-2.0
/*
 * zombie00 - zombies, children of the test and of a grandchild, that
 * exited with various codes or were killed by various signals stay zombies
 * with the same wait status, which waitpid() collects after the restore.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0 */
	{ .parent = 0, .flags = TT_ZOMBIE, .code = 0 },		/* 1 */
	{ .parent = 0, .flags = TT_ZOMBIE, .code = 1 },		/* 2 */
	{ .parent = 0, .flags = TT_ZOMBIE, .code = 255 },	/* 3 */
	{ .parent = 0, .flags = TT_ZOMBIE, .sig = SIGKILL },	/* 4 */
	{ .parent = 0, .flags = TT_ZOMBIE, .sig = SIGUSR1 },	/* 5 */
	{ .parent = 0, .flags = TT_ZOMBIE, .sig = SIGHUP },	/* 6 */
	{ .parent = 0 },					/* 7: alive */
	{ .parent = 7, .flags = TT_ZOMBIE, .code = 42 },	/* 8 */
	{ .parent = 7, .flags = TT_ZOMBIE, .sig = SIGALRM },	/* 9 */
	{ .parent = 7, .flags = TT_ZOMBIE, .sig = SIGTERM },	/* 10 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
