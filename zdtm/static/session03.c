// SPDX-License-Identifier: GPL-2.0
/*
 * session03 - sessions and groups mixed with zombies, dead leaders and
 * stopped tasks: a zombie group leader with live members, a dead session
 * leader whose orphans are stopped or zombies, a job stopped by SIGTSTP
 * next to a zombie.  Everything keeps its place and state, zombies their
 * exit status, and the stopped tasks run on once continued.
 */
#include <signal.h>

#include "zdtmtst.h"
#include "tree.h"

static struct tt_task tab[] = {
	{ .parent = -1 },						/* 0 */
	{ .parent = 0, .flags = TT_SETSID },				/* 1: S */
	{ .parent = 1, .flags = TT_SETPGID | TT_ZOMBIE, .code = 5 },	/* 2 */
	{ .parent = 2 },						/* 3: in 2 */
	{ .parent = 1, .flags = TT_JOIN, .join = 2 },			/* 4: in 2 */
	{ .parent = 1, .flags = TT_STOP },				/* 5 */
	{ .parent = 0, .flags = TT_SETSID | TT_DEAD },			/* 6: S' */
	{ .parent = 6, .flags = TT_SETPGID | TT_STOP },			/* 7 */
	{ .parent = 6, .flags = TT_ZOMBIE, .sig = SIGKILL },		/* 8 */
	{ .parent = 6 },						/* 9 */
	{ .parent = 0, .flags = TT_SETPGID },				/* 10: job */
	{ .parent = 10, .flags = TT_STOP, .stopsig = SIGTSTP },		/* 11 */
	{ .parent = 10, .flags = TT_ZOMBIE },				/* 12 */
	{ .parent = 0, .flags = TT_ZOMBIE, .sig = SIGUSR1 },		/* 13 */
	{ .parent = 9, .flags = TT_SETSID | TT_ZOMBIE, .code = 1 },	/* 14 */
	{ .parent = 3, .flags = TT_SETSID },				/* 15 */
	{ .parent = 15, .flags = TT_SETPGID | TT_STOP, .stopsig = SIGTTIN }, /* 16 */
};

int main(int argc, char **argv)
{
	return tt_run(argc, argv, tab, sizeof(tab) / sizeof(tab[0]));
}
