// SPDX-License-Identifier: GPL-2.0
/*
 * thread_different_uid_gid - threads of one process with credentials of
 * their own come back each with its own.
 *
 * Credentials are per thread in the kernel; glibc's set*id() make every
 * thread change them together, but the raw system calls change only the
 * caller's.  Started as root, two threads each give themselves their own
 * real/effective/saved uids and gids and supplementary groups with raw
 * system calls, while the main thread stays root.  After the restore each
 * thread reads its own ids (raw getresuid/getresgid/getgroups) and its
 * Uid/Gid/Groups lines in /proc/self/task/TID/status.
 */
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define NWORKERS 2
#define MAX_GROUPS 8

struct ids {
	uid_t u[3];
	gid_t g[3];
	int ngroups;
	gid_t groups[MAX_GROUPS];
	char uid_line[64], gid_line[64], groups_line[64];
};

struct worker {
	pthread_t th;
	int base;
	struct ids before;
	char why[1536];
	int failed;
};

static struct worker workers[NWORKERS];
static volatile int workers_ready, workers_stop;

/* The calling thread's own ids, by raw system calls. */
static int get_ids(struct ids *x)
{
	memset(x, 0, sizeof(*x));
	if (syscall(SYS_getresuid, &x->u[0], &x->u[1], &x->u[2]) ||
	    syscall(SYS_getresgid, &x->g[0], &x->g[1], &x->g[2]))
		return -1;
	x->ngroups = syscall(SYS_getgroups, MAX_GROUPS, x->groups);
	if (x->ngroups < 0)
		return -1;
	if (task_status_field(0, "Uid", x->uid_line, sizeof(x->uid_line)) ||
	    task_status_field(0, "Gid", x->gid_line, sizeof(x->gid_line)) ||
	    task_status_field(0, "Groups", x->groups_line,
			      sizeof(x->groups_line)))
		return -1;
	return 0;
}

static int diff_ids(const struct ids *a, const struct ids *b, char *why,
		    size_t len, const char *who)
{
	int i;

	for (i = 0; i < 3; i++)
		if (a->u[i] != b->u[i] || a->g[i] != b->g[i]) {
			snprintf(why, len, "%s: uids %u/%u/%u gids %u/%u/%u, "
				 "expected %u/%u/%u and %u/%u/%u", who,
				 a->u[0], a->u[1], a->u[2], a->g[0], a->g[1],
				 a->g[2], b->u[0], b->u[1], b->u[2], b->g[0],
				 b->g[1], b->g[2]);
			return -1;
		}
	if (a->ngroups != b->ngroups ||
	    memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t))) {
		snprintf(why, len, "%s: %d groups, expected %d (or others)",
			 who, a->ngroups, b->ngroups);
		return -1;
	}
	if (strcmp(a->uid_line, b->uid_line) ||
	    strcmp(a->gid_line, b->gid_line) ||
	    strcmp(a->groups_line, b->groups_line)) {
		snprintf(why, len, "%s: status Uid %s Gid %s Groups %s, "
			 "expected %s, %s, %s", who, a->uid_line,
			 a->gid_line, a->groups_line, b->uid_line,
			 b->gid_line, b->groups_line);
		return -1;
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	gid_t groups[2] = { w->base + 100, w->base + 200 };
	struct ids now;
	char who[32];

	snprintf(who, sizeof(who), "thread %d", w->base);
	task_block_sigterm();
	/* Only this thread: raw system calls, not glibc's set*id(). */
	if (syscall(SYS_setgroups, 2, groups) ||
	    syscall(SYS_setresgid, w->base + 10, w->base + 11, w->base + 12) ||
	    syscall(SYS_setresuid, w->base, w->base + 1, w->base + 2) ||
	    get_ids(&w->before)) {
		snprintf(w->why, sizeof(w->why), "%s: set-up failed (%d)",
			 who, errno);
		w->failed = 1;
	}
	if (!w->failed && w->before.u[0] != w->base) {
		snprintf(w->why, sizeof(w->why), "%s: setresuid had no effect",
			 who);
		w->failed = 1;
	}
	task_count_up(&workers_ready);
	task_wait_at_least(&workers_stop, 1);
	if (w->failed)
		return NULL;
	if (get_ids(&now)) {
		snprintf(w->why, sizeof(w->why), "%s: can't read ids", who);
		w->failed = 1;
		return NULL;
	}
	if (diff_ids(&now, &w->before, w->why, sizeof(w->why), who))
		w->failed = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	struct ids main_before, main_now;
	char why[1536];
	int i, ret = 0;

	test_init(argc, argv);
	if (setgroups(0, NULL)) {
		pr_perror("setgroups");
		return 1;
	}

	for (i = 0; i < NWORKERS; i++) {
		workers[i].base = 40000 + 1000 * i;
		if (pthread_create(&workers[i].th, NULL, worker_fn,
				   &workers[i])) {
			pr_err("can't create a thread\n");
			return 1;
		}
	}
	task_wait_at_least(&workers_ready, NWORKERS);
	/* A thread's new uid made the process non-dumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (get_ids(&main_before)) {
		pr_perror("can't read ids");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (get_ids(&main_now)) {
		fail("can't read ids");
		ret = 1;
	} else if (diff_ids(&main_now, &main_before, why, sizeof(why),
			    "main thread")) {
		fail("%s", why);
		ret = 1;
	}
	task_set_word(&workers_stop, 1);
	for (i = 0; i < NWORKERS; i++) {
		pthread_join(workers[i].th, NULL);
		if (workers[i].failed) {
			fail("%s", workers[i].why);
			ret = 1;
		}
	}
	if (ret)
		return 1;
	pass();
	return 0;
}
