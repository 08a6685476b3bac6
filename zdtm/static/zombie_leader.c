// SPDX-License-Identifier: GPL-2.0
/*
 * zombie_leader - a session whose leader is a zombie, with live members in
 * its group and in other groups of the session (one led by another
 * zombie), orphaned to the test: all keep session, group and parent.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0 */
	{ .parent = 0, .flags = TT_SETSID | TT_ZOMBIE, .code = 3 }, /* 1 */
	{ .parent = 1 },					/* 2: in 1 */
	{ .parent = 1, .flags = TT_SETPGID },			/* 3 */
	{ .parent = 3 },					/* 4: in 3 */
	{ .parent = 1, .flags = TT_SETPGID | TT_ZOMBIE, .code = 4 }, /* 5 */
	{ .parent = 5 },					/* 6: in 5 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
