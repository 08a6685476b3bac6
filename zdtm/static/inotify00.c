// SPDX-License-Identifier: GPL-2.0
/*
 * inotify00 - inotify watches come back on the same inodes, with the same
 * masks and the same watch descriptors.
 *
 * The test watches a directory (IN_CREATE | IN_DELETE) and a file in it
 * (IN_MODIFY | IN_ATTRIB | IN_ONESHOT); a watch added and removed in
 * between leaves a gap, so the file's wd is not the next free number.
 * After the restore:
 *  - /proc/self/fdinfo of the inotify fd lists the same watches (wd,
 *    inode, device, mask, file handle);
 *  - no event is queued;
 *  - creating and removing a file in the directory, then writing to the
 *    watched file, queue exactly IN_CREATE and IN_DELETE (with the name)
 *    under the directory's wd and IN_MODIFY under the file's wd.
 * Events queued at checkpoint time are not preserved (CRIU does not
 * either), so the test has none queued then.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *dirname = "inotify00.dir";
TEST_OPTION(dirname, string, "directory to watch", 0);

#define MAX_LINES	8
#define LINE_LEN	512

struct watches {
	int n;
	char line[MAX_LINES][LINE_LEN];
};

static int cmp_line(const void *x, const void *y)
{
	return strcmp(x, y);
}

static int read_watches(int fd, struct watches *w)
{
	char path[64], buf[LINE_LEN];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	w->n = 0;
	while (fgets(buf, sizeof(buf), f) && w->n < MAX_LINES)
		if (!strncmp(buf, "inotify ", 8))
			snprintf(w->line[w->n++], LINE_LEN, "%s", buf);
	fclose(f);
	qsort(w->line, w->n, LINE_LEN, cmp_line);
	return 0;
}

/* Every queued event; -1 on error. */
static int read_events(int fd, char *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		pr_perror("read inotify");
	return n;
}

struct expected {
	int wd;
	unsigned int mask;
	const char *name;
};

static int check_events(int fd, const struct expected *want, int nr)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev;
	int n, off = 0, i = 0;

	n = read_events(fd, buf, sizeof(buf));
	if (n < 0)
		return -1;
	while (off < n) {
		ev = (struct inotify_event *)(buf + off);
		if (i >= nr) {
			fail("extra event wd %d mask %#x", ev->wd, ev->mask);
			return -1;
		}
		if (ev->wd != want[i].wd || ev->mask != want[i].mask ||
		    strcmp(ev->len ? ev->name : "", want[i].name)) {
			fail("event %d: wd %d mask %#x name \"%s\", expected "
			     "wd %d mask %#x name \"%s\"", i, ev->wd, ev->mask,
			     ev->len ? ev->name : "", want[i].wd, want[i].mask,
			     want[i].name);
			return -1;
		}
		off += sizeof(*ev) + ev->len;
		i++;
	}
	if (i != nr) {
		fail("%d events, expected %d", i, nr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct watches before, after;
	char file[PATH_MAX], gap[PATH_MAX], created[PATH_MAX];
	char buf[4096];
	int fd, dir_wd, file_wd, gap_wd, i, tmp;

	test_init(argc, argv);
	snprintf(file, sizeof(file), "%s/watched", dirname);
	snprintf(gap, sizeof(gap), "%s/gap", dirname);
	snprintf(created, sizeof(created), "%s/created", dirname);
	if (mkdir(dirname, 0700) || mkdir(gap, 0700)) {
		pr_perror("mkdir %s", dirname);
		return 1;
	}
	tmp = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (tmp < 0) {
		pr_perror("create %s", file);
		return 1;
	}
	close(tmp);

	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0) {
		pr_perror("inotify_init1");
		return 1;
	}
	dir_wd = inotify_add_watch(fd, dirname, IN_CREATE | IN_DELETE);
	for (i = 0; i < 3; i++) {
		gap_wd = inotify_add_watch(fd, gap, IN_ALL_EVENTS);
		if (gap_wd < 0 || inotify_rm_watch(fd, gap_wd)) {
			pr_perror("gap watch");
			return 1;
		}
	}
	file_wd = inotify_add_watch(fd, file,
				    IN_MODIFY | IN_ATTRIB | IN_ONESHOT);
	if (dir_wd < 0 || file_wd < 0) {
		pr_perror("inotify_add_watch");
		return 1;
	}
	if (rmdir(gap)) {
		pr_perror("rmdir %s", gap);
		return 1;
	}
	/* the IN_IGNORED of the gap watches, and the gap's IN_DELETE */
	while (read_events(fd, buf, sizeof(buf)) > 0)
		;
	if (read_watches(fd, &before) || before.n != 2) {
		pr_err("fdinfo shows %d watches, 2 added\n", before.n);
		return 1;
	}
	test_msg("directory wd %d, file wd %d\n", dir_wd, file_wd);

	test_daemon();
	test_waitsig();

	if (read_watches(fd, &after))
		return 1;
	if (after.n != before.n) {
		fail("%d watches after the restore, %d before", after.n,
		     before.n);
		return 1;
	}
	for (i = 0; i < before.n; i++)
		if (strcmp(before.line[i], after.line[i])) {
			fail("watch was \"%s\", is \"%s\"", before.line[i],
			     after.line[i]);
			return 1;
		}
	if (check_events(fd, NULL, 0))
		return 1;

	tmp = open(created, O_WRONLY | O_CREAT, 0600);
	if (tmp < 0 || close(tmp) || unlink(created)) {
		pr_perror("create/remove %s", created);
		return 1;
	}
	tmp = open(file, O_WRONLY);
	if (tmp < 0 || write(tmp, "x", 1) != 1 || close(tmp)) {
		pr_perror("write %s", file);
		return 1;
	}
	{
		const struct expected want[] = {
			{ dir_wd, IN_CREATE, "created" },
			{ dir_wd, IN_DELETE, "created" },
			{ file_wd, IN_MODIFY, "" },
			/* IN_ONESHOT: the watch is gone after its event */
			{ file_wd, IN_IGNORED, "" },
		};

		if (check_events(fd, want, 4))
			return 1;
	}
	pass();
	return 0;
}
