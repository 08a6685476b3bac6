// SPDX-License-Identifier: GPL-2.0
/*
 * session00 - sessions and process groups made by setsid() and setpgid() in
 * children and grandchildren come back with their members: each task keeps
 * its pid, parent, group and session.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },				/* 0: the test */
	{ .parent = 0 },				/* 1: the test's group */
	{ .parent = 0, .flags = TT_SETPGID },		/* 2: a group */
	{ .parent = 2 },				/* 3: in group 2 */
	{ .parent = 2, .flags = TT_SETPGID },		/* 4: a group in 2's */
	{ .parent = 0, .flags = TT_SETSID },		/* 5: a session */
	{ .parent = 5 },				/* 6: in session 5 */
	{ .parent = 5, .flags = TT_SETPGID },		/* 7: a group in it */
	{ .parent = 7 },				/* 8: in group 7 */
	{ .parent = 7, .flags = TT_JOIN, .join = 5 },	/* 9: back to 5's */
	{ .parent = 0, .flags = TT_JOIN, .join = 2 },	/* 10: a sibling's */
	{ .parent = 6, .flags = TT_SETSID },		/* 11: a session again */
	{ .parent = 11 },				/* 12: in session 11 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
