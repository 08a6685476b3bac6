// SPDX-License-Identifier: GPL-2.0
/*
 * epoll_shared - an epoll inherited by a child over fork() stays one epoll,
 * shared by both tasks, with its targets registered once.
 *
 * The test watches the read end of a pipe (EPOLLIN, data DATA) and forks;
 * the child inherits the epoll and the pipe at the same fd numbers.  After
 * the restore:
 *  - the test's epoll lists the same one target in fdinfo;
 *  - a byte written to the pipe is reported once, with DATA;
 *  - the child removes the target through its own fd (EPOLL_CTL_DEL):
 *    the test's epoll must then have no target left (one epoll, not two).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define DATA 0x5a5a5a5a00c0ffeeULL

struct shared {
	int ready;
	int go;
	int deleted;
};

/* The target lines of the epoll's fdinfo up to "pos:" ("" if none). */
static int targets(int epfd, char *out, size_t len)
{
	char path[64], buf[256];
	size_t used = 0;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	out[0] = '\0';
	while (fgets(buf, sizeof(buf), f)) {
		char *pos;

		if (strncmp(buf, "tfd:", 4))
			continue;
		pos = strstr(buf, " pos:");
		if (pos)
			*pos = '\0';
		used += snprintf(out + used, len - used, "%s;", buf);
		if (used >= len)
			break;
		n++;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = DATA };
	struct epoll_event got[4];
	char before[512], after[512];
	struct shared *sh;
	int p[2], epfd, n, status;
	pid_t child;

	test_init(argc, argv);
	epfd = epoll_create1(0);
	if (epfd < 0 || pipe(p)) {
		pr_perror("epoll_create1 / pipe");
		return 1;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev)) {
		pr_perror("epoll_ctl");
		return 1;
	}
	sh = task_fork_shared(&child);
	if (!sh)
		return 1;
	if (child == 0) {
		task_set_word(&sh->ready, 1);
		task_wait_at_least(&sh->go, 1);
		if (epoll_ctl(epfd, EPOLL_CTL_DEL, p[0], &ev))
			exit(2);
		task_set_word(&sh->deleted, 1);
		exit(0);
	}
	task_wait_at_least(&sh->ready, 1);
	if (targets(epfd, before, sizeof(before)) != 1) {
		pr_err("fdinfo: %s\n", before);
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (targets(epfd, after, sizeof(after)) < 0 || strcmp(before, after)) {
		fail("targets were \"%s\", are \"%s\"", before, after);
		task_kill_child(child);
		return 1;
	}
	if (write(p[1], "x", 1) != 1) {
		pr_perror("write");
		task_kill_child(child);
		return 1;
	}
	n = epoll_wait(epfd, got, 4, 0);
	if (n != 1 || got[0].data.u64 != DATA || got[0].events != EPOLLIN) {
		fail("%d events after a write (data %#llx)", n,
		     n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || !sh->deleted) {
		fail("the child could not remove the target (status %#x)",
		     status);
		return 1;
	}
	n = targets(epfd, after, sizeof(after));
	if (n != 0) {
		fail("the child removed the target from its epoll, this one "
		     "still has %d: \"%s\"", n, after);
		return 1;
	}
	pass();
	return 0;
}
