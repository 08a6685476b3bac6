// SPDX-License-Identifier: GPL-2.0
/*
 * epoll - an epoll instance comes back with the same targets, each with
 * its events mask and its 64-bit data.
 *
 * The epoll watches three pipes: the read end of "a" (EPOLLIN), the read
 * end of "b" (EPOLLIN | EPOLLRDHUP) and the write end of "c" (EPOLLOUT,
 * ready at once), each with a data value no fd number could be.  After the
 * restore:
 *  - /proc/self/fdinfo of the epoll lists the same targets, masks and
 *    data as before;
 *  - only "c" is ready; a byte written to "a", then to "b", makes
 *    epoll_wait return exactly that target's data with EPOLLIN;
 *  - adding "a" again fails with EEXIST and deleting an fd that was never
 *    added fails with ENOENT: no target is missing or extra.
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

#define DATA_A 0x1122334455667788ULL
#define DATA_B 0xfedcba9876543210ULL
#define DATA_C 0x00000000deadbeefULL

#define MAX_LINES 16
#define LINE_LEN 256

static int cmp_line(const void *x, const void *y)
{
	return strcmp(x, y);
}

/*
 * The "tfd: events: data:" part of each target line of the epoll, sorted:
 * the kernel lists targets by their file's address, new after restore.
 */
static int epoll_targets(int epfd, char lines[MAX_LINES][LINE_LEN])
{
	char path[64], buf[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	while (fgets(buf, sizeof(buf), f) && n < MAX_LINES) {
		char *pos;

		if (strncmp(buf, "tfd:", 4))
			continue;
		/* pos, ino and sdev name the target's inode: new after restore */
		pos = strstr(buf, " pos:");
		if (pos)
			*pos = '\0';
		snprintf(lines[n++], LINE_LEN, "%s", buf);
	}
	fclose(f);
	qsort(lines, n, LINE_LEN, cmp_line);
	return n;
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

/* The one ready target must be `data` with `events` (and "c": EPOLLOUT). */
static int expect_ready(int epfd, uint64_t data, uint32_t events)
{
	struct epoll_event evs[8];
	int n, i, seen = 0, seen_c = 0;

	n = epoll_wait(epfd, evs, 8, 0);
	if (n < 0) {
		pr_perror("epoll_wait");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == DATA_C && evs[i].events == EPOLLOUT) {
			seen_c++;
		} else if (data && evs[i].data.u64 == data &&
			   evs[i].events == events) {
			seen++;
		} else {
			fail("unexpected event %#x with data %#llx", evs[i].events,
			     (unsigned long long)evs[i].data.u64);
			return -1;
		}
	}
	if (seen_c != 1 || seen != (data ? 1 : 0)) {
		fail("expected data %#llx (and c's), got %d events",
		     (unsigned long long)data, n);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char before[MAX_LINES][LINE_LEN], after[MAX_LINES][LINE_LEN];
	struct epoll_event ev = { 0 };
	int a[2], b[2], c[2], epfd, nb, na, i;

	test_init(argc, argv);
	if (pipe(a) || pipe(b) || pipe(c)) {
		pr_perror("pipe");
		return 1;
	}
	epfd = epoll_create1(0);
	if (epfd < 0) {
		pr_perror("epoll_create1");
		return 1;
	}
	if (add(epfd, a[0], EPOLLIN, DATA_A) ||
	    add(epfd, b[0], EPOLLIN | EPOLLRDHUP, DATA_B) ||
	    add(epfd, c[1], EPOLLOUT, DATA_C))
		return 1;
	nb = epoll_targets(epfd, before);
	if (nb != 3) {
		pr_err("%d targets in fdinfo, 3 added\n", nb);
		return 1;
	}
	if (expect_ready(epfd, 0, 0))
		return 1;

	test_daemon();
	test_waitsig();

	na = epoll_targets(epfd, after);
	if (na != nb) {
		fail("%d targets after the restore, %d before", na, nb);
		return 1;
	}
	for (i = 0; i < nb; i++)
		if (strcmp(before[i], after[i])) {
			fail("target was \"%s\", is \"%s\"", before[i], after[i]);
			return 1;
		}
	if (expect_ready(epfd, 0, 0))
		return 1;
	if (write(a[1], "x", 1) != 1) {
		pr_perror("write a");
		return 1;
	}
	if (expect_ready(epfd, DATA_A, EPOLLIN))
		return 1;
	if (read(a[0], &ev, 1) != 1 || write(b[1], "y", 1) != 1) {
		pr_perror("read a / write b");
		return 1;
	}
	if (expect_ready(epfd, DATA_B, EPOLLIN))
		return 1;
	ev.events = EPOLLIN;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, a[0], &ev) != -1 || errno != EEXIST) {
		fail("a's read end is no longer a target");
		return 1;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, a[1], &ev) != -1 || errno != ENOENT) {
		fail("a's write end became a target");
		return 1;
	}
	pass();
	return 0;
}
