// SPDX-License-Identifier: GPL-2.0
/*
 * eventfs00 - eventfds come back with their counters, their mode and their
 * flags, and one shared by two processes stays one.
 *
 * Three eventfds, none read before the checkpoint:
 *  - "count": a counter wider than 32 bits (eventfd(2) takes only 32 as
 *    its initial value), O_NONBLOCK: one read() must return it whole,
 *    the next one fail with EAGAIN;
 *  - "sem": EFD_SEMAPHORE | EFD_NONBLOCK, counter 7: seven reads must
 *    return 1 each, the eighth fail with EAGAIN (a counting eventfd would
 *    return 7 at once);
 *  - "shared": blocking, counter 5, inherited by a child over fork().
 *    After the restore the test adds 10 through its fd; the child's read
 *    through its own fd must return 15 (two eventfds would give it 5).
 * /proc/self/fdinfo must say the same counters and mode as before.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#define COUNT	0x1234567890abcdefULL
#define SEM	7
#define SHARED	5
#define ADDED	10

struct shared {
	int ready;
	int go;
};

/* The eventfd lines of an fd's fdinfo (the id changes, left out). */
static int efd_state(int fd, char *out, size_t len)
{
	char path[64], line[256];
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("open %s", path);
		return -1;
	}
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) && used < len) {
		if (strncmp(line, "eventfd-", 8) ||
		    !strncmp(line, "eventfd-id:", 11))
			continue;
		line[strcspn(line, "\n")] = '\0';
		used += snprintf(out + used, len - used, "%s; ", line);
	}
	fclose(f);
	return 0;
}

static int add(int fd, uint64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v)) {
		pr_perror("write %" PRIu64 " to eventfd %d", v, fd);
		return -1;
	}
	return 0;
}

/* One read(): its value, or -1 with errno (EAGAIN: counter at 0). */
static int take(int fd, uint64_t *v)
{
	return read(fd, v, sizeof(*v)) == sizeof(*v) ? 0 : -1;
}

static int child_main(struct shared *sh, int fd)
{
	uint64_t v;

	task_set_word(&sh->ready, 1);
	task_wait_at_least(&sh->go, 1);
	if (take(fd, &v))
		return 2;
	return v == SHARED + ADDED ? 0 : 3;
}

int main(int argc, char **argv)
{
	char before[3][256], after[3][256];
	int fds[3], cnt, sem, shr, i, status;
	struct shared *sh;
	uint64_t v = 0;
	pid_t child;

	test_init(argc, argv);

	cnt = eventfd(0, EFD_NONBLOCK);
	sem = eventfd(SEM - 3, EFD_SEMAPHORE | EFD_NONBLOCK);
	shr = eventfd(SHARED, 0);
	if (cnt < 0 || sem < 0 || shr < 0) {
		pr_perror("eventfd");
		return 1;
	}
	if (add(cnt, COUNT - 1) || add(cnt, 1) || add(sem, 3))
		return 1;
	fds[0] = cnt;
	fds[1] = sem;
	fds[2] = shr;

	sh = task_fork_shared(&child);
	if (!sh)
		return 1;
	if (child == 0)
		exit(child_main(sh, shr));
	task_wait_at_least(&sh->ready, 1);
	for (i = 0; i < 3; i++)
		if (efd_state(fds[i], before[i], sizeof(before[i])))
			goto err;

	test_daemon();
	test_waitsig();

	for (i = 0; i < 3; i++) {
		if (efd_state(fds[i], after[i], sizeof(after[i])))
			goto err;
		if (strcmp(before[i], after[i])) {
			fail("eventfd %d was \"%s\", is \"%s\"", fds[i],
			     before[i], after[i]);
			goto err;
		}
	}

	if (take(cnt, &v) || v != COUNT) {
		fail("counter read %#" PRIx64 ", expected %#llx", v, COUNT);
		goto err;
	}
	if (!take(cnt, &v) || errno != EAGAIN) {
		fail("counter not emptied by one read (read %#" PRIx64 ")", v);
		goto err;
	}

	for (i = 0; i < SEM; i++) {
		if (take(sem, &v) || v != 1) {
			fail("semaphore read %d gave %" PRIu64 ", expected 1",
			     i + 1, v);
			goto err;
		}
	}
	if (!take(sem, &v) || errno != EAGAIN) {
		fail("semaphore still readable after %d reads", SEM);
		goto err;
	}

	if (add(shr, ADDED))
		goto err;
	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child did not read %d from the shared eventfd "
		     "(status %#x)", SHARED + ADDED, status);
		return 1;
	}
	pass();
	return 0;
err:
	task_kill_child(child);
	return 1;
}
