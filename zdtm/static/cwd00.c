// SPDX-License-Identifier: GPL-2.0
/* cwd00 - the working directory stays the same directory. */
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *dirname = "cwd00.test";
TEST_OPTION(dirname, string, "directory to change into", 0);

int main(int argc, char **argv)
{
	char before[PATH_MAX], after[PATH_MAX], top[PATH_MAX];
	struct stat st_before, st_after;
	int ret = 1;

	test_init(argc, argv);

	if (!getcwd(top, sizeof(top))) {
		pr_perror("getcwd");
		return 1;
	}
	if (mkdir(dirname, 0700) || chdir(dirname)) {
		pr_perror("can't make and enter %s", dirname);
		return 1;
	}
	if (!getcwd(before, sizeof(before)) || stat(".", &st_before)) {
		pr_perror("getcwd");
		goto out;
	}

	test_daemon();
	test_waitsig();

	if (!getcwd(after, sizeof(after))) {
		fail("getcwd after restore");
		goto out;
	}
	if (strcmp(before, after)) {
		fail("cwd is %s, expected %s", after, before);
		goto out;
	}
	if (stat(".", &st_after) || st_after.st_ino != st_before.st_ino ||
	    st_after.st_dev != st_before.st_dev) {
		fail("cwd %s is another directory of the same name", after);
		goto out;
	}
	pass();
	ret = 0;
out:
	/* By absolute path: after a failure the cwd may be anywhere. */
	if (chdir(top) || rmdir(dirname))
		pr_perror("can't remove %s/%s", top, dirname);
	return ret;
}
