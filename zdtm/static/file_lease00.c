// SPDX-License-Identifier: GPL-2.0
/*
 * file_lease00 - file leases survive a checkpoint: a read lease on file
 * "r" and a write lease on file "w" (F_SETLEASE).
 *
 * After the restore F_GETLEASE must return F_RDLCK and F_WRLCK, and a new
 * process opening "w" for writing (O_NONBLOCK) must get EWOULDBLOCK while
 * the test gets SIGIO, the lease-break signal; the test then gives the
 * lease up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static volatile sig_atomic_t got_sigio;

static void on_sigio(int sig)
{
	got_sigio++;
}

static int make_file(const char *name)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, "lease\n", 6) != 6 || close(fd))
		return -1;
	return 0;
}

/* In a new process: 0 if opening "w" for writing starts a lease break. */
static int breaker(void)
{
	int fd = open("file_lease00.w", O_RDWR | O_NONBLOCK);

	if (fd >= 0)
		return 20;	/* no lease: the open went through */
	return errno == EWOULDBLOCK ? 0 : 21;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int r, w, lr, lw, status, i;
	pid_t child;

	test_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigio;
	if (sigaction(SIGIO, &sa, NULL) || make_file("file_lease00.r") ||
	    make_file("file_lease00.w")) {
		pr_perror("setup");
		return 1;
	}
	r = open("file_lease00.r", O_RDONLY);
	w = open("file_lease00.w", O_RDONLY);
	if (r < 0 || w < 0 || fcntl(r, F_SETLEASE, F_RDLCK) ||
	    fcntl(w, F_SETLEASE, F_WRLCK)) {
		pr_perror("lease");
		return 1;
	}

	test_daemon();
	test_waitsig();

	lr = fcntl(r, F_GETLEASE);
	lw = fcntl(w, F_GETLEASE);
	if (lr != F_RDLCK || lw != F_WRLCK) {
		fail("leases %d (read) and %d (write), expected %d and %d",
		     lr, lw, F_RDLCK, F_WRLCK);
		return 1;
	}
	child = fork();
	if (child == 0)
		exit(breaker());
	if (child < 0 || task_reap_ms(child, &status, 10000)) {
		fail("cannot run the lease breaker");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("opening the write-leased file for writing did not start "
		     "a lease break (breaker %#x)", status);
		return 1;
	}
	for (i = 0; i < 500 && !got_sigio; i++)
		usleep(10000);
	if (!got_sigio) {
		fail("no SIGIO for the write lease being broken");
		return 1;
	}
	if (fcntl(w, F_SETLEASE, F_UNLCK) || fcntl(r, F_SETLEASE, F_UNLCK)) {
		pr_perror("unlease");
		return 1;
	}
	pass();
	return 0;
}
