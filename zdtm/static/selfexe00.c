// SPDX-License-Identifier: GPL-2.0
/* selfexe00 - /proc/self/exe names the same executable file as before. */
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char before[PATH_MAX], after[PATH_MAX];
	struct stat st_before, st_after;
	ssize_t n;

	test_init(argc, argv);

	n = readlink("/proc/self/exe", before, sizeof(before) - 1);
	if (n < 0 || stat("/proc/self/exe", &st_before)) {
		pr_perror("can't read /proc/self/exe");
		return 1;
	}
	before[n] = '\0';

	test_daemon();
	test_waitsig();

	n = readlink("/proc/self/exe", after, sizeof(after) - 1);
	if (n < 0) {
		fail("can't read /proc/self/exe");
		return 1;
	}
	after[n] = '\0';
	if (strcmp(before, after)) {
		fail("/proc/self/exe is %s, expected %s", after, before);
		return 1;
	}
	if (stat("/proc/self/exe", &st_after) ||
	    st_after.st_ino != st_before.st_ino ||
	    st_after.st_dev != st_before.st_dev) {
		fail("/proc/self/exe is another file named %s", after);
		return 1;
	}
	pass();
	return 0;
}
