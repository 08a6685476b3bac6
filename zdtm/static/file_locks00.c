// SPDX-License-Identifier: GPL-2.0
/*
 * file_locks00 - file locks survive a checkpoint: POSIX byte-range locks
 * (a write lock on [0, 100) and a read lock from 200 to the end of file
 * "a"), an exclusive flock() on file "b" held through a description the
 * test shares with its child, and an OFD read lock on [10, 20) of file
 * "c".
 *
 * After the restore a new process (forked then, so it holds none of the
 * locks) probes them: F_GETLK must report each POSIX lock with the test's
 * pid and type and [100, 200) of "a" must be free; flock() on a new
 * description of "b" must fail; F_OFD_GETLK must report the read lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static int getlk(int fd, int cmd, short type, off_t start, off_t len,
		 struct flock *out)
{
	out->l_type = type;
	out->l_whence = SEEK_SET;
	out->l_start = start;
	out->l_len = len;
	out->l_pid = 0;
	return fcntl(fd, cmd, out);
}

/* In a new process: 0 if every lock is seen as it was set. */
static int probe(pid_t owner)
{
	struct flock fl;
	int a, b, c;

	a = open("file_locks00.a", O_RDWR);
	b = open("file_locks00.b", O_RDWR);
	c = open("file_locks00.c", O_RDWR);
	if (a < 0 || b < 0 || c < 0)
		return 10;
	if (getlk(a, F_GETLK, F_RDLCK, 50, 1, &fl) || fl.l_type != F_WRLCK ||
	    fl.l_pid != owner || fl.l_start != 0 || fl.l_len != 100)
		return 11;
	if (getlk(a, F_GETLK, F_WRLCK, 5000, 1, &fl) ||
	    fl.l_type != F_RDLCK || fl.l_pid != owner || fl.l_start != 200 ||
	    fl.l_len != 0)
		return 12;
	if (getlk(a, F_GETLK, F_WRLCK, 100, 100, &fl) || fl.l_type != F_UNLCK)
		return 13;
	if (flock(b, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK)
		return 14;
	if (getlk(c, F_OFD_GETLK, F_WRLCK, 0, 0, &fl) ||
	    fl.l_type != F_RDLCK || fl.l_start != 10 || fl.l_len != 10 ||
	    fl.l_pid != -1)
		return 15;
	return 0;
}

static int lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;

	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	fl.l_pid = 0;
	return fcntl(fd, cmd, &fl);
}

int main(int argc, char **argv)
{
	volatile int *words;
	int a, b, c, status;
	pid_t child, prober;

	test_init(argc, argv);
	words = task_shared_alloc(4096);
	a = open("file_locks00.a", O_RDWR | O_CREAT | O_TRUNC, 0644);
	b = open("file_locks00.b", O_RDWR | O_CREAT | O_TRUNC, 0644);
	c = open("file_locks00.c", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!words || a < 0 || b < 0 || c < 0) {
		pr_perror("open");
		return 1;
	}
	if (lock(a, F_SETLK, F_WRLCK, 0, 100) ||
	    lock(a, F_SETLK, F_RDLCK, 200, 0) ||
	    flock(b, LOCK_EX | LOCK_NB) ||
	    lock(c, F_OFD_SETLK, F_RDLCK, 10, 10)) {
		pr_perror("lock");
		return 1;
	}
	/* The child shares b's description (and so its flock). */
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		task_wait_at_least(&words[0], 1);
		exit(0);
	}

	test_daemon();
	test_waitsig();

	prober = fork();
	if (prober == 0)
		exit(probe(getppid()));
	if (prober < 0 || task_reap_ms(prober, &status, 10000)) {
		fail("cannot probe the locks");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&words[0], 1);
	task_reap_ms(child, NULL, 10000);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("a lock differs from the one set (probe %#x: 11/12 POSIX, "
		     "13 a free range, 14 flock, 15 OFD)", WEXITSTATUS(status));
		return 1;
	}
	pass();
	return 0;
}
