// SPDX-License-Identifier: GPL-2.0
/*
 * fd - criu leaves no descriptor of its own in the restored task: the
 * test records which fds it has (and what each is) before the checkpoint
 * and after the restore the set must be exactly the same.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MAX 256

static int list_fds(char names[][128], int *fds)
{
	struct dirent *de;
	char path[320];
	int n = 0, dfd;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) && n < MAX) {
		ssize_t len;

		if (de->d_name[0] == '.' || atoi(de->d_name) == dfd)
			continue;
		fds[n] = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, names[n], 127);
		names[n][len < 0 ? 0 : len] = '\0';
		if (!strncmp(names[n], "pipe:", 5) ||
		    !strncmp(names[n], "socket:", 7))
			names[n][4] = '\0';	/* new inode numbers */
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static char before[MAX][128], after[MAX][128];
	int fb[MAX], fa[MAX], nb, na, i, j, p[2];

	test_init(argc, argv);
	if (pipe(p) || open("/dev/null", O_RDONLY) < 0 || dup2(p[0], 77) < 0) {
		pr_perror("setup");
		return 1;
	}
	nb = list_fds(before, fb);

	test_daemon();
	test_waitsig();

	na = list_fds(after, fa);
	if (nb < 0 || na != nb) {
		fail("%d fds before, %d after the restore", nb, na);
		return 1;
	}
	for (i = 0; i < nb; i++) {
		for (j = 0; j < na; j++)
			if (fa[j] == fb[i] && !strcmp(after[j], before[i]))
				break;
		if (j == na) {
			fail("fd %d (%s) is not there as it was", fb[i], before[i]);
			return 1;
		}
	}
	pass();
	return 0;
}
