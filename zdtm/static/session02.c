// SPDX-License-Identifier: GPL-2.0
/*
 * session02 - process groups that span branches of the tree (tasks join
 * the groups of uncles, cousins and nephews) and sessions nested three
 * deep, with groups of their own: all come back as they were.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },					/* 0 */
	{ .parent = 0, .flags = TT_SETPGID },			/* 1: group A */
	{ .parent = 1 },					/* 2: in A */
	{ .parent = 0 },					/* 3 */
	{ .parent = 3, .flags = TT_JOIN, .join = 1 },		/* 4: an uncle's */
	{ .parent = 3, .flags = TT_SETPGID },			/* 5: group B */
	{ .parent = 5, .flags = TT_JOIN, .join = 2 },		/* 6: a cousin's */
	{ .parent = 0, .flags = TT_JOIN, .join = 5 },		/* 7: a nephew's */
	{ .parent = 7, .flags = TT_JOIN, .join = 6 },		/* 8: back to A */
	{ .parent = 0, .flags = TT_SETSID },			/* 9: session C */
	{ .parent = 9, .flags = TT_SETPGID },			/* 10: group D */
	{ .parent = 10, .flags = TT_SETSID },			/* 11: session E */
	{ .parent = 11, .flags = TT_SETPGID },			/* 12: group F */
	{ .parent = 12, .flags = TT_SETSID },			/* 13: session G */
	{ .parent = 9, .flags = TT_JOIN, .join = 10 },		/* 14: in D */
	{ .parent = 12, .flags = TT_JOIN, .join = 11 },		/* 15: in E */
	{ .parent = 13 },					/* 16: in G */
	{ .parent = 14 },					/* 17: in D */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
