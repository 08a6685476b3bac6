// SPDX-License-Identifier: GPL-2.0
/*
 * fanotify00 - an fanotify group comes back with its inode and mount
 * marks (masks, ignored masks, mark flags).
 *
 * The group (FAN_CLASS_NOTIF, non-blocking) has an inode mark on a file
 * (FAN_MODIFY | FAN_CLOSE_WRITE, ignoring FAN_OPEN with
 * FAN_MARK_IGNORED_SURV_MODIFY) and a mount mark (FAN_OPEN) on the mount
 * the test runs in.  After the restore:
 *  - /proc/self/fdinfo of the fanotify fd shows the same group flags and
 *    the same marks;
 *  - writing the file queues, from this process, FAN_MODIFY and
 *    FAN_CLOSE_WRITE on it and no FAN_OPEN (ignored);
 *  - opening another file of the mount queues FAN_OPEN on it.
 * The mount mark sees every process opening files there (criu too), so
 * the queue is drained after the restore and only this process's events
 * count.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "fanotify00.file";
TEST_OPTION(filename, string, "file to mark", 0);

#define MAX_LINES	8
#define LINE_LEN	512

struct marks {
	int n;
	char line[MAX_LINES][LINE_LEN];
};

static int cmp_line(const void *x, const void *y)
{
	return strcmp(x, y);
}

static int read_marks(int fd, struct marks *m)
{
	char path[64], buf[LINE_LEN];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	m->n = 0;
	while (fgets(buf, sizeof(buf), f) && m->n < MAX_LINES)
		if (!strncmp(buf, "fanotify ", 9))
			snprintf(m->line[m->n++], LINE_LEN, "%s", buf);
	fclose(f);
	qsort(m->line, m->n, LINE_LEN, cmp_line);
	return 0;
}

/*
 * Read every queued event; OR into *mask the masks of this process's
 * events on the inode st (if st) .  -1 on error.
 */
static int collect(int fd, const struct stat *st, unsigned long long *mask)
{
	char buf[8192] __attribute__((aligned(8)));
	struct fanotify_event_metadata *ev;
	struct stat evst;
	ssize_t n;

	while (1) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			pr_perror("read fanotify");
			return -1;
		}
		for (ev = (void *)buf; FAN_EVENT_OK(ev, n);
		     ev = FAN_EVENT_NEXT(ev, n)) {
			if (ev->vers != FANOTIFY_METADATA_VERSION) {
				pr_err("fanotify metadata version %d\n",
				       ev->vers);
				return -1;
			}
			if (ev->fd < 0)
				continue;
			if (st && ev->pid == getpid() &&
			    !fstat(ev->fd, &evst) &&
			    evst.st_dev == st->st_dev &&
			    evst.st_ino == st->st_ino)
				*mask |= ev->mask;
			close(ev->fd);
		}
	}
}

int main(int argc, char **argv)
{
	static struct marks before, after;
	char other[PATH_MAX];
	unsigned long long mask;
	struct stat st, ost;
	int fd, tmp, i;

	test_init(argc, argv);
	snprintf(other, sizeof(other), "%s.other", filename);
	tmp = open(filename, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (tmp < 0 || fstat(tmp, &st) || close(tmp)) {
		pr_perror("create %s", filename);
		return 1;
	}
	tmp = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (tmp < 0 || fstat(tmp, &ost) || close(tmp)) {
		pr_perror("create %s", other);
		return 1;
	}

	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0) {
		pr_perror("fanotify_init");
		return 1;
	}
	if (fanotify_mark(fd, FAN_MARK_ADD, FAN_MODIFY | FAN_CLOSE_WRITE,
			  AT_FDCWD, filename) ||
	    fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK |
			  FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN,
			  AT_FDCWD, filename)) {
		pr_perror("fanotify_mark %s", filename);
		return 1;
	}
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN,
			  AT_FDCWD, ".")) {
		pr_perror("fanotify_mark mount of .");
		return 1;
	}
	if (read_marks(fd, &before) || before.n != 3) {
		pr_err("fdinfo shows %d fanotify lines, 3 expected\n",
		       before.n);
		return 1;
	}
	for (i = 0; i < before.n; i++)
		test_msg("%s", before.line[i]);

	test_daemon();
	test_waitsig();

	if (read_marks(fd, &after))
		return 1;
	if (after.n != before.n) {
		fail("%d fanotify lines after the restore, %d before",
		     after.n, before.n);
		return 1;
	}
	for (i = 0; i < before.n; i++)
		if (strcmp(before.line[i], after.line[i])) {
			fail("fdinfo was \"%s\", is \"%s\"", before.line[i],
			     after.line[i]);
			return 1;
		}
	/* what criu and others did since the marks came back */
	if (collect(fd, NULL, NULL))
		return 1;

	tmp = open(filename, O_WRONLY);
	if (tmp < 0 || write(tmp, "x", 1) != 1 || close(tmp)) {
		pr_perror("write %s", filename);
		return 1;
	}
	mask = 0;
	if (collect(fd, &st, &mask))
		return 1;
	if (mask != (FAN_MODIFY | FAN_CLOSE_WRITE)) {
		fail("events on %s: mask %#llx, expected %#x", filename, mask,
		     FAN_MODIFY | FAN_CLOSE_WRITE);
		return 1;
	}

	tmp = open(other, O_RDONLY);
	if (tmp < 0 || close(tmp)) {
		pr_perror("open %s", other);
		return 1;
	}
	mask = 0;
	if (collect(fd, &ost, &mask))
		return 1;
	if (mask != (FAN_OPEN)) {
		fail("events on %s: mask %#llx, expected %#x", other, mask,
		     FAN_OPEN);
		return 1;
	}
	pass();
	return 0;
}
