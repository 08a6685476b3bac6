/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tree.h - process trees for the tests of sessions, groups, zombies and
 * stopped tasks.
 *
 * A test describes its tree as a table of tasks, task 0 being the test
 * itself, each with its parent's index and what it does once forked:
 *
 *	static struct tt_task tab[] = {
 *		{ .parent = -1 },				// 0: the test
 *		{ .parent = 0, .flags = TT_SETSID },		// 1: a session
 *		{ .parent = 1, .flags = TT_SETPGID },		// 2: a group in 1
 *		{ .parent = 1, .flags = TT_ZOMBIE, .code = 3 },	// 3: a zombie
 *	};
 *
 * tt_create() builds it, one task at a time (depth first, in table order),
 * so that a task may join the group of any task made before it; it records
 * each task's pid, pgid and sid as the task saw them, waits until zombies
 * are zombies and stopped tasks stopped, and checks the result against the
 * table.  Tasks talk through pipes while the tree is built only: every task
 * has closed them (and holds fds 0, 1 and 2 only) when tt_create() returns.
 *
 * Live tasks then wait for SIGTERM (test_waitsig()).  After the checkpoint
 * tt_verify() checks from /proc that every task is there with its parent,
 * group, session and state (Z with its exit status, T, or alive), and
 * tt_finish() continues stopped tasks, sends SIGTERM to the live ones, which
 * check their own pid, ppid, pgid and sid and reap their children, and reaps
 * the test's own children: each task is reaped by its parent, or by the test
 * (a child subreaper then) if its parent exited.
 */
#ifndef ZDTM_TREE_H
#define ZDTM_TREE_H

#include <stdbool.h>
#include <sys/types.h>

#define TT_SETSID	0x01	/* setsid(): a session and group of its own */
#define TT_SETPGID	0x02	/* setpgid(0, 0): a group of its own */
#define TT_JOIN		0x04	/* setpgid() into the group of task .join */
#define TT_ZOMBIE	0x08	/* exits (.code or .sig) once set up, unreaped */
#define TT_DEAD		0x10	/* exits once set up, reaped by its parent */
#define TT_STOP		0x20	/* stopped by .stopsig (SIGSTOP if 0) */

struct tt_task {
	int parent;		/* index of the parent; -1 for task 0 */
	unsigned int flags;
	int join;		/* TT_JOIN: the task whose group to join */
	int code;		/* TT_ZOMBIE: exit code ... */
	int sig;		/* ... or, if non-zero, the signal it dies of */
	int stopsig;		/* TT_STOP */
	/* Filled in by tt_create(): the task as it saw itself. */
	pid_t pid, ppid, pgid, sid;
};

/* What /proc/PID/stat says of a task. */
struct tt_stat {
	char state;		/* R S D T t Z X ... */
	pid_t ppid, pgid, sid;
	int exit_code;		/* a zombie's wait status (field 52) */
};

/* 0 and the task's stat, or -1 (errno ENOENT if there is no such task). */
int tt_stat(pid_t pid, struct tt_stat *st);
/* Alive: running, asleep or in disk sleep (not stopped, not dead). */
bool tt_alive_state(char state);
/* Wait up to timeout_ms until the task is in one of states; 0 or -1. */
int tt_wait_state(pid_t pid, const char *states, int timeout_ms);

/* The signal mask "key:" (SigPnd, ShdPnd, SigBlk...) of /proc/PID/status. */
int tt_status_mask(pid_t pid, const char *key, unsigned long long *mask);

/* Build the tree (before test_daemon()); 0, or -1 with everything killed. */
int tt_create(struct tt_task *tab, int n);
/* Wait until zombies are zombies and TT_STOP tasks stopped; 0 or -1. */
int tt_settle(struct tt_task *tab, int n);
/* Check every task from /proc; the number of differences, each reported. */
int tt_verify(struct tt_task *tab, int n, const char *when);
/* Continue, terminate and reap the tree; the number of failures. */
int tt_finish(struct tt_task *tab, int n);
/* SIGKILL every task of the tree and reap what the test can. */
void tt_kill(struct tt_task *tab, int n);

/*
 * The whole of a test that only checks its tree: build it, checkpoint,
 * verify and tear it down; returns the test's exit code.
 */
int tt_run(int argc, char **argv, struct tt_task *tab, int n);

/* The pid the task's parent has, or had if it exited (the test then). */
pid_t tt_expected_ppid(struct tt_task *tab, int i);
/* The wait status a TT_ZOMBIE task leaves. */
int tt_zombie_status(const struct tt_task *t);

/* A task a test forked by hand, and the parent it must have. */
struct tt_expect {
	const char *name;
	pid_t pid, ppid;
};

/* Is each task alive under its parent?  The number of differences. */
int tt_check_parents(const struct tt_expect *t, int n, const char *when);
/* Wait for the child pid of who; 0 if it exited with 0, else 1 (reported). */
int tt_reap_child(const char *who, pid_t pid);

#endif /* ZDTM_TREE_H */
