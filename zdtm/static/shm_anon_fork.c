// SPDX-License-Identifier: GPL-2.0
/*
 * shm_anon_fork - shared memory inherited across fork() stays shared
 * after a checkpoint: a MAP_SHARED|MAP_ANONYMOUS mapping and a MAP_SHARED
 * mapping of /dev/zero (each a shmem object of its own).
 *
 * Before the checkpoint the test writes the first half of each mapping
 * and its child the second.  After the restore each task checks that it
 * sees both halves; then the test overwrites its half of each, the child
 * must see that and overwrite its own half, and the test must see the
 * child's new contents.  The /dev/zero fd is closed before the checkpoint.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"
#include "tasks.h"
#include "cow.h"

#define NPAGES 64
#define HALF (NPAGES / 2)

struct shared {
	int ready;
	int parent_wrote;
	int child_wrote;
};

static uint8_t *areas[2];
static const char *area_names[2] = { "MAP_ANONYMOUS", "/dev/zero" };

/* Generation of a half: who wrote it, and when (odd: before, +2 after). */
static unsigned int gen(int area, int half, int after)
{
	return 1 + area * 10 + half * 4 + (after ? 2 : 0);
}

static void write_half(int half, int after)
{
	unsigned long i;
	int a;

	for (a = 0; a < 2; a++)
		for (i = half * HALF; i < (half + 1) * HALF; i++)
			cow_fill(areas[a], i, gen(a, half, after));
}

static int check_half(int half, int after, const char *who)
{
	char why[256];
	unsigned long i;
	int a;

	for (a = 0; a < 2; a++)
		for (i = half * HALF; i < (half + 1) * HALF; i++)
			if (cow_check(areas[a], i, gen(a, half, after), why,
				      sizeof(why))) {
				fail("%s: %s: %s", who, area_names[a], why);
				return -1;
			}
	return 0;
}

static int child_main(struct shared *sh)
{
	write_half(1, 0);
	task_set_word(&sh->ready, 1);
	test_waitsig();
	/* The parent wrote its half anew before waking us. */
	if (check_half(0, 1, "child") || check_half(1, 0, "child"))
		return 1;
	write_half(1, 1);
	task_set_word(&sh->child_wrote, 1);
	return 0;
}

int main(int argc, char **argv)
{
	size_t len = NPAGES * getpagesize();
	struct shared *sh;
	pid_t child;
	int fd;

	test_init(argc, argv);
	sh = task_shared_alloc(4096);
	areas[0] = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open("/dev/zero", O_RDWR);
	if (fd < 0) {
		pr_perror("open /dev/zero");
		return 1;
	}
	areas[1] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (!sh || areas[0] == MAP_FAILED || areas[1] == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0)
		exit(child_main(sh));

	write_half(0, 0);
	if (task_wait_at_least_ms(&sh->ready, 1, 10000)) {
		pr_err("the child did not get ready\n");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_half(0, 0, "parent") || check_half(1, 0, "parent")) {
		task_stop_child(child, "child");
		return 1;
	}
	write_half(0, 1);
	if (task_stop_child(child, "child"))
		return 1;
	if (!sh->child_wrote) {
		fail("the child did not write after the restore");
		return 1;
	}
	if (check_half(1, 1, "parent, after the child"))
		return 1;
	pass();
	return 0;
}
