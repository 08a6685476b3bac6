// SPDX-License-Identifier: GPL-2.0
/*
 * epoll01 - nested epolls, many targets, edge-triggered and one-shot
 * targets come back as they were.
 *
 * "outer" (the lower fd number) watches "inner" (EPOLLIN) and the read end
 * of pipe "b" (EPOLLIN | EPOLLONESHOT).  "inner" watches the read end of
 * pipe "a" (EPOLLIN | EPOLLET) and the read ends of NPIPES more pipes
 * (EPOLLIN, level-triggered), one of which holds a byte before the
 * checkpoint.  After the restore:
 *  - both epolls list the same targets, masks and data in fdinfo;
 *  - "outer" reports "inner" ready (the byte), and "inner" that pipe;
 *  - once that byte is read, a byte written to "a" makes "outer" report
 *    "inner" and "inner" report "a" once only (edge-triggered);
 *  - a byte written to "b" is reported once only (one-shot), although it
 *    stays unread.
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

#define NPIPES		24
#define FULL		7	/* the pipe holding a byte at checkpoint */
#define DATA_INNER	0x1000000000000001ULL
#define DATA_A		0x2000000000000002ULL
#define DATA_B		0x3000000000000003ULL
#define DATA_PIPE(i)	(0x4000000000000000ULL | ((uint64_t)(i) << 16) | (i))

#define MAX_LINES	(NPIPES + 4)
#define LINE_LEN	256

struct targets {
	int n;
	char line[MAX_LINES][LINE_LEN];
};

static int cmp_line(const void *x, const void *y)
{
	return strcmp(x, y);
}

/* Target lines of an epoll's fdinfo without pos/ino/sdev, sorted. */
static int read_targets(int epfd, struct targets *t)
{
	char path[64], buf[LINE_LEN];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	t->n = 0;
	while (fgets(buf, sizeof(buf), f) && t->n < MAX_LINES) {
		char *pos;

		if (strncmp(buf, "tfd:", 4))
			continue;
		pos = strstr(buf, " pos:");
		if (pos)
			*pos = '\0';
		snprintf(t->line[t->n++], LINE_LEN, "%s", buf);
	}
	fclose(f);
	qsort(t->line, t->n, LINE_LEN, cmp_line);
	return 0;
}

static int same_targets(const char *name, struct targets *before, int epfd)
{
	static struct targets after;
	int i;

	if (read_targets(epfd, &after))
		return -1;
	if (after.n != before->n) {
		fail("%s: %d targets after the restore, %d before", name,
		     after.n, before->n);
		return -1;
	}
	for (i = 0; i < after.n; i++)
		if (strcmp(before->line[i], after.line[i])) {
			fail("%s: target was \"%s\", is \"%s\"", name,
			     before->line[i], after.line[i]);
			return -1;
		}
	return 0;
}

static int add(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		pr_perror("epoll_ctl(ADD, %d)", fd);
		return -1;
	}
	return 0;
}

/* epoll_wait must return exactly one event, `data`, or none if data is 0. */
static int expect(const char *name, int epfd, uint64_t data)
{
	struct epoll_event evs[4];
	int n;

	n = epoll_wait(epfd, evs, 4, 0);
	if (n < 0) {
		pr_perror("epoll_wait %s", name);
		return -1;
	}
	if (!data && n == 0)
		return 0;
	if (data && n == 1 && evs[0].data.u64 == data &&
	    evs[0].events == EPOLLIN)
		return 0;
	fail("%s: %d events (first: %#x, data %#llx), expected %s%#llx", name,
	     n, n > 0 ? evs[0].events : 0,
	     n > 0 ? (unsigned long long)evs[0].data.u64 : 0ULL,
	     data ? "data " : "none ", (unsigned long long)data);
	return -1;
}

int main(int argc, char **argv)
{
	static struct targets inner_before, outer_before;
	int p[NPIPES][2], a[2], b[2], outer, inner, i;
	char c;

	test_init(argc, argv);
	outer = epoll_create1(EPOLL_CLOEXEC);
	inner = epoll_create1(0);
	if (outer < 0 || inner < 0 || pipe(a) || pipe(b)) {
		pr_perror("epoll_create1 / pipe");
		return 1;
	}
	if (add(inner, a[0], EPOLLIN | EPOLLET, DATA_A))
		return 1;
	for (i = 0; i < NPIPES; i++)
		if (pipe(p[i]) || add(inner, p[i][0], EPOLLIN, DATA_PIPE(i)))
			return 1;
	if (add(outer, inner, EPOLLIN, DATA_INNER) ||
	    add(outer, b[0], EPOLLIN | EPOLLONESHOT, DATA_B))
		return 1;
	if (write(p[FULL][1], "f", 1) != 1) {
		pr_perror("write");
		return 1;
	}
	if (read_targets(inner, &inner_before) ||
	    read_targets(outer, &outer_before))
		return 1;
	if (inner_before.n != NPIPES + 1 || outer_before.n != 2) {
		pr_err("fdinfo shows %d and %d targets\n", inner_before.n,
		       outer_before.n);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (same_targets("inner", &inner_before, inner) ||
	    same_targets("outer", &outer_before, outer))
		return 1;
	/* the byte already there */
	if (expect("outer", outer, DATA_INNER) ||
	    expect("inner", inner, DATA_PIPE(FULL)))
		return 1;
	if (read(p[FULL][0], &c, 1) != 1) {
		pr_perror("read");
		return 1;
	}
	if (expect("outer", outer, 0) || expect("inner", inner, 0))
		return 1;
	/* edge-triggered "a" */
	if (write(a[1], "a", 1) != 1) {
		pr_perror("write a");
		return 1;
	}
	if (expect("outer", outer, DATA_INNER) ||
	    expect("inner", inner, DATA_A) ||
	    expect("inner again", inner, 0) ||
	    expect("outer again", outer, 0))
		return 1;
	/* one-shot "b" */
	if (write(b[1], "b", 1) != 1) {
		pr_perror("write b");
		return 1;
	}
	if (expect("outer", outer, DATA_B) ||
	    expect("outer again", outer, 0))
		return 1;
	pass();
	return 0;
}
