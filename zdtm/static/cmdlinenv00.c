// SPDX-License-Identifier: GPL-2.0
/*
 * cmdlinenv00 - the argument and environment areas survive: the kernel
 * still knows where they are (/proc/self/cmdline and /proc/self/environ
 * read them through mm->arg_start..arg_end and env_start..env_end), and
 * argv and environ still point into them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *arg1, *arg2, *arg3;
TEST_OPTION(arg1, string, "a first argument", 1);
TEST_OPTION(arg2, string, "a second argument", 1);
TEST_OPTION(arg3, string, "a third argument", 1);

#define AREA_MAX 65536

static ssize_t read_whole(const char *path, char *buf)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + total, AREA_MAX - total)) > 0)
		total += n;
	close(fd);
	return n < 0 ? -1 : total;
}

/* The fields 48-51 of /proc/self/stat: arg_start, arg_end, env_*. */
static int read_areas(unsigned long areas[4])
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY), field;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold spaces */
	if (!p)
		return -1;
	for (field = 2; field < 48 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lu %lu %lu %lu", &areas[0], &areas[1],
			 &areas[2], &areas[3]) != 4)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static char cmd_before[AREA_MAX], env_before[AREA_MAX];
	static char cmd_after[AREA_MAX], env_after[AREA_MAX];
	unsigned long areas_before[4], areas_after[4];
	ssize_t cmd_len, env_len;
	char *opts[3];
	int i;

	test_init(argc, argv);
	opts[0] = arg1;
	opts[1] = arg2;
	opts[2] = arg3;

	cmd_len = read_whole("/proc/self/cmdline", cmd_before);
	env_len = read_whole("/proc/self/environ", env_before);
	if (cmd_len <= 0 || env_len < 0 || read_areas(areas_before)) {
		pr_perror("can't read the argument and environment areas");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (read_areas(areas_after) ||
	    memcmp(areas_before, areas_after, sizeof(areas_before))) {
		fail("arg/env areas moved: %lx-%lx %lx-%lx -> %lx-%lx %lx-%lx",
		     areas_before[0], areas_before[1], areas_before[2],
		     areas_before[3], areas_after[0], areas_after[1],
		     areas_after[2], areas_after[3]);
		return 1;
	}
	if (read_whole("/proc/self/cmdline", cmd_after) != cmd_len ||
	    memcmp(cmd_before, cmd_after, cmd_len)) {
		fail("/proc/self/cmdline changed");
		return 1;
	}
	if (read_whole("/proc/self/environ", env_after) != env_len ||
	    memcmp(env_before, env_after, env_len)) {
		fail("/proc/self/environ changed");
		return 1;
	}
	for (i = 0; i < argc; i++) {
		unsigned long a = (unsigned long)argv[i];

		if (a < areas_after[0] || a >= areas_after[1]) {
			fail("argv[%d] %p is outside the argument area", i,
			     argv[i]);
			return 1;
		}
	}
	for (i = 0; i < 3; i++) {
		unsigned long a = (unsigned long)opts[i];

		if (a < areas_after[0] || a >= areas_after[1] ||
		    !memmem(cmd_after, cmd_len, opts[i], strlen(opts[i]))) {
			fail("option value %s lost from the argument area",
			     opts[i]);
			return 1;
		}
	}
	if (environ[0] && ((unsigned long)environ[0] < areas_after[2] ||
			   (unsigned long)environ[0] >= areas_after[3])) {
		fail("environ[0] %p is outside the environment area",
		     environ[0]);
		return 1;
	}
	pass();
	return 0;
}
