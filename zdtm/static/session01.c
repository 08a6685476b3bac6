// SPDX-License-Identifier: GPL-2.0
/*
 * session01 - sessions and groups whose leaders are dead: the leader of a
 * session or group exited and was reaped while members live on, orphaned
 * to the test (a child subreaper).  Every member keeps its session, group
 * and new parent, and one can still join a group whose leader is gone.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0 */
	{ .parent = 0, .flags = TT_SETSID | TT_DEAD },		/* 1: dead */
	{ .parent = 1 },					/* 2: in 1 */
	{ .parent = 1, .flags = TT_SETPGID },			/* 3 */
	{ .parent = 3 },					/* 4: in 3 */
	{ .parent = 0, .flags = TT_SETPGID | TT_DEAD },		/* 5: dead */
	{ .parent = 5 },					/* 6: in 5 */
	{ .parent = 6, .flags = TT_SETSID },			/* 7 */
	{ .parent = 7, .flags = TT_SETPGID | TT_DEAD },		/* 8: dead */
	{ .parent = 8 },					/* 9: in 8 */
	{ .parent = 0, .flags = TT_JOIN, .join = 5 },		/* 10: in 5 */
	{ .parent = 2, .flags = TT_SETPGID | TT_DEAD },		/* 11: dead */
	{ .parent = 11 },					/* 12: in 11 */
	{ .parent = 9, .flags = TT_JOIN, .join = 7 },		/* 13: in 7 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
