// SPDX-License-Identifier: GPL-2.0
/*
 * zombie01 - zombies in a process group whose leader is dead (exited and
 * reaped), one of them orphaned to the test, keep their group, as does a
 * live member; a zombie session leader keeps its session.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0 */
	{ .parent = 0, .flags = TT_SETPGID | TT_DEAD },		/* 1: dead */
	{ .parent = 1, .flags = TT_ZOMBIE, .code = 7 },		/* 2: in 1 */
	{ .parent = 1 },					/* 3: in 1 */
	{ .parent = 1, .flags = TT_SETSID | TT_ZOMBIE, .sig = SIGTERM }, /* 4 */
	{ .parent = 0, .flags = TT_JOIN | TT_ZOMBIE, .join = 1, .code = 9 }, /* 5 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
